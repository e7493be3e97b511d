import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { ManualClock } from '@lifeline/core';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { Balancer } from './balancer.ts';
import type { EndpointTransition } from './diagnostics.ts';
import { Discovery, type DiscoveryOptions } from './discovery.ts';
import type { Endpoint } from './endpoint.ts';
import { P2CBalancer } from './p2c-balancer.ts';
import { StaticResolver } from './static-resolver.ts';

const opened: Discovery[] = [];
afterEach(async () => {
  for (const d of opened.splice(0)) await d.close();
});

const address = (i: number): string => `127.0.0.1:${4001 + i}`;

function setup(n: number, options: Partial<DiscoveryOptions> = {}) {
  const clock = new ManualClock(1_000);
  const resolver = new StaticResolver({ services: { payment: Array.from({ length: n }, (_, i) => address(i)) } });
  const discovery = new Discovery({
    resolver,
    clock,
    balancer: new P2CBalancer({ seed: 17 }),
    breaker: { consecutiveFailures: 1, breakDuration: 1_000, halfOpenProbes: 1 },
    healthCheck: false, // nothing listens on these ports, and the clock is manual: breaks end only by the clock
    ...options,
  });
  opened.push(discovery);
  const pool = discovery.pool('payment');
  const fail = (e: Endpoint): void => pool.failed(e, pool.begin(e), 0.2, new Error('ECONNREFUSED'));
  return { clock, resolver, pool, fail, endpoints: pool.endpoints };
}

describe('routing', () => {
  it('in panic mode the healthy endpoint still takes every first attempt; ejected ones are a retry’s last resort', () => {
    const { pool, fail, endpoints } = setup(3);
    const [refusing, failing, healthy] = endpoints as [Endpoint, Endpoint, Endpoint];
    fail(refusing);
    fail(failing);
    expect(pool.mode).toBe('panic'); // 1 healthy of 3 < 0.5
    expect(pool.snapshot()).toMatchObject({ healthy: 1, ejected: 2 });
    for (let i = 0; i < 1_000; i++) expect(pool.pick()).toBe(healthy);
    // The call failed on the healthy one: in panic an ejected endpoint may take the retry…
    const retry = pool.pick(healthy)!;
    expect([refusing, failing]).toContain(retry);
    // …and once it failed there too, the other one; then, every endpoint tried, the healthy one again.
    expect(pool.pick(new Set([healthy, retry]))).toBe(retry === refusing ? failing : refusing);
    expect(pool.pick(new Set(endpoints))).toBe(healthy);
  });

  it('outside panic mode an ejected endpoint gets nothing, not even a retry', () => {
    const { pool, fail, endpoints } = setup(3, { panicThreshold: 0 });
    const [refusing, failing, healthy] = endpoints as [Endpoint, Endpoint, Endpoint];
    fail(refusing);
    fail(failing);
    expect(pool.mode).toBe('normal');
    for (let i = 0; i < 200; i++) expect(pool.pick(i % 2 === 0 ? healthy : undefined)).toBe(healthy);
  });

  it('a failing endpoint beyond the ejection cap is not a peer either: it takes only what no healthy one will', () => {
    const { pool, fail, endpoints } = setup(3, { maxEjectionRatio: 0.34, panicThreshold: 0 });
    const [first, second, healthy] = endpoints as [Endpoint, Endpoint, Endpoint];
    fail(first);
    fail(second);
    expect([first.ejected, second.ejected]).toEqual([true, false]); // cap: floor(0.34 × 3) = 1
    for (let i = 0; i < 500; i++) expect(pool.pick()).toBe(healthy);
    expect(pool.pick(healthy)).toBe(second);
  });

  it('a retry never goes back to an endpoint the call already failed on while another can take it', () => {
    const { pool, endpoints } = setup(5);
    fc.assert(
      fc.property(fc.subarray(endpoints), fc.boolean(), (failedOn, asEndpoint) => {
        const avoid = asEndpoint && failedOn.length === 1 ? failedOn[0]! : new Set(failedOn);
        for (let k = 0; k < 10; k++) {
          const picked = pool.pick(avoid)!;
          if (failedOn.length < endpoints.length) expect(failedOn).not.toContain(picked);
          else expect(endpoints).toContain(picked); // every endpoint tried: the best remaining
        }
      }),
    );
  });

  it('reads the caller’s set of failed endpoints at each pick, never a copy of it', () => {
    const { pool, endpoints } = setup(2);
    const [a, b] = endpoints as [Endpoint, Endpoint];
    const failedOn = new Set([a]);
    for (let i = 0; i < 100; i++) expect(pool.pick(failedOn)).toBe(b);
    failedOn.add(b);
    failedOn.delete(a); // the caller's set is read at each pick, never copied
    for (let i = 0; i < 100; i++) expect(pool.pick(failedOn)).toBe(a);
  });

  it('takes a Balancer object, hands it only endpoints that take traffic, and refuses one without pick()', () => {
    const seen: string[][] = [];
    const first: Balancer = {
      name: 'first',
      pick(candidates, context) {
        seen.push(candidates.map((e) => e.id));
        for (const e of candidates) if (context.accepts(e)) return e;
        return undefined;
      },
    };
    const { pool, fail, endpoints } = setup(3, { balancer: first });
    fail(endpoints[0]!);
    expect(pool.pick()).toBe(endpoints[1]);
    expect(seen.at(-1)).toEqual([address(1), address(2)]);
    expect(pool.pick(endpoints[1])).toBe(endpoints[2]);
    expect(pool.snapshot().balancer).toBe('first');
    const resolver = new StaticResolver();
    expect(() => new Discovery({ resolver, balancer: { name: 'x' } as never })).toThrow(/`balancer` must be "p2c", "round-robin" or a Balancer/);
    expect(() => new Discovery({ resolver, balancer: 3 as never })).toThrow(/`balancer` must be one of "p2c", "round-robin", got 3/);
  });
});

describe('diagnostics channels', () => {
  it('publishes lifeline:discovery:eject and :return with the service, host:port and reason', () => {
    const events: [string, EndpointTransition][] = [];
    const onEject = (m: unknown): void => void events.push(['eject', m as EndpointTransition]);
    const onReturn = (m: unknown): void => void events.push(['return', m as EndpointTransition]);
    subscribe('lifeline:discovery:eject', onEject);
    subscribe('lifeline:discovery:return', onReturn);
    try {
      const { pool, fail, clock, resolver, endpoints } = setup(3);
      fail(endpoints[0]!);
      clock.advance(1_000);
      pool.snapshot(); // the break is over: half-open
      fail(endpoints[0]!); // the probe fails
      resolver.set('payment', [address(1), address(2)]);
      expect(events).toEqual([
        ['eject', { service: 'payment', endpoint: address(0), reason: 'consecutive-failures' }],
        ['return', { service: 'payment', endpoint: address(0), reason: 'break-elapsed' }],
        ['eject', { service: 'payment', endpoint: address(0), reason: 'probe-failed' }],
        ['return', { service: 'payment', endpoint: address(0), reason: 'removed' }],
      ]);
    } finally {
      unsubscribe('lifeline:discovery:eject', onEject);
      unsubscribe('lifeline:discovery:return', onReturn);
    }
  });
});
