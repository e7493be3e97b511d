import { CoarseTimer, ManualClock, type Priority } from '@lifeline/core';
import { describe, expect, it } from 'vitest';
import { Bulkhead, type BulkheadRejectedError } from './bulkhead.ts';

function setup(maxConcurrent: number, maxQueue: number) {
  const clock = new ManualClock(0);
  const bulkhead = new Bulkhead({ maxConcurrent, maxQueue, clock, timer: new CoarseTimer({ clock }) });
  return { clock, bulkhead };
}

/** Outcomes in the order they happen: `name: slot` or `name: reason`. */
function recorder(bulkhead: Bulkhead) {
  const outcomes: string[] = [];
  const wait = (name: string, priority?: Priority): Promise<void> =>
    bulkhead.acquire({ priority }).then(
      () => void outcomes.push(`${name}: slot`),
      (error: BulkheadRejectedError) => void outcomes.push(`${name}: ${error.reason}`),
    );
  return { outcomes, wait };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Bulkhead priorities', () => {
  it('serves critical waiters first, then normal, then sheddable, each in arrival order', async () => {
    const { bulkhead } = setup(1, 10);
    expect(bulkhead.tryAcquire()).toBe(true);
    const { outcomes, wait } = recorder(bulkhead);
    const waits = [wait('s1', 'sheddable'), wait('n1'), wait('c1', 'critical'), wait('n2', 'normal'), wait('c2', 'critical'), wait('s2', 'sheddable')];
    for (let i = 0; i < waits.length; i++) {
      bulkhead.release();
      await settle();
    }
    await Promise.all(waits);
    expect(outcomes).toEqual(['c1: slot', 'c2: slot', 'n1: slot', 'n2: slot', 's1: slot', 's2: slot']);
  });

  it('when the queue is full, a more critical call displaces the newest least critical waiter; an equal or lower one is refused', async () => {
    const { bulkhead } = setup(1, 3);
    expect(bulkhead.tryAcquire()).toBe(true);
    const { outcomes, wait } = recorder(bulkhead);
    const waits = [wait('s1', 'sheddable'), wait('s2', 'sheddable'), wait('n1')];
    waits.push(wait('s3', 'sheddable')); // full, nothing less critical than it: refused
    waits.push(wait('n2')); // displaces s2, the newest sheddable
    waits.push(wait('c1', 'critical')); // displaces s1
    waits.push(wait('n3')); // only normal and critical left: refused
    await settle();
    expect(outcomes).toEqual(['s3: queue-full', 's2: queue-full', 's1: queue-full', 'n3: queue-full']);
    expect(bulkhead.snapshot()).toMatchObject({ queued: 3, rejected: { 'queue-full': 4 } });
    for (let i = 0; i < 3; i++) {
      bulkhead.release();
      await settle();
    }
    await Promise.all(waits);
    expect(outcomes.slice(4)).toEqual(['c1: slot', 'n1: slot', 'n2: slot']);
  });

  it('refuses a priority it does not know, naming it', async () => {
    const { bulkhead } = setup(1, 1);
    bulkhead.tryAcquire();
    await expect(bulkhead.acquire({ priority: 'urgent' as Priority })).rejects.toThrow(
      `bulkhead: priority must be 'critical', 'normal' or 'sheddable', got "urgent"`,
    );
  });

  it('under 3× overload with 10 % critical calls, admits ≥ 99 % of the critical ones', async () => {
    // A seeded simulation on a manual clock: capacity 10 calls in flight, each held 100 ms
    // (100 calls/s); 300 calls/s arrive, one in ten critical, for 20 simulated seconds.
    const { clock, bulkhead } = setup(10, 20);
    let seed = 42;
    const random = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
    const releases: number[] = [];
    const counts = { critical: { offered: 0, admitted: 0 }, normal: { offered: 0, admitted: 0 } };
    const admit = (kind: 'critical' | 'normal'): void => {
      counts[kind].admitted++;
      releases.push(clock.now() + 100);
    };
    const pending: Promise<void>[] = [];
    for (let t = 0; t < 20_000; t += 10) {
      if (t > 0) clock.advance(10);
      while (releases.length > 0 && releases[0]! <= t) {
        releases.shift();
        bulkhead.release();
      }
      await settle();
      for (let arrivals = 0; arrivals < 3; arrivals++) {
        const kind = random() < 0.1 ? 'critical' : 'normal';
        counts[kind].offered++;
        if (bulkhead.tryAcquire()) admit(kind);
        else pending.push(bulkhead.acquire({ priority: kind }).then(() => admit(kind), () => {}));
      }
      releases.sort((a, b) => a - b);
    }
    bulkhead.close();
    await Promise.all(pending);
    const critical = counts.critical.admitted / counts.critical.offered;
    const normal = counts.normal.admitted / counts.normal.offered;
    expect(counts.critical.offered).toBeGreaterThan(500);
    expect(critical).toBeGreaterThanOrEqual(0.99);
    // The overload is real: most normal calls are shed.
    expect(normal).toBeLessThan(0.4);
  });
});
