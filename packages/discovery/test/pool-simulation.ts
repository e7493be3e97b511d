import type { ManualClock } from '@lifeline/core';
import type { Endpoint, ServicePool } from '../src/index.ts';

/** How a simulated instance answers. */
export type Behaviour = 'healthy' | 'refusing' | 'http500';

/** Time to the outcome, ms: a refused connection is the fastest answer of all. */
const LATENCY: Record<Behaviour, number> = { healthy: 5, refusing: 0.2, http500: 1 };

export interface SimulationResult {
  /** Calls that ended with a success (within `maxAttempts`). */
  succeeded: number;
  /** Attempts per behaviour, from the first call after `warmUp` on. */
  picks: Record<Behaviour, number>;
  /** Attempts per endpoint over the whole run. */
  attempts: Map<Endpoint, number>;
  /** Retries sent back to an endpoint the call had already failed on while it had not tried every endpoint. */
  revisits: number;
}

interface Attempt {
  endpoint: Endpoint;
  ticket: number;
  endsAt: number;
  call: { attempts: number; failedOn: Set<Endpoint> };
}

/**
 * Drives `calls` calls through `pool` the way the client does — pick (avoiding the
 * endpoints the call failed on), begin, then succeeded or failed — with `concurrency`
 * calls in flight, on a manual clock, each endpoint answering after its behaviour's
 * latency. A failed attempt is retried at once, up to `maxAttempts`. Every 100 ms of
 * simulated time the pool is asked for a snapshot, as its return timer would, so that
 * breakers whose break is over go half-open.
 */
export function simulate(
  pool: ServicePool,
  clock: ManualClock,
  behaviour: (endpoint: Endpoint) => Behaviour,
  { calls, concurrency, maxAttempts = 3, warmUp = 0 }: { calls: number; concurrency: number; maxAttempts?: number; warmUp?: number },
): SimulationResult {
  const result: SimulationResult = { succeeded: 0, picks: { healthy: 0, refusing: 0, http500: 0 }, attempts: new Map(), revisits: 0 };
  const pending: Attempt[] = [];
  let started = 0;
  let nextWake = clock.now() + 100;
  const send = (call: Attempt['call']): void => {
    const endpoint = pool.pick(call.failedOn);
    if (endpoint === undefined) return; // CIRCUIT_OPEN: the call fails
    if (call.failedOn.has(endpoint) && call.failedOn.size < pool.endpoints.length) result.revisits++;
    call.attempts++;
    result.attempts.set(endpoint, (result.attempts.get(endpoint) ?? 0) + 1);
    if (started > warmUp) result.picks[behaviour(endpoint)]++;
    pending.push({ endpoint, ticket: pool.begin(endpoint), endsAt: clock.now() + LATENCY[behaviour(endpoint)], call });
  };
  while (started < calls || pending.length > 0) {
    while (started < calls && pending.length < concurrency) {
      started++;
      send({ attempts: 0, failedOn: new Set() });
    }
    if (pending.length === 0) continue;
    let next = 0;
    for (let i = 1; i < pending.length; i++) if (pending[i]!.endsAt < pending[next]!.endsAt) next = i;
    const attempt = pending.splice(next, 1)[0]!;
    clock.advance(Math.max(0, attempt.endsAt - clock.now()));
    if (clock.now() >= nextWake) {
      pool.snapshot();
      nextWake = clock.now() + 100;
    }
    const { endpoint, ticket, call } = attempt;
    const latency = LATENCY[behaviour(endpoint)];
    if (behaviour(endpoint) === 'healthy') {
      pool.succeeded(endpoint, ticket, latency);
      result.succeeded++;
    } else {
      pool.failed(endpoint, ticket, latency, new Error(behaviour(endpoint)));
      call.failedOn.add(endpoint);
      if (call.attempts < maxAttempts) send(call);
    }
  }
  return result;
}
