import { fromOpossum } from '@lifeline/breaker/opossum';
import { isLifelineError } from '@lifeline/core';
import CircuitBreaker from 'opossum';
import { fetch } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClient, createDispatcher } from '../src/index.ts';
import { catchError, startServer, type TestServer } from './servers.ts';

// A team's existing opossum 10 breaker, run by the client through fromOpossum(): opossum's
// own rule opens it, the pipeline refuses calls while it is open, opossum's reset timer
// half-opens it, and the pipeline's probe closes it.

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A dependency that answers 503 until it is told to recover. */
async function dependency(): Promise<TestServer & { recover(): void }> {
  let healthy = false;
  const server = await startServer((_req, res) => (healthy ? res.writeHead(200).end('ok') : res.writeHead(503).end('down')));
  cleanup.push(() => server.close());
  return Object.assign(server, { recover: () => void (healthy = true) });
}

/**
 * An opossum breaker as a team would have it, with a short reset timeout (long enough that a
 * loaded machine still refuses a call between opening and half-opening); its transitions, in order.
 */
function circuit(): { circuit: CircuitBreaker; transitions: string[] } {
  const breaker = new CircuitBreaker(() => Promise.resolve(), {
    name: 'payment',
    errorThresholdPercentage: 50,
    volumeThreshold: 2,
    resetTimeout: 500,
    timeout: false,
  });
  const transitions: string[] = [];
  breaker.on('open', () => transitions.push('open'));
  breaker.on('halfOpen', () => transitions.push('halfOpen'));
  breaker.on('close', () => transitions.push('close'));
  cleanup.push(() => breaker.shutdown());
  return { circuit: breaker, transitions };
}

/** Polls, never sleeps a fixed time: opossum counts an outcome when its promise settles, and half-opens on its own timer. */
const until = (check: () => void): Promise<void> => vi.waitFor(check, { timeout: 3_000, interval: 5 });

describe('an opossum 10 breaker through the pipeline (fromOpossum)', () => {
  it('createClient: failures open it, calls then fail fast with CIRCUIT_OPEN, it half-opens and a success closes it', async () => {
    const server = await dependency();
    const { circuit: breaker, transitions } = circuit();
    const client = createClient({ name: 'payment', baseUrl: server.url, breaker: fromOpossum(breaker), retry: { maxAttempts: 1 } });
    cleanup.push(() => client.close());

    for (let i = 0; i < 2; i++) expect(await catchError(client.get('/charges'))).toMatchObject({ code: 'HTTP_STATUS', status: 503 });
    await until(() => expect(breaker.opened).toBe(true));

    const refused = await catchError(client.get('/charges'));
    expect(isLifelineError(refused, 'CIRCUIT_OPEN')).toBe(true);
    expect(refused).toMatchObject({ service: 'payment', attempts: 0 });
    expect(server.seen).toHaveLength(2); // refused without sending
    expect(client.snapshot().breaker).toMatchObject({ state: 'open' });

    server.recover();
    await until(() => expect(breaker.halfOpen).toBe(true));
    const probe = await client.get('/charges');
    expect(probe.status).toBe(200);
    expect(await probe.body.text()).toBe('ok');
    await until(() => expect(breaker.closed).toBe(true));
    expect((await client.get('/charges')).status).toBe(200);
    expect(server.seen).toHaveLength(4);
    expect(transitions).toEqual(['open', 'halfOpen', 'close']);
    expect(breaker.stats).toMatchObject({ failures: 2, successes: 2, rejects: 1 });
  });

  it('fetch() with createDispatcher: 503s open it, fetch then rejects with CIRCUIT_OPEN as the cause, it half-opens and a success closes it', async () => {
    const server = await dependency();
    const { circuit: breaker, transitions } = circuit();
    const dispatcher = createDispatcher({ baseUrl: server.url, breaker: fromOpossum(breaker), retry: { maxAttempts: 1 } });
    cleanup.push(() => dispatcher.destroy());

    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${server.url}/charges`, { dispatcher });
      expect(res.status).toBe(503);
      expect(await res.text()).toBe('down');
    }
    await until(() => expect(breaker.opened).toBe(true));

    const refused = await catchError(fetch(`${server.url}/charges`, { dispatcher }));
    expect(refused).toBeInstanceOf(TypeError);
    expect(isLifelineError((refused as Error).cause, 'CIRCUIT_OPEN')).toBe(true);
    expect(server.seen).toHaveLength(2);
    expect(dispatcher.snapshot().breaker).toMatchObject({ state: 'open' });

    server.recover();
    await until(() => expect(breaker.halfOpen).toBe(true));
    const probe = await fetch(`${server.url}/charges`, { dispatcher });
    expect(probe.status).toBe(200);
    expect(await probe.text()).toBe('ok');
    await until(() => expect(breaker.closed).toBe(true));
    expect((await fetch(`${server.url}/charges`, { dispatcher })).status).toBe(200);
    expect(server.seen).toHaveLength(4);
    expect(transitions).toEqual(['open', 'halfOpen', 'close']);
    expect(breaker.stats).toMatchObject({ failures: 2, successes: 2, rejects: 1 });
  });

  it('a probe that fails opens it again, and the calls after it are refused', async () => {
    const server = await dependency();
    const { circuit: breaker, transitions } = circuit();
    const dispatcher = createDispatcher({ baseUrl: server.url, breaker: fromOpossum(breaker), retry: { maxAttempts: 1 } });
    cleanup.push(() => dispatcher.destroy());
    for (let i = 0; i < 2; i++) await (await fetch(`${server.url}/charges`, { dispatcher })).arrayBuffer();
    await until(() => expect(breaker.halfOpen).toBe(true));
    expect((await fetch(`${server.url}/charges`, { dispatcher })).status).toBe(503); // the probe, still failing
    await until(() => expect(breaker.opened).toBe(true));
    const refused = await catchError(fetch(`${server.url}/charges`, { dispatcher }));
    expect(isLifelineError((refused as Error).cause, 'CIRCUIT_OPEN')).toBe(true);
    expect(server.seen).toHaveLength(3);
    expect(transitions).toEqual(['open', 'halfOpen', 'open']);
  });
});
