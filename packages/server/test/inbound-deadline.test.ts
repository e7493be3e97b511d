import { currentRequestContext } from '@lifeline/trace';
import { afterEach, describe, expect, it } from 'vitest';
import { adapters, type App } from './apps.ts';
import { send } from './helpers.ts';

let app: App | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** Answers the time the request has left, as the handler sees it. */
const remaining = (): unknown => ({ remaining: currentRequestContext()!.deadline!.remaining() });

for (const [name, adapter] of Object.entries(adapters)) {
  describe(`inbound deadline headers over ${name}`, () => {
    it('two disagreeing values: the smallest valid one applies, never the server’s longer limit', async () => {
      app = await adapter(remaining, { lifeline: { timeout: 30_000 } });
      const cases: Record<string, string | string[]>[] = [
        { 'x-request-timeout-ms': ['5000', '300'] }, // the header twice (Node joins it as "5000, 300")
        { 'x-request-timeout-ms': '5000, 300' }, // one comma-joined line
        { 'x-request-timeout-ms': '5000', 'grpc-timeout': '300m' }, // two headers disagreeing
        { 'x-request-timeout-ms': ['soon', '300'] }, // a malformed value beside a valid one
      ];
      for (const headers of cases) {
        const reply = await send(app.url, { headers });
        expect(reply.status, JSON.stringify(headers)).toBe(200);
        const left = (JSON.parse(reply.body) as { remaining: number }).remaining;
        expect(left, JSON.stringify(headers)).toBeGreaterThan(0);
        expect(left, JSON.stringify(headers)).toBeLessThanOrEqual(300);
      }
      // Only the malformed value is counted as ignored.
      expect(app.lifeline.snapshot().ignoredHeaders['x-request-timeout-ms']).toBe(1);
    });
  });
}
