import { AdaptiveLimiter } from '@lifeline/bulkhead';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type LifelineClient } from '../src/index.ts';
import { catchError, startServer, type TestServer } from './servers.ts';

let server: TestServer | undefined;
let client: LifelineClient | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
  client = server = undefined;
});

describe('the limiter learns how a call ended', () => {
  it('a call that runs out of time releases its slot as dropped, and an adaptive limit shrinks on it; answers do not', async () => {
    let hang = true;
    server = await startServer((_req, res) => {
      if (!hang) res.end('ok');
    });
    const limiter = new AdaptiveLimiter({ initialLimit: 20, minLimit: 2, maxLimit: 40, minWindowMs: 0 });
    client = createClient({ baseUrl: server.url, bulkhead: limiter, retry: false, breaker: false, throttle: false });
    const c = client;
    // One window of calls that all time out, 20 at once: the limit is multiplied by 0.9.
    const errors = await Promise.all(Array.from({ length: 20 }, () => catchError(c.get('/slow', { attemptTimeout: 100 }))));
    expect(errors.every((error) => (error as { code?: string }).code === 'ATTEMPT_TIMEOUT')).toBe(true);
    expect(limiter.limit).toBe(18);
    // Calls that get their answer are not dropped: the limit does not shrink again.
    hang = false;
    const answers = await Promise.all(Array.from({ length: 18 }, () => c.get('/fast')));
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    expect(limiter.limit).toBeGreaterThanOrEqual(18);
  });
});
