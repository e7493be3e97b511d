import { ThrottledError } from '@lifeline/breaker';
import { isLifelineError, isThrottled } from '@lifeline/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type ClientOptions, type LifelineClient } from '../src/index.ts';
import { startServer, type TestServer } from './servers.ts';

// A total outage and the recovery after it, against a real server: the dependency answers 503
// to everything until it is told to recover, then 200. The throttle's window is 1 s so the
// test takes a few seconds; the breaker is off (an open breaker would answer for the dead
// dependency instead of the throttle) and so are retries (one attempt per call).
//
// With the rejection probability capped at 0.9 a tenth of the calls still reach the dead
// dependency, so the first one after it recovers is answered 200 within a few calls and the
// probability falls to 0 within about two windows. Uncapped, the probability would sit at
// requests / (requests + 1) — with the hundreds of calls a window holds here, about one call
// in several hundred sent — and the share and first-success assertions below would fail.

const WINDOW_MS = 1_000;
const CAP = 0.9;

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The outcome of one call: its status, or the Lifeline error it failed with. */
async function call(c: LifelineClient): Promise<number | Error> {
  try {
    const res = await c.get('/work');
    await res.body.dump();
    return res.status;
  } catch (error) {
    if (isLifelineError(error, 'HTTP_STATUS')) return error.status;
    if (isLifelineError(error)) return error;
    throw error;
  }
}

describe('adaptive throttling through a total outage and back, against a real server', () => {
  it('rejects with THROTTLED within the window once the dependency is down, and lets calls back through once it recovers', async () => {
    let healthy = false;
    const server: TestServer = await startServer((_req, res) => res.writeHead(healthy ? 200 : 503).end());
    cleanup.push(() => server.close());
    const options: ClientOptions = {
      name: 'search',
      baseUrl: server.url,
      breaker: false,
      retry: false,
      throttle: { windowMs: WINDOW_MS, buckets: 10, minRequests: 10, maxRejectionProbability: CAP },
    };
    const c = createClient(options);
    cleanup.push(() => c.destroy());

    // The outage: the first minRequests calls are sent and answered 503; from there on, every
    // call is rejected with probability 0.9 — the first THROTTLED comes within a few calls,
    // while those 503s are still in the window (no accept in it yet).
    let first: Error | undefined;
    let calls = 0;
    while (first === undefined && calls < 50) {
      calls++;
      const outcome = await call(c);
      if (outcome instanceof Error) first = outcome;
      else expect(outcome).toBe(503);
    }
    expect(calls).toBeGreaterThan(10);
    expect(first).toBeInstanceOf(ThrottledError);
    expect(isThrottled(first)).toBe(true);
    expect(first).toMatchObject({ code: 'THROTTLED', retryable: false, service: 'search', probability: CAP, attempts: 0 });
    expect(c.snapshot().throttle).toMatchObject({ accepts: 0, rejectionProbability: CAP, maxRejectionProbability: CAP, windowMs: WINDOW_MS });

    // While it stays down, about 90 % of the calls fail here and 10 % still reach it: the cap.
    const sentBefore = server.seen.length;
    let throttled = 0;
    for (let i = 0; i < 1_000; i++) {
      const outcome = await call(c);
      if (outcome instanceof Error) {
        expect(outcome).toMatchObject({ code: 'THROTTLED' });
        throttled++;
      } else expect(outcome).toBe(503);
    }
    expect(throttled + server.seen.length - sentBefore).toBe(1_000);
    expect(throttled / 1_000).toBeGreaterThan(0.85);
    expect(throttled / 1_000).toBeLessThan(0.95);

    // The dependency recovers. With a tenth of the calls sent, one is answered 200 within the
    // first 150 calls (all throttled: 0.9^150 ≈ 1e-7); then the accepts bring the probability
    // to 0. A call every 2 ms until it is 0, for at most 10 windows — about 2 are needed.
    healthy = true;
    const recovered = performance.now();
    let firstOk = -1;
    let n = 0;
    while (performance.now() - recovered < 10 * WINDOW_MS) {
      n++;
      const outcome = await call(c);
      if (outcome === 200 && firstOk < 0) firstOk = n;
      else if (outcome !== 200) expect(outcome).toMatchObject({ code: 'THROTTLED' });
      if (c.snapshot().throttle!.rejectionProbability === 0) break;
      await pause(2);
    }
    expect(firstOk).toBeGreaterThan(0);
    expect(firstOk).toBeLessThanOrEqual(150);
    expect(c.snapshot().throttle!.rejectionProbability).toBe(0);
    expect(c.snapshot().throttle!.accepts).toBeGreaterThan(0);

    // Recovered: every call is sent again.
    const sent = server.seen.length;
    for (let i = 0; i < 20; i++) expect(await call(c)).toBe(200);
    expect(server.seen.length - sent).toBe(20);
  });

  it('with a breaker: its half-open probes are never throttled, and once they close it the throttle forgets the outage', async () => {
    let healthy = false;
    const server: TestServer = await startServer((_req, res) => res.writeHead(healthy ? 200 : 503).end());
    cleanup.push(() => server.close());
    // A long window: what the throttle learned of the outage would hold for 30 s if nothing
    // made it forget. The breaker opens after 30 failures in a row, for 100 ms at a time.
    const c = createClient({
      name: 'search',
      baseUrl: server.url,
      retry: false,
      breaker: { consecutiveFailures: 30, minimumCalls: 1_000, breakDuration: 100, maxBreakDuration: 100, halfOpenProbes: 1, successesToClose: 3 },
      throttle: { windowMs: 30_000, buckets: 10, minRequests: 10, maxRejectionProbability: CAP },
    });
    cleanup.push(() => c.destroy());

    // The outage, until the throttle rejects at its cap and the breaker is open.
    for (let i = 0; i < 2_000 && !(c.snapshot().throttle!.rejectionProbability === CAP && c.snapshot().breaker!.state === 'open'); i++) {
      await call(c);
    }
    expect(c.snapshot().throttle!.rejectionProbability).toBe(CAP);
    expect(c.snapshot().breaker!.state).toBe('open');

    // Still down: each half-open probe is sent, whatever the throttle's probability — calls
    // made while the breaker is half-open are probes (one at a time) and reach the server.
    await pause(150);
    expect(c.snapshot().breaker!.state).toBe('half-open');
    const before = server.seen.length;
    expect(await call(c)).toBe(503);
    expect(server.seen.length - before).toBe(1);

    // It recovers: the next probes succeed, the breaker closes, and the throttle's window —
    // 90 % rejection over a 30 s window of outage — is forgotten: every call is sent again.
    healthy = true;
    for (let i = 0; i < 200 && c.snapshot().breaker!.state !== 'closed'; i++) {
      if (c.snapshot().breaker!.state === 'open') await pause(20);
      else await call(c);
    }
    expect(c.snapshot().breaker!.state).toBe('closed');
    expect(c.snapshot().throttle).toMatchObject({ rejectionProbability: 0, requests: 0 });
    const sent = server.seen.length;
    for (let i = 0; i < 50; i++) expect(await call(c)).toBe(200);
    expect(server.seen.length - sent).toBe(50);
  });
});
