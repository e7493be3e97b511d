import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { isLifelineError } from '@lifeline/core';
import CircuitBreaker from 'opossum';
import { describe, expect, it, vi } from 'vitest';
import { isBreaker, type Breaker, type StateChange } from './index.ts';
import { CircuitOpenError } from './circuit-open-error.ts';
import { fromOpossum } from './opossum.ts';

/** A team's existing opossum breaker around its own action, and the adapter over it. */
function make(options: CircuitBreaker.Options = {}) {
  const action = vi.fn((id: string) => Promise.resolve(`charged ${id}`));
  const circuit = new CircuitBreaker(action, {
    name: 'payment',
    errorThresholdPercentage: 50,
    volumeThreshold: 4,
    resetTimeout: 60,
    timeout: false,
    ...options,
  });
  const breaker = fromOpossum(circuit);
  const changes: StateChange[] = [];
  breaker.onStateChange((change) => changes.push(change));
  const transitions = (): string[][] => changes.map(({ from, to, reason }) => [from, to, reason]);
  return { action, circuit, breaker, transitions };
}

/** Opossum counts an outcome when the promise it was handed settles: a microtask later. */
const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function fail(breaker: Breaker, n: number): void {
  for (let i = 0; i < n; i++) breaker.failure(breaker.acquire(), 1, new Error('connect ECONNREFUSED'));
}

function refusal(breaker: Breaker): CircuitOpenError {
  try {
    breaker.acquire();
  } catch (error) {
    return error as CircuitOpenError;
  }
  throw new Error('expected CIRCUIT_OPEN');
}

describe('fromOpossum: an existing opossum breaker behind the Breaker seam', () => {
  it('opens after failures by opossum’s own rule, and fails calls fast with CIRCUIT_OPEN', async () => {
    const { breaker, circuit, action, transitions } = make();
    expect(isBreaker(breaker)).toBe(true);
    breaker.success(breaker.acquire(), 1);
    fail(breaker, 1);
    await settled();
    expect(breaker.state).toBe('closed'); // 2 calls: under opossum's volumeThreshold (4)
    fail(breaker, 2);
    await settled();
    expect(circuit.opened).toBe(true); // 3 failures of 4 > 50 %
    expect(breaker.state).toBe('open');
    expect(breaker.allowsCalls).toBe(false);
    expect(transitions()).toEqual([['closed', 'open', 'failure-ratio']]);

    const error = refusal(breaker);
    expect(isLifelineError(error, 'CIRCUIT_OPEN')).toBe(true);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error).toMatchObject({ breaker: 'payment', message: 'payment: circuit open', retryable: false });
    expect(error.retryAfterMs).toBeGreaterThan(0);
    expect(error.retryAfterMs).toBeLessThanOrEqual(60);
    expect(error.stack?.split('\n')).toHaveLength(1); // an expected refusal captures no stack
    expect(circuit.stats).toMatchObject({ fires: 5, successes: 1, failures: 3, rejects: 1 }); // opossum's dashboards see it all
    expect(action).not.toHaveBeenCalled(); // the team's own action never ran for Lifeline's calls
  });

  it('half-open lets one probe through; its success closes the breaker', async () => {
    const { breaker, transitions } = make();
    fail(breaker, 4);
    await settled();
    await vi.waitFor(() => expect(breaker.state).toBe('half-open'), { timeout: 2_000 });
    expect(breaker.allowsCalls).toBe(true);
    const probe = breaker.acquire();
    expect(breaker.allowsCalls).toBe(false);
    expect(refusal(breaker).message).toBe('payment: circuit half-open, its trial call in flight');
    expect(breaker.snapshot()).toMatchObject({ state: 'half-open', probesInFlight: 1 });
    breaker.success(probe, 5);
    await settled();
    expect(breaker.state).toBe('closed');
    expect(transitions()).toEqual([
      ['closed', 'open', 'failure-ratio'],
      ['open', 'half-open', 'break-elapsed'],
      ['half-open', 'closed', 'probes-succeeded'],
    ]);
    breaker.success(breaker.acquire(), 1); // admitting again
  });

  it('a failed probe opens it again', async () => {
    const { breaker, transitions } = make();
    fail(breaker, 4);
    await settled();
    await vi.waitFor(() => expect(breaker.state).toBe('half-open'), { timeout: 2_000 });
    fail(breaker, 1);
    await settled();
    expect(breaker.state).toBe('open');
    expect(transitions().at(-1)).toEqual(['half-open', 'open', 'probe-failed']);
  });

  it('publishes transitions on lifeline:breaker:state, like a Lifeline breaker', async () => {
    const { breaker } = make();
    const published: StateChange[] = [];
    const listener = (message: unknown): void => {
      published.push(message as StateChange);
    };
    subscribe('lifeline:breaker:state', listener);
    try {
      fail(breaker, 4);
      await settled();
    } finally {
      unsubscribe('lifeline:breaker:state', listener);
    }
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ name: 'payment', from: 'closed', to: 'open', reason: 'failure-ratio' });
    // Opossum counts fires when admitted: with four in flight, the third failure is > 50 % of them.
    expect(published[0]!.snapshot).toMatchObject({ state: 'open', calls: 3, failures: 3, consecutiveFailures: 3, breakDuration: 60 });
    expect(JSON.parse(JSON.stringify(published[0]!.snapshot))).toEqual({ ...published[0]!.snapshot, halfOpenInMs: expect.any(Number) as number });
  });

  it('execute() runs any function through the opossum breaker; its errorFilter still decides what counts', async () => {
    const notFound = Object.assign(new Error('HTTP 404'), { status: 404 });
    const { breaker, circuit } = make({ errorFilter: (error: { status?: number }) => error.status === 404 });
    await expect(breaker.execute(() => 'ok')).resolves.toBe('ok');
    for (let i = 0; i < 4; i++) await expect(breaker.execute(() => Promise.reject(notFound))).rejects.toBe(notFound);
    await settled();
    expect(breaker.state).toBe('closed'); // excused by the team's errorFilter: successes to opossum
    expect(circuit.stats).toMatchObject({ successes: 5, failures: 0 });
    const down = new Error('connect ECONNREFUSED');
    for (let i = 0; i < 5; i++) await expect(breaker.execute(() => Promise.reject(down))).rejects.toBe(down);
    await settled();
    expect(breaker.state).toBe('closed'); // 5 failures of 10 calls: not over opossum's 50 %
    await expect(breaker.execute(() => Promise.reject(down))).rejects.toBe(down);
    await settled();
    expect(breaker.state).toBe('open');
    await expect(breaker.execute(() => 'never')).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });
  });

  it("the team's own fire() keeps working beside it, with its own action", async () => {
    const { breaker, circuit, action } = make();
    const ticket = breaker.acquire();
    await expect(circuit.fire('order-7')).resolves.toBe('charged order-7');
    expect(action).toHaveBeenCalledTimes(1);
    breaker.success(ticket);
    await settled();
    expect(circuit.stats).toMatchObject({ fires: 2, successes: 2 });
  });

  it('cancel() reaches opossum as a failure with an ABORTED error (it has no neutral outcome)', async () => {
    const seen: unknown[] = [];
    const { breaker, circuit } = make();
    circuit.on('failure', (error) => seen.push(error));
    breaker.cancel(breaker.acquire());
    await settled();
    expect(seen).toHaveLength(1);
    expect(isLifelineError(seen[0], 'ABORTED')).toBe(true);
    breaker.success(0); // a ticket reports once: this one is spent
    await settled();
    expect(circuit.stats).toMatchObject({ successes: 0, failures: 1 });
  });

  it('capacity reached and shut down are refusals too; disabled admits everything', async () => {
    const { breaker, circuit } = make({ capacity: 1 });
    const held = breaker.acquire();
    expect(refusal(breaker).message).toBe('payment: at capacity (1 calls in flight)');
    breaker.success(held);
    await settled();
    breaker.success(breaker.acquire()); // the slot came back

    circuit.disable();
    expect(breaker.state).toBe('disabled');
    fail(breaker, 10);
    await settled();
    expect(breaker.state).toBe('disabled');
    circuit.enable();

    const changes: StateChange[] = [];
    breaker.onStateChange((change) => changes.push(change));
    circuit.shutdown();
    expect(breaker.state).toBe('forced-open');
    expect(changes.map(({ to }) => to)).toEqual(['forced-open']);
    expect(refusal(breaker)).toMatchObject({ code: 'CIRCUIT_OPEN', message: 'payment: circuit shut down', retryAfterMs: undefined });
  });

  it('snapshot() is plain JSON in the shape of a Lifeline breaker’s', async () => {
    const { breaker } = make();
    breaker.success(breaker.acquire());
    fail(breaker, 2);
    await settled();
    expect(breaker.snapshot()).toEqual({
      name: 'payment',
      state: 'closed',
      calls: 3,
      failures: 2,
      consecutiveFailures: 2,
      halfOpenInMs: undefined,
      breakDuration: 60,
      probesInFlight: 0,
      probeSuccesses: 0,
    });
  });

  it('dispose() stops listening to the opossum breaker', () => {
    const { circuit } = make();
    const before = circuit.listenerCount('open');
    const breaker = fromOpossum(circuit);
    expect(circuit.listenerCount('open')).toBe(before + 1);
    breaker.dispose();
    expect(circuit.listenerCount('open')).toBe(before);
  });

  it('refuses what is not an opossum breaker, and cache or coalesce, naming the option', () => {
    expect(() => fromOpossum({} as never)).toThrow(/fromOpossum\(circuit\) needs an opossum CircuitBreaker, got object/);
    expect(() => fromOpossum(null as never)).toThrow(/got null/);
    const cached = new CircuitBreaker(() => Promise.resolve(1), { cache: true });
    expect(() => fromOpossum(cached)).toThrow(/option `cache` must be off \(false or unset\).*got true/);
    const coalesced = new CircuitBreaker(() => Promise.resolve(1), { coalesce: true } as CircuitBreaker.Options);
    expect(() => fromOpossum(coalesced)).toThrow(/option `coalesce` must be off/);
    cached.shutdown();
    coalesced.shutdown();
  });
});
