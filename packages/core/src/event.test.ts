import { describe, expect, it } from 'vitest';
import { EventEmitter } from './event.ts';

describe('EventEmitter', () => {
  it('delivers to every listener until disposed', () => {
    const emitter = new EventEmitter<number>();
    const seen: number[] = [];
    expect(emitter.hasListeners).toBe(false);
    const a = emitter.event((n) => seen.push(n));
    emitter.event((n) => seen.push(n * 10));
    expect(emitter.hasListeners).toBe(true);
    emitter.emit(1);
    a.dispose();
    emitter.emit(2);
    expect(seen).toEqual([1, 10, 20]);
  });

  it('a throwing listener neither stops the others nor the emitter', async () => {
    const emitter = new EventEmitter<string>();
    const seen: string[] = [];
    const thrown: unknown[] = [];
    const onUncaught = (error: unknown): void => void thrown.push(error);
    process.prependListener('uncaughtException', onUncaught);
    try {
      emitter.event(() => { throw new Error('listener bug'); });
      emitter.event((s) => seen.push(s));
      expect(() => emitter.emit('x')).not.toThrow();
      expect(seen).toEqual(['x']);
      await new Promise((r) => setTimeout(r, 0));
    } finally {
      process.removeListener('uncaughtException', onUncaught);
    }
    expect(thrown).toHaveLength(1);
  });
});
