import { ManualClock } from '@lifeline/core';
import { describe, expect, it, vi } from 'vitest';
import { BreakerGroup } from './breaker-group.ts';

describe('BreakerGroup', () => {
  it('makes one breaker per key on first use, with shared options, and forwards transitions', () => {
    const group = new BreakerGroup({ clock: new ManualClock(), consecutiveFailures: 1 });
    const a = group.get('10.0.0.1:80');
    expect(group.get('10.0.0.1:80')).toBe(a);
    const b = group.get('10.0.0.2:80');
    const seen: string[] = [];
    group.onStateChange(({ name, to }) => seen.push(`${name} ${to}`));
    b.failure(b.acquire());
    expect(seen).toEqual(['10.0.0.2:80 open']);
    expect(group.snapshot().map((s) => [s.name, s.state])).toEqual([['10.0.0.1:80', 'closed'], ['10.0.0.2:80', 'open']]);
    group.close();
  });

  it('is bounded: past maxBreakers the oldest closed breaker goes, open ones stay', () => {
    const group = new BreakerGroup({ clock: new ManualClock(), maxBreakers: 3, consecutiveFailures: 1 });
    const first = group.get('a');
    first.failure(first.acquire()); // open: keeps its verdict
    group.get('b');
    group.get('c');
    group.get('d');
    expect(group.size).toBe(3);
    expect(group.peek('a')).toBe(first);
    expect(group.peek('b')).toBeUndefined();
    group.close();
  });

  it('10,000 keys mean one timer: breakers have none, the group has one sweep', () => {
    const clock = new ManualClock();
    const intervals = vi.spyOn(globalThis, 'setInterval');
    const timeouts = vi.spyOn(globalThis, 'setTimeout');
    try {
      const group = new BreakerGroup({ clock, idleMs: 1_000, consecutiveFailures: 1 });
      for (let i = 0; i < 10_000; i++) {
        const breaker = group.get(`key-${i}`);
        breaker.failure(breaker.acquire()); // each one opens, with a break to time
      }
      expect(intervals).toHaveBeenCalledTimes(1);
      expect(timeouts).not.toHaveBeenCalled();
      expect(group.sweeping).toBe(true);
      group.close();
      expect(group.sweeping).toBe(false);
    } finally {
      intervals.mockRestore();
      timeouts.mockRestore();
    }
  });

  it('sweeps closed breakers idle past idleMs; open ones stay', () => {
    const clock = new ManualClock();
    const group = new BreakerGroup({ clock, idleMs: 1_000, consecutiveFailures: 1 });
    for (let i = 0; i < 100; i++) group.get(`key-${i}`);
    const open = group.get('open');
    open.failure(open.acquire());
    clock.advance(500);
    group.get('key-7');
    clock.advance(600);
    group.sweep();
    expect(group.size).toBe(2);
    expect(group.peek('key-7')).toBeDefined();
    expect(group.peek('open')).toBe(open);
    group.close();
  });

  it('validates the shared options at construction', () => {
    expect(() => new BreakerGroup({ failureRatio: 7 })).toThrow(/`breaker.failureRatio`/);
    expect(() => new BreakerGroup({ maxBreakers: 0 })).toThrow(/`breakers.maxBreakers` must be >= 1/);
  });
});
