import { CircuitBreaker } from '@lifeline/breaker';
import { ManualClock } from '@lifeline/core';
import { describe, expect, it } from 'vitest';
import type { PickContext } from './balancer.ts';
import { Endpoint } from './endpoint.ts';
import { P2CBalancer } from './p2c-balancer.ts';

const clock = new ManualClock(10_000);

function endpoints(n: number): Endpoint[] {
  return Array.from({ length: n }, (_, i) => {
    const instance = { id: `e${i}`, host: '127.0.0.1', port: 4001 + i, zone: undefined, metadata: {} };
    return new Endpoint(instance, new CircuitBreaker({ clock }), 'http');
  });
}

/** Accepts every endpoint but those in `refused`; samples older than 10 s are stale. */
function context(refused: ReadonlySet<Endpoint> = new Set()): PickContext {
  return {
    accepts: (e) => !refused.has(e),
    get staleBefore() {
      return clock.now() - 10_000;
    },
  };
}

function tally(balancer: P2CBalancer, list: Endpoint[], picks: number, ctx = context()): number[] {
  const counts = list.map(() => 0);
  for (let i = 0; i < picks; i++) {
    const e = balancer.pick(list, ctx);
    if (e !== undefined) counts[list.indexOf(e)]!++;
  }
  return counts;
}

describe('P2CBalancer', () => {
  it('draws the same sequence from the same seed, and spreads evenly over equal endpoints', () => {
    const list = endpoints(5);
    const a = tally(new P2CBalancer({ seed: 7 }), list, 5_000);
    expect(tally(new P2CBalancer({ seed: 7 }), list, 5_000)).toEqual(a);
    for (const n of a) expect(n).toBeGreaterThan(800);
  });

  it('sends each attempt to the lower latency × (in flight + 1)', () => {
    const [fast, slow] = endpoints(2) as [Endpoint, Endpoint];
    fast.observe(10, clock.now(), 10_000);
    slow.observe(40, clock.now(), 10_000);
    const p2c = new P2CBalancer({ seed: 1 });
    expect(tally(p2c, [fast, slow], 100)).toEqual([100, 0]);
    fast.inFlight = 4; // 10 ms × 5 = 50 > 40 ms × 1: now the slow one is the shorter wait
    expect(tally(p2c, [fast, slow], 100)).toEqual([0, 100]);
  });

  it('lets an unmeasured endpoint take one request at a time until it answers', () => {
    const [measured, fresh] = endpoints(2) as [Endpoint, Endpoint];
    measured.observe(5, clock.now(), 10_000);
    const p2c = new P2CBalancer({ seed: 3 });
    expect(tally(p2c, [measured, fresh], 20)).toEqual([0, 20]); // idle and unmeasured: worth trying
    fresh.inFlight = 1;
    expect(tally(p2c, [measured, fresh], 20)).toEqual([20, 0]); // one request out, no answer yet: wait for it
  });

  it('a fast failure never makes an endpoint win: a refusing endpoint with nothing in flight loses to a loaded healthy one', () => {
    const [healthy, refusing] = endpoints(2) as [Endpoint, Endpoint];
    healthy.observe(20, clock.now(), 10_000);
    healthy.inFlight = 30; // 20 ms × 31 = 620 ms
    refusing.penalize(0.2, clock.now(), 1_600); // refused in 0.2 ms, nothing in flight
    expect(tally(new P2CBalancer({ seed: 5 }), [healthy, refusing], 200)).toEqual([200, 0]);
  });

  it('a latency sample older than the decay no longer counts: the endpoint is tried again', () => {
    const [a, b] = endpoints(2) as [Endpoint, Endpoint];
    a.observe(5, clock.now(), 10_000);
    b.penalize(1, clock.now(), 1_600);
    const p2c = new P2CBalancer({ seed: 9 });
    expect(tally(p2c, [a, b], 50)).toEqual([50, 0]);
    clock.advance(10_001);
    a.observe(5, clock.now(), 10_000);
    expect(tally(p2c, [a, b], 50)).toEqual([0, 50]);
  });

  it('takes the one accepted endpoint of a draw, scans when neither is, and finds nothing when none is', () => {
    const list = endpoints(6);
    const p2c = new P2CBalancer({ seed: 11 });
    const refused = new Set(list.slice(0, 5));
    expect(tally(p2c, list, 300, context(refused))).toEqual([0, 0, 0, 0, 0, 300]);
    expect(p2c.pick(list, context(new Set(list)))).toBeUndefined();
    expect(p2c.pick([], context())).toBeUndefined();
    expect(p2c.pick(list.slice(0, 1), context(new Set(list.slice(0, 1))))).toBeUndefined();
  });

  it('rejects a bad seed or an unknown option, naming it', () => {
    expect(() => new P2CBalancer({ seed: 0 })).toThrow(/`seed` must be between 1 and 2147483647, got 0/);
    expect(() => new P2CBalancer({ seed: 1.5 })).toThrow(/`seed` must be an integer, got 1.5/);
    expect(() => new P2CBalancer({ sead: 1 } as never)).toThrow(/unknown option `sead` \(did you mean `seed`\?\)/);
  });
});
