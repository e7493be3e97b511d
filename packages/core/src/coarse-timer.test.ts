import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.ts';
import { CoarseTimer, timerFields, type TimerTask } from './coarse-timer.ts';

function task(log: string[], name: string): TimerTask {
  return { ...timerFields(), onTimer: () => log.push(name) };
}

describe('CoarseTimer', () => {
  it('fires each task once, on the first tick at or after its time', () => {
    const clock = new ManualClock(0);
    const timer = new CoarseTimer({ clock, resolution: 10 });
    const log: string[] = [];
    timer.schedule(task(log, 'a'), 25);
    timer.schedule(task(log, 'b'), 5);
    timer.schedule(task(log, 'far'), 60_000); // many revolutions away
    expect(timer.size).toBe(3);
    clock.advance(10);
    timer.runDue();
    expect(log).toEqual(['b']);
    clock.advance(10);
    timer.runDue();
    expect(log).toEqual(['b']);
    clock.advance(10);
    timer.runDue();
    expect(log).toEqual(['b', 'a']);
    for (let t = 0; t < 6_000; t++) {
      clock.advance(10);
      timer.runDue();
    }
    expect(log).toEqual(['b', 'a', 'far']);
    expect(timer.size).toBe(0);
    timer.close();
  });

  it('cancel and reschedule are O(1) and exact', () => {
    const clock = new ManualClock(0);
    const timer = new CoarseTimer({ clock });
    const log: string[] = [];
    const tasks = Array.from({ length: 5 }, (_, i) => task(log, `t${i}`));
    for (const t of tasks) timer.schedule(t, 50);
    timer.cancel(tasks[0]!);
    timer.cancel(tasks[2]!);
    timer.cancel(tasks[4]!);
    timer.cancel(tasks[4]!); // twice is harmless
    timer.schedule(tasks[1]!, 500); // moved later
    clock.advance(60);
    timer.runDue();
    expect(log).toEqual(['t3']);
    clock.advance(500);
    timer.runDue();
    expect(log).toEqual(['t3', 't1']);
    expect(timer.size).toBe(0);
    timer.close();
  });

  it('catches up after a blocked event loop (many ticks at once)', () => {
    const clock = new ManualClock(0);
    const timer = new CoarseTimer({ clock, resolution: 10 });
    const log: string[] = [];
    timer.schedule(task(log, 'x'), 100);
    timer.schedule(task(log, 'y'), 9_000);
    clock.advance(20_000);
    timer.runDue();
    expect(log.sort()).toEqual(['x', 'y']);
    timer.close();
  });

  it('a task due in the past fires on the next tick, even when the timer was idle', () => {
    const clock = new ManualClock(0);
    const timer = new CoarseTimer({ clock, resolution: 10, idleStopMs: 10 });
    const log: string[] = [];
    clock.advance(100_000);
    timer.schedule(task(log, 'late'), 5);
    clock.advance(10);
    timer.runDue();
    expect(log).toEqual(['late']);
    timer.close();
  });

  it('a task may cancel another from inside onTimer', () => {
    const clock = new ManualClock(0);
    const timer = new CoarseTimer({ clock });
    const log: string[] = [];
    const second = task(log, 'second');
    const first: TimerTask = { ...timerFields(), onTimer: () => { log.push('first'); timer.cancel(second); } };
    timer.schedule(first, 10);
    timer.schedule(second, 15);
    clock.advance(20);
    timer.runDue();
    // Both were due in the same pass; a cancel from inside onTimer still wins.
    expect(log).toEqual(['first']);
    expect(timer.size).toBe(0);
    timer.close();
  });

  it('runs its interval only while needed and stops it on close', async () => {
    const timer = new CoarseTimer({ resolution: 5, idleStopMs: 20 });
    expect(timer.running).toBe(false);
    const fired = new Promise<void>((resolve) => timer.schedule({ ...timerFields(), onTimer: resolve }, performance.now() + 10));
    expect(timer.running).toBe(true);
    await fired;
    await new Promise((r) => setTimeout(r, 80));
    expect(timer.running).toBe(false);
    timer.schedule({ ...timerFields(), onTimer: () => {} }, performance.now() + 1_000);
    timer.close();
    expect(timer.running).toBe(false);
    expect(timer.size).toBe(0);
  });

  it('holds the process open exactly while a task is scheduled', () => {
    const clock = new ManualClock(0);
    const timer = new CoarseTimer({ clock, resolution: 10 });
    const log: string[] = [];
    const a = task(log, 'a');
    const b = task(log, 'b');
    expect(timer.hasRef()).toBe(false);
    timer.schedule(a, 50);
    expect(timer.hasRef()).toBe(true);
    timer.schedule(b, 100);
    timer.schedule(a, 200); // moved: still one of two
    timer.cancel(b);
    expect(timer.hasRef()).toBe(true);
    timer.schedule(a, Infinity); // "never" unschedules it
    expect(timer.size).toBe(0);
    expect(timer.hasRef()).toBe(false);
    expect(timer.running).toBe(true); // still ticking until idleStopMs, but holding nothing

    timer.schedule(a, 30);
    expect(timer.hasRef()).toBe(true);
    clock.advance(40);
    timer.runDue(); // fired: nothing left to wait for
    expect(log).toEqual(['a']);
    expect(timer.hasRef()).toBe(false);

    // A task that reschedules itself from onTimer keeps the hold.
    const again: TimerTask = { ...timerFields(), onTimer: () => timer.schedule(again, clock.now() + 50) };
    timer.schedule(again, 60);
    clock.advance(30);
    timer.runDue();
    expect(timer.hasRef()).toBe(true);
    timer.close();
    expect(timer.hasRef()).toBe(false);
  });

  it('keeps a real process alive while a task is pending, and lets it go after', async () => {
    const timer = new CoarseTimer({ resolution: 5 });
    const fired = new Promise<void>((resolve) => timer.schedule({ ...timerFields(), onTimer: resolve }, performance.now() + 20));
    expect(timer.hasRef()).toBe(true);
    await fired;
    expect(timer.running).toBe(true);
    expect(timer.hasRef()).toBe(false);
    timer.close();
  });

  it('rejects a resolution below 1 ms', () => {
    expect(() => new CoarseTimer({ resolution: 0 })).toThrow(/resolution must be >= 1 ms/);
  });
});
