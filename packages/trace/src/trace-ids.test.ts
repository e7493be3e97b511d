import { describe, expect, it } from 'vitest';
import { newSpanId, newTraceId } from './trace-ids.ts';

describe('newTraceId / newSpanId', () => {
  it('are lowercase hex of the W3C lengths, never all zeros, across many pool refills', () => {
    // 5,000 of each draw 120,000 bytes: the 8 KiB pool is refilled about fifteen times.
    for (let i = 0; i < 5_000; i++) {
      expect(newTraceId()).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
      expect(newSpanId()).toMatch(/^(?!0{16})[0-9a-f]{16}$/);
    }
  });

  it('do not repeat', () => {
    const traceIds = new Set(Array.from({ length: 50_000 }, newTraceId));
    const spanIds = new Set(Array.from({ length: 50_000 }, newSpanId));
    expect(traceIds.size).toBe(50_000);
    expect(spanIds.size).toBe(50_000);
  });

  it('are random in every byte, not a per-process prefix and a counter', () => {
    // Consecutive ids share no leading half (a prefix-and-counter id would share all of it),
    // and every hex digit shows up at the first and at the last position.
    let previous = newTraceId();
    const first = new Set<string>();
    const last = new Set<string>();
    for (let i = 0; i < 2_000; i++) {
      const id = newTraceId();
      expect(id.slice(0, 16)).not.toBe(previous.slice(0, 16));
      first.add(id[0]!);
      last.add(id[31]!);
      previous = id;
    }
    expect(first.size).toBe(16);
    expect(last.size).toBe(16);
  });
});
