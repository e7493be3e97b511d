import { ManualClock, isLifelineError } from '@lifeline/core';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Discovery, type DiscoveryOptions } from './discovery.ts';
import type { Endpoint } from './endpoint.ts';
import type { ServicePool } from './service-pool.ts';
import { StaticResolver } from './static-resolver.ts';

const opened: Discovery[] = [];
afterEach(async () => {
  for (const d of opened.splice(0)) await d.close();
});

function ports(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `127.0.0.1:${4001 + i}`);
}

function setup(n: number, options: Partial<DiscoveryOptions> = {}) {
  const clock = new ManualClock(1_000);
  const resolver = new StaticResolver({ services: { payment: ports(n) } });
  const discovery = new Discovery({
    resolver,
    clock,
    breaker: { consecutiveFailures: 1, breakDuration: 1_000, halfOpenProbes: 1 },
    healthCheck: false, // nothing listens on these ports, and the clock is manual: breaks end only by the clock
    ...options,
  });
  opened.push(discovery);
  const pool = discovery.pool('payment');
  /** Fails one attempt on `e` (through its breaker). */
  const fail = (e: Endpoint): void => pool.failed(e, pool.begin(e), 5, new Error('boom'));
  const ok = (e: Endpoint, ms = 5): void => pool.succeeded(e, pool.begin(e), ms);
  return { clock, resolver, discovery, pool, fail, ok };
}

function counts(pool: ServicePool, picks: number): Map<string, number> {
  const seen = new Map<string, number>();
  for (let i = 0; i < picks; i++) {
    const e = pool.pick();
    if (e !== undefined) seen.set(e.id, (seen.get(e.id) ?? 0) + 1);
  }
  return seen;
}

describe('ServicePool', () => {
  it('follows the resolver and keeps an endpoint’s state across updates', () => {
    const { pool, resolver, ok } = setup(2);
    expect(pool.resolved).toBe(true);
    expect(pool.endpoints.map((e) => e.origin)).toEqual(['http://127.0.0.1:4001', 'http://127.0.0.1:4002']);
    const first = pool.endpoints[0]!;
    ok(first, 40);
    resolver.set('payment', ['127.0.0.1:4001', '127.0.0.1:4003']);
    expect(pool.endpoints[0]).toBe(first);
    expect(first.ewma).toBe(40);
    expect(pool.endpoints.map((e) => e.id)).toEqual(['127.0.0.1:4001', '127.0.0.1:4003']);
  });

  it('p2c spreads picks evenly over equal endpoints and prefers fewer requests in flight', () => {
    const { pool } = setup(4);
    const seen = counts(pool, 4_000);
    for (const n of seen.values()) expect(n).toBeGreaterThan(700);
    const [busy] = pool.endpoints;
    busy!.inFlight = 5;
    // The busy endpoint loses every comparison it is drawn into: only the fallback could pick it.
    expect(counts(pool, 2_000).get(busy!.id) ?? 0).toBe(0);
  });

  it('p2c breaks a tie on in-flight requests by the latency EWMA', () => {
    const { pool, ok } = setup(2);
    const [fast, slow] = pool.endpoints;
    ok(fast!, 5);
    ok(slow!, 200);
    expect(counts(pool, 500).get(fast!.id)).toBe(500);
  });

  it('round-robin takes each endpoint in turn, skipping an ejected one', () => {
    const { pool, fail } = setup(3, { balancer: 'round-robin' });
    const ids = Array.from({ length: 6 }, () => pool.pick()!.id);
    expect(ids).toEqual(['127.0.0.1:4001', '127.0.0.1:4002', '127.0.0.1:4003', '127.0.0.1:4001', '127.0.0.1:4002', '127.0.0.1:4003']);
    fail(pool.endpoints[1]!);
    const after = Array.from({ length: 4 }, () => pool.pick()!.id);
    expect(after).not.toContain('127.0.0.1:4002');
  });

  it('ejects a failing endpoint, brings it back through a probe, and ejects it longer when it fails again soon', () => {
    const { pool, fail, ok, clock } = setup(3);
    const bad = pool.endpoints[0]!;
    fail(bad);
    expect(bad.ejected).toBe(true);
    expect(counts(pool, 300).get(bad.id)).toBeUndefined();
    expect(pool.snapshot().endpoints[0]).toMatchObject({
      health: 'failing',
      ejected: true,
      ejections: 1,
      returnsInMs: 1_000,
      breakMs: 1_000,
      openedBecause: 'consecutive-failures',
      window: { calls: 0, failures: 0 }, // emptied when it opened
    });
    clock.advance(1_000);
    pool.snapshot(); // the break is over: half-open
    expect(bad.ejected).toBe(false);
    expect(pool.pick(pool.endpoints[1])).toBeDefined();
    ok(bad); // the probe succeeds: closed
    ok(bad);
    expect(pool.snapshot().endpoints[0]).toMatchObject({ openedBecause: undefined, window: { calls: 1, failures: 0 } });
    expect(pool.snapshot().endpoints[0]).toMatchObject({ health: 'healthy', breaker: 'closed', ejected: false });
    fail(bad); // fails again within breakMemoryMs: a longer ejection
    expect(pool.snapshot().endpoints[0]).toMatchObject({ ejected: true, ejections: 2, returnsInMs: 2_000, breakMs: 2_000 });
  });

  it('a retry avoids the endpoint that just failed when another can take it', () => {
    const { pool } = setup(2);
    const [a, b] = pool.endpoints;
    for (let i = 0; i < 50; i++) expect(pool.pick(a)).toBe(b);
    const single = setup(1).pool;
    expect(single.pick(single.endpoints[0])).toBe(single.endpoints[0]);
  });

  it("CIRCUIT_OPEN's retryAfterMs is at most one health-check interval while checks may end the break", () => {
    const breaker = { consecutiveFailures: 1, breakDuration: 30_000, halfOpenProbes: 1 };
    const checked = setup(2, { breaker, healthCheck: { intervalMs: 500 } });
    for (const e of checked.pool.endpoints) checked.fail(e);
    expect(checked.pool.unavailableError().retryAfterMs).toBe(500);
    const unchecked = setup(2, { breaker });
    for (const e of unchecked.pool.endpoints) unchecked.fail(e);
    expect(unchecked.pool.unavailableError().retryAfterMs).toBe(30_000);
  });

  it('fails with CIRCUIT_OPEN when every endpoint is failing, and NO_ENDPOINTS when there are none', () => {
    const { pool, fail, resolver, clock } = setup(2);
    for (const e of pool.endpoints) fail(e);
    expect(pool.mode).toBe('open');
    expect(pool.pick()).toBeUndefined();
    const open = pool.unavailableError();
    expect(isLifelineError(open, 'CIRCUIT_OPEN')).toBe(true);
    expect(open.retryAfterMs).toBe(1_000);
    clock.advance(1_000);
    pool.snapshot();
    expect(pool.pick()).toBeDefined(); // a probe
    resolver.set('payment', []);
    expect(pool.mode).toBe('empty');
    const none = pool.unavailableError();
    expect(isLifelineError(none, 'NO_ENDPOINTS')).toBe(true);
    expect(none.message).toMatch(/payment: no endpoints/);
  });

  it('never ejects more than maxEjectionRatio of the endpoints, never routes to a failing one while a healthy one will do, and widens the last resort in panic', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.array(fc.tuple(fc.nat(11), fc.constantFrom('fail', 'ok', 'wait', 'resize')), { maxLength: 60 }),
        (n, maxEjectionRatio, panicThreshold, steps) => {
          const { pool, fail, ok, clock, resolver } = setup(n, { maxEjectionRatio, panicThreshold });
          let size = n;
          for (const [i, step] of steps) {
            const list = pool.endpoints;
            const e = list[i % list.length];
            if (step === 'fail' && e !== undefined) fail(e);
            else if (step === 'ok' && e !== undefined && e.breaker.allowsCalls) ok(e);
            else if (step === 'wait') clock.advance(600);
            else if (step === 'resize') resolver.set('payment', ports((size = 1 + (i % 12))));
            const snap = pool.snapshot();
            const total = snap.endpoints.length;
            const ejected = snap.endpoints.filter((x) => x.ejected).length;
            const healthy = snap.endpoints.filter((x) => x.health === 'healthy').length;
            expect(total).toBe(size);
            expect(ejected).toBeLessThanOrEqual(Math.floor(maxEjectionRatio * total));
            if (total > 0) expect(ejected).toBeLessThan(total);
            const endpoints = pool.endpoints;
            if (healthy === 0) {
              expect(snap.mode).toBe('open');
              // Open: half-open probes only.
              for (let k = 0; k < 10; k++) expect(pool.pick()?.probing ?? true).toBe(true);
              continue;
            }
            const panic = healthy < panicThreshold * total;
            expect(snap.mode).toBe(panic ? 'panic' : 'normal');
            // Healthy endpoints first, in panic too: a pick never lands on a failing endpoint.
            for (let k = 0; k < 20; k++) expect(pool.pick()!.failing).toBe(false);
            // A call that already failed on every endpoint that takes traffic: a failing one the cap
            // kept in rotation, in panic an ejected one too; else back to one it failed on.
            const triedAll = new Set(endpoints.filter((x) => !x.failing));
            const lastResort = endpoints.filter((x) => x.failing && !x.forced && (panic || !x.ejected));
            const retry = pool.pick(triedAll)!;
            if (lastResort.length > 0) expect(lastResort).toContain(retry);
            else expect(triedAll.has(retry)).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a service the resolver does not know fails with NO_ENDPOINTS saying why', () => {
    const resolver = new StaticResolver();
    const discovery = new Discovery({ resolver });
    opened.push(discovery);
    const pool = discovery.pool('unknown');
    // A static resolver answers at once, even for a service it does not know.
    expect(pool.resolved).toBe(true);
    expect(pool.unavailableError().message).toMatch(/no instances configured for service "unknown"/);
  });

  it('rejects bad configuration with a clear message', () => {
    const resolver = new StaticResolver();
    expect(() => new Discovery({ resolver, balancer: 'random' as never })).toThrow(/`balancer` must be one of "p2c", "round-robin"/);
    expect(() => new Discovery({ resolver, maxEjectionRatio: 2 })).toThrow(/`maxEjectionRatio`/);
    expect(() => new Discovery({ resolver, panicThreshold: -0.1 })).toThrow(/`panicThreshold`/);
    expect(() => new Discovery({ resolver, breaker: { failureRatio: 3 } })).toThrow(/`breaker.failureRatio`/);
    expect(() => new Discovery({ resolver: {} as never })).toThrow(/`resolver` must be a Resolver/);
    expect(() => new StaticResolver({ services: { payment: ['nope'] } })).toThrow(/services.payment\[0\].*host:port/);
    expect(() => new StaticResolver({ services: { payment: ['127.0.0.1:99999'] } })).toThrow(/port must be an integer in 1..65535/);
    expect(() => new Discovery({ resolver }).pool('bad name')).toThrow(/service name/);
  });

  it('reads LIFELINE_SERVICE_* variables', () => {
    const resolver = StaticResolver.fromEnv({ LIFELINE_SERVICE_USER_PROFILE: '127.0.0.1:1, [::1]:2', OTHER: 'x' });
    const seen: string[] = [];
    resolver.subscribe('user-profile', (s) => seen.push(...s.instances.map((i) => `${i.host}|${i.port}`)));
    expect(seen).toEqual(['127.0.0.1|1', '::1|2']);
  });
});
