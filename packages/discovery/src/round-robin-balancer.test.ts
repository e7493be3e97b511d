import { CircuitBreaker } from '@lifeline/breaker';
import { describe, expect, it } from 'vitest';
import type { PickContext } from './balancer.ts';
import { Endpoint } from './endpoint.ts';
import { RoundRobinBalancer } from './round-robin-balancer.ts';

function endpoints(n: number): Endpoint[] {
  return Array.from({ length: n }, (_, i) => {
    const instance = { id: `e${i}`, host: '127.0.0.1', port: 4001 + i, zone: undefined, metadata: {} };
    return new Endpoint(instance, new CircuitBreaker(), 'http');
  });
}

function context(refused: ReadonlySet<Endpoint> = new Set()): PickContext {
  return { accepts: (e) => !refused.has(e), staleBefore: -Infinity };
}

describe('RoundRobinBalancer', () => {
  it('takes each endpoint in turn, skipping the ones that will not take the attempt', () => {
    const list = endpoints(4);
    const rr = new RoundRobinBalancer();
    const ids = (n: number, ctx = context()): string[] => Array.from({ length: n }, () => rr.pick(list, ctx)!.id);
    expect(ids(6)).toEqual(['e0', 'e1', 'e2', 'e3', 'e0', 'e1']);
    expect(ids(4, context(new Set([list[3]!, list[0]!])))).toEqual(['e2', 'e1', 'e2', 'e1']);
  });

  it('carries on over a shorter list, and finds nothing when no endpoint will do', () => {
    const list = endpoints(5);
    const rr = new RoundRobinBalancer();
    for (let i = 0; i < 4; i++) rr.pick(list, context());
    const shorter = list.slice(0, 2);
    expect([rr.pick(shorter, context())!.id, rr.pick(shorter, context())!.id]).toEqual(['e0', 'e1']);
    expect(rr.pick(shorter, context(new Set(shorter)))).toBeUndefined();
    expect(rr.pick([], context())).toBeUndefined();
  });
});
