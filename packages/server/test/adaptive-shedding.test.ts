import { Agent, get } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createLifeline, type LifelineOptions } from '../src/index.ts';
import { send, startServer } from './helpers.ts';

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

describe('adaptive load shedding', () => {
  it('is the default; maxConcurrent sets a static limit instead', () => {
    expect(createLifeline().snapshot().shedding).toMatchObject({
      maxConcurrent: 100,
      maxQueue: 64,
      adaptive: { minLimit: 20, maxLimit: 256, rttMs: 0, longRttMs: 0 },
    });
    expect(createLifeline({ shedding: { adaptive: { initialLimit: 10 } } }).snapshot().shedding).toMatchObject({
      maxConcurrent: 10,
      adaptive: { minLimit: 10, maxLimit: 256 },
    });
    expect(createLifeline({ shedding: { maxConcurrent: 8 } }).snapshot().shedding).toMatchObject({ maxConcurrent: 8, adaptive: null });
  });

  it.each<[LifelineOptions, RegExp]>([
    [{ shedding: { maxConcurrent: 8, adaptive: {} } }, /`shedding\.maxConcurrent`.*`shedding\.adaptive`.*cannot be combined/],
    [{ shedding: { adaptive: { minLimit: 0 } } }, /`shedding\.adaptive\.minLimit`/],
    [{ shedding: { adaptive: { initialLimit: 50, maxLimit: 10 } } }, /`shedding\.adaptive\.maxLimit`/],
    [{ shedding: { adaptive: { initialLimit: 1.5 } } }, /`shedding\.adaptive\.initialLimit`/],
    [{ shedding: { adaptive: { rttTolerance: 0.5 } } }, /`shedding\.adaptive\.rttTolerance`/],
    [{ shedding: { adaptive: { maxQueue: 5 } as never } }, /shedding\.adaptive.*maxQueue/],
    [{ shedding: { adaptive: 'on' as never } }, /`shedding\.adaptive` must be an object/],
  ])('rejects %j, naming the option', (options, message) => {
    expect(() => createLifeline(options)).toThrow(message);
  });

  it('shrinks the limit after a window of requests that outlived their deadline', async () => {
    const lifeline = createLifeline({ shedding: { adaptive: { initialLimit: 20, minLimit: 5, minWindowMs: 0 } } });
    const { url, close } = await startServer(
      lifeline.handler((_req, res) => {
        setTimeout(() => res.end('late'), 80);
      }),
    );
    stop = close;
    // 20 requests (one window at a limit of 20), each with 20 ms left and answered after 80 ms.
    await Promise.all(Array.from({ length: 20 }, () => send(url, { headers: { 'x-request-timeout-ms': '20' } })));
    expect(lifeline.snapshot().shedding).toMatchObject({ maxConcurrent: 18, active: 0 });
  });

  it(
    'against a handler whose latency grows with concurrency, queues a burst at a limit well below it instead of running it all at once',
    { timeout: 60_000 },
    async () => {
      // The handler answers after BASE + K × (requests it is running) ms: past BASE / K at once, more concurrency mostly adds waiting.
      // A steep slope and many callers, so the signal stands out of a busy machine's own latency noise.
      const BASE = 20;
      const K = 4;
      const CALLERS = 64;
      let running = 0;
      let peak = 0;
      const lifeline = createLifeline({
        shedding: { adaptive: { initialLimit: CALLERS, minLimit: 2, minWindowMs: 0 }, maxQueue: 64, queueTimeout: 10_000 },
      });
      const { url, close } = await startServer(
        lifeline.handler((_req, res) => {
          running++;
          if (running > peak) peak = running;
          setTimeout(() => {
            running--;
            res.end('ok');
          }, BASE + K * running);
        }),
      );
      stop = close;
      const { port } = new URL(url);
      const agent = new Agent({ keepAlive: true, maxSockets: CALLERS });
      const statuses = new Map<number, number>();
      const request = (): Promise<void> =>
        new Promise((resolve, reject) => {
          get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
            statuses.set(res.statusCode!, (statuses.get(res.statusCode!) ?? 0) + 1);
            res.resume();
            res.on('end', resolve);
            res.on('error', reject);
          }).on('error', reject);
        });
      const run = async (callers: number, requests: number): Promise<void> => {
        let left = requests;
        const caller = async (): Promise<void> => {
          while (left-- > 0) await request();
        };
        await Promise.all(Array.from({ length: callers }, caller));
      };

      try {
        // Light load: the latency the limit treats as normal.
        await run(6, 600);
        expect(lifeline.snapshot().shedding?.maxConcurrent).toBe(CALLERS);

        // Every caller at once: at first the handler runs all of them.
        peak = 0;
        await run(CALLERS, 300);
        const burstPeak = peak;
        expect(burstPeak).toBe(CALLERS);

        await run(CALLERS, 1_200);
        peak = 0;
        await run(CALLERS, 300);
        const settledPeak = peak;
        const shedding = lifeline.snapshot().shedding!;

        expect(shedding.maxConcurrent).toBeLessThan(0.75 * CALLERS);
        expect(shedding.maxConcurrent).toBeGreaterThan(BASE / K);
        expect(settledPeak).toBeLessThanOrEqual(shedding.maxConcurrent + 3);
        expect(settledPeak).toBeLessThan(0.75 * burstPeak);
        // The excess waited in the queue (room for every caller): nothing was shed.
        expect(statuses).toEqual(new Map([[200, 2_400]]));
        expect(shedding.shed).toEqual({ queueFull: 0, queueTimeout: 0, deadline: 0 });
      } finally {
        agent.destroy();
      }
    },
  );
});
