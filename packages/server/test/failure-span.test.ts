import { LifelineError } from '@lifeline/core';
import { describe, expect, it } from 'vitest';
import { adapters } from './apps.ts';
import { send, waitFor } from './helpers.ts';
import { useInMemorySdk } from './otel-sdk.ts';

const exporter = useInMemorySdk();

function route(req: { url?: string }): unknown {
  if (req.url === '/connect') throw new LifelineError('CONNECT', 'connect failed: connect ECONNREFUSED 127.0.0.1:1', { service: 'payment' });
  throw new Error('handler bug');
}

for (const [name, adapter] of Object.entries(adapters)) {
  describe(`the SERVER span of a failed request over ${name}`, () => {
    it('keeps the cause the response does not tell, as an exception event', async () => {
      const app = await adapter(route, { lifeline: { logger: { info: () => undefined, warn: () => undefined } } });
      try {
        const reply = await send(app.url, { path: '/connect' });
        expect(reply.status).toBe(502);
        expect(reply.body).not.toContain('127.0.0.1');
        await waitFor(() => exporter.getFinishedSpans().length === 1, 5_000, 'the span');
        const [span] = exporter.getFinishedSpans();
        const exception = span!.events.find((event) => event.name === 'exception');
        expect(exception?.attributes).toMatchObject({ 'exception.message': 'connect failed: connect ECONNREFUSED 127.0.0.1:1' });
        expect(span!.attributes['http.response.status_code']).toBe(502);
      } finally {
        await app.close();
      }
    });
  });
}
