import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.ts';
import { Deadline } from './deadline.ts';
import { isLifelineError } from './errors.ts';

describe('Deadline', () => {
  it('counts down on its clock and expires exactly at its time', () => {
    const clock = new ManualClock(1_000);
    const deadline = Deadline.after(500, clock);
    expect(deadline.remaining()).toBe(500);
    clock.advance(499);
    expect(deadline.expired).toBe(false);
    expect(deadline.remaining()).toBe(1);
    clock.advance(1);
    expect(deadline.expired).toBe(true);
    clock.advance(100);
    expect(deadline.remaining()).toBe(0);
  });

  it('converts a wall-clock time once, at creation', () => {
    const clock = new ManualClock(0);
    const deadline = Deadline.at(Date.now() + 2_000, clock);
    expect(deadline.remaining()).toBeGreaterThan(1_900);
    expect(deadline.remaining()).toBeLessThanOrEqual(2_000);
    expect(Deadline.at(new Date(Date.now() - 5_000), clock).expired).toBe(true);
  });

  it('min and earliest return the earlier instance without allocating', () => {
    const clock = new ManualClock();
    const a = Deadline.after(100, clock);
    const b = Deadline.after(200, clock);
    expect(a.min(b)).toBe(a);
    expect(b.min(a)).toBe(a);
    expect(b.min(undefined)).toBe(b);
    expect(Deadline.earliest(undefined, b)).toBe(b);
    expect(Deadline.earliest(b, a)).toBe(a);
    expect(Deadline.earliest(undefined, undefined)).toBeUndefined();
  });

  it('Infinity is a deadline that never expires', () => {
    const clock = new ManualClock();
    const never = Deadline.after(Infinity, clock);
    clock.advance(1e12);
    expect(never.expired).toBe(false);
    expect(never.remaining()).toBe(Infinity);
  });

  it.each([-1, Number.NaN, '5' as unknown as number])('rejects %s as a timeout with a clear message', (bad) => {
    expect(() => Deadline.after(bad)).toThrow(/Deadline.after: ms must be a number >= 0/);
  });

  it('creates a signal only when asked, once, aborting with DEADLINE_EXCEEDED', async () => {
    const deadline = Deadline.after(20);
    const signal = deadline.signal();
    expect(deadline.signal()).toBe(signal);
    expect(signal.aborted).toBe(false);
    await new Promise((resolve) => signal.addEventListener('abort', resolve));
    expect(isLifelineError(signal.reason, 'DEADLINE_EXCEEDED')).toBe(true);
    // An expected outcome: built without capturing stack frames (only the message line).
    expect((signal.reason as Error).stack?.split('\n')).toHaveLength(1);
  });

  it("a signal's timer never holds the process open: nothing would clear it when the work ends early", () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((type) => type === 'Timeout').length;
    const before = timers();
    const signal = Deadline.after(60_000).signal();
    expect(signal.aborted).toBe(false);
    expect(timers()).toBe(before);
  });

  it('an already expired deadline gives an aborted signal', () => {
    const clock = new ManualClock();
    const deadline = Deadline.after(0, clock);
    expect(deadline.signal().aborted).toBe(true);
  });
});
