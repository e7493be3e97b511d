import { Writable } from 'node:stream';
import { HttpStatusError, LifelineError } from '@lifeline/core';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { adapters, type App } from './apps.ts';
import { send } from './helpers.ts';

/** The errors a handler throws, by path: a bug, and what a failed outgoing call throws. */
function route(req: { url?: string }): unknown {
  switch (req.url) {
    case '/bug':
      throw new TypeError("Cannot read properties of undefined (reading 'card')");
    case '/connect':
      throw new LifelineError('CONNECT', 'connect failed: connect ECONNREFUSED 127.0.0.1:1', { service: 'payment' });
    case '/deadline':
      throw new LifelineError('DEADLINE_EXCEEDED', 'payment: deadline exceeded after 3 attempts to 10.0.3.7:8443', { service: 'payment' });
    case '/upstream':
      throw new HttpStatusError(500, {}, 'ERROR: connection to db-7.internal:5432 refused', { service: 'payment' });
    default:
      return { ok: true };
  }
}

interface Line {
  level: 'debug' | 'info' | 'warn' | 'error';
  object: Record<string, unknown>;
  message: string;
}

type Log = (o: object, m: string) => void;

function recordingLogger(lines: Line[]): { debug: Log; info: Log; warn: Log } {
  return {
    debug: (object, message) => void lines.push({ level: 'debug', object: object as Record<string, unknown>, message }),
    info: (object, message) => void lines.push({ level: 'info', object: object as Record<string, unknown>, message }),
    warn: (object, message) => void lines.push({ level: 'warn', object: object as Record<string, unknown>, message }),
  };
}

let app: App | undefined;
let stderr: MockInstance<typeof console.error>;
beforeEach(() => {
  // The sink of the default report, captured so the test can read it (and the run stays quiet).
  stderr = vi.spyOn(console, 'error').mockImplementation(() => undefined);
});
afterEach(async () => {
  stderr.mockRestore();
  await app?.close();
  app = undefined;
});

for (const [name, adapter] of Object.entries(adapters)) {
  describe(`failed requests over ${name}`, () => {
    it('with no logger configured, an unexpected error is written to stderr once, with the request id', async () => {
      app = await adapter(route);
      const reply = await send(app.url, { path: '/bug', headers: { 'x-request-id': 'req-bug' } });
      expect(reply.status).toBe(500);
      expect(reply.body).not.toContain('card');
      expect(stderr).toHaveBeenCalledTimes(1);
      const [message, error] = stderr.mock.calls[0]!;
      expect(message).toContain('req-bug');
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toContain("reading 'card'");
      // Expected outcomes (a dependency failed) are not written to stderr.
      expect((await send(app.url, { path: '/connect' })).status).toBe(502);
      expect(stderr).toHaveBeenCalledTimes(1);
    });

    it('a `logger` replaces stderr; a dependency failure is logged at debug (not a line per request at info) with its cause and request id', async () => {
      const lines: Line[] = [];
      app = await adapter(route, { lifeline: { logger: recordingLogger(lines) } });
      await send(app.url, { path: '/bug', headers: { 'x-request-id': 'req-bug' } });
      await send(app.url, { path: '/connect', headers: { 'x-request-id': 'req-connect' } });
      expect(stderr).not.toHaveBeenCalled();
      const failures = lines.filter((line) => line.object['requestId'] !== undefined);
      expect(failures.map((line) => [line.level, line.object['requestId']])).toEqual([
        ['warn', 'req-bug'],
        ['debug', 'req-connect'],
      ]);
      expect((failures[0]!.object['err'] as Error).message).toContain("reading 'card'");
      expect((failures[1]!.object['err'] as Error).message).toBe('connect failed: connect ECONNREFUSED 127.0.0.1:1');
      expect(failures[1]!.object['code']).toBe('CONNECT');
    });

    it('502 and 504 answers say what failed, not where', async () => {
      app = await adapter(route);
      const cases: [string, number, string][] = [
        ['/connect', 502, 'A dependency of this service could not be reached.'],
        ['/upstream', 502, 'A dependency of this service answered with an error.'],
        ['/deadline', 504, 'The request could not be completed before its deadline.'],
      ];
      for (const [path, status, detail] of cases) {
        const reply = await send(app.url, { path, headers: { 'x-request-id': `req-${path.slice(1)}` } });
        expect(reply.status).toBe(status);
        expect(JSON.parse(reply.body)).toMatchObject({ status, detail, requestId: `req-${path.slice(1)}` });
        for (const internal of ['127.0.0.1', '10.0.3.7', 'db-7', 'ECONNREFUSED', 'payment']) expect(reply.body).not.toContain(internal);
      }
    });
  });
}

describe('failed requests over Fastify with its own logger on', () => {
  it('goes to Fastify’s logger at error, once, and not to stderr', async () => {
    const lines: Record<string, unknown>[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    app = await adapters.fastify(route, { fastify: { loggerInstance: pino({ level: 'info' }, stream) } });
    await send(app.url, { path: '/bug', headers: { 'x-request-id': 'req-bug' } });
    const errors = lines.filter((line) => line['level'] === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ requestId: 'req-bug', err: { type: 'TypeError' } });
    expect(stderr).not.toHaveBeenCalled();
  });
});
