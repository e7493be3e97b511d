import { ManualClock } from '@lifeline/core';
import { afterEach, describe, expect, it } from 'vitest';
import { Discovery, type DiscoveryOptions, type Endpoint, P2CBalancer, StaticResolver } from '../src/index.ts';
import { type Behaviour, simulate } from './pool-simulation.ts';

const opened: Discovery[] = [];
afterEach(async () => {
  for (const d of opened.splice(0)) await d.close();
});

/** A pool over `behaviours` (one instance each) with the default options but a manual clock and seeded draws. */
function pool(behaviours: Behaviour[], options: Partial<DiscoveryOptions> = {}) {
  const clock = new ManualClock(1_000);
  const addresses = behaviours.map((_, i) => `127.0.0.1:${5001 + i}`);
  const discovery = new Discovery({
    resolver: new StaticResolver({ services: { payment: addresses } }),
    clock,
    balancer: new P2CBalancer({ seed: 29 }),
    ...options,
  });
  opened.push(discovery);
  const servicePool = discovery.pool('payment');
  const byEndpoint = new Map(servicePool.endpoints.map((e, i) => [e, behaviours[i]!]));
  return { clock, pool: servicePool, behaviour: (e: Endpoint): Behaviour => byEndpoint.get(e)! };
}

describe('small pools with the default options', () => {
  it.each([
    { name: 'p2c', options: {} },
    { name: 'round-robin', options: { balancer: 'round-robin' as const } },
  ])('1 healthy of 3 (one refusing connections, one answering 500), $name: after warm-up at least 95 in 100 attempts go to the healthy one', ({ options }) => {
    const { clock, pool: p, behaviour } = pool(['refusing', 'http500', 'healthy'], options);
    // 20 000 calls, 8 at a time: about 13 s of simulated time, so each failing breaker's 5 s break ends at least once.
    const run = simulate(p, clock, behaviour, { calls: 20_000, concurrency: 8, warmUp: 200 });
    const total = run.picks.healthy + run.picks.refusing + run.picks.http500;
    expect(run.picks.healthy / total).toBeGreaterThanOrEqual(0.95);
    expect(run.succeeded).toBeGreaterThanOrEqual(19_900);
    expect(run.revisits).toBe(0);
    // Until its breaker opens (5 failures in a row), then a probe when the break ends.
    const [refusing, failing] = p.endpoints;
    expect(run.attempts.get(refusing!)).toBeLessThanOrEqual(10);
    expect(run.attempts.get(failing!)).toBeLessThanOrEqual(15);
    expect(p.mode).toBe('panic');
  });

  it('2 healthy of 4: after warm-up at least 95 in 100 attempts go to the healthy ones, spread over both', () => {
    const { clock, pool: p, behaviour } = pool(['healthy', 'refusing', 'healthy', 'http500']);
    const run = simulate(p, clock, behaviour, { calls: 20_000, concurrency: 8, warmUp: 200 });
    const total = run.picks.healthy + run.picks.refusing + run.picks.http500;
    expect(run.picks.healthy / total).toBeGreaterThanOrEqual(0.95);
    expect(run.succeeded).toBeGreaterThanOrEqual(19_900);
    expect(run.revisits).toBe(0);
    const [a, , b] = p.endpoints;
    expect(Math.min(run.attempts.get(a!)!, run.attempts.get(b!)!)).toBeGreaterThan(8_000);
  });
});
