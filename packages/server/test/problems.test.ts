import { HttpStatusError, LifelineError, type ErrorCode } from '@lifeline/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLifeline } from '../src/index.ts';
import { send, startServer } from './helpers.ts';

const errors: Record<string, () => unknown> = {
  CIRCUIT_OPEN: () => new LifelineError('CIRCUIT_OPEN', 'payment is open', { retryAfterMs: 2_000, service: 'payment' }),
  BULKHEAD_REJECTED: () => new LifelineError('BULKHEAD_REJECTED', 'bulkhead full'),
  NO_ENDPOINTS: () => new LifelineError('NO_ENDPOINTS', 'no endpoint for payment', { retryAfterMs: 10_500 }),
  RETRY_BUDGET_EXHAUSTED: () => new LifelineError('RETRY_BUDGET_EXHAUSTED', 'retry budget exhausted'),
  DEADLINE_EXCEEDED: () => new LifelineError('DEADLINE_EXCEEDED', 'deadline exceeded'),
  ATTEMPT_TIMEOUT: () => new LifelineError('ATTEMPT_TIMEOUT', 'attempt timed out'),
  HTTP_STATUS: () => new HttpStatusError(503, { 'retry-after': '30' }, 'busy', { service: 'user' }),
  CONNECT: () => new LifelineError('CONNECT', 'connect ECONNREFUSED'),
  PLAIN: () => new TypeError("Cannot read properties of undefined (reading 'card')"),
  THROWN_STRING: () => 'not an error',
};

const expected: [string, number, string | undefined, string][] = [
  ['CIRCUIT_OPEN', 503, '2', 'CIRCUIT_OPEN'],
  ['BULKHEAD_REJECTED', 503, '1', 'BULKHEAD_REJECTED'],
  ['NO_ENDPOINTS', 503, '11', 'NO_ENDPOINTS'],
  ['RETRY_BUDGET_EXHAUSTED', 503, '1', 'RETRY_BUDGET_EXHAUSTED'],
  ['DEADLINE_EXCEEDED', 504, undefined, 'DEADLINE_EXCEEDED'],
  ['ATTEMPT_TIMEOUT', 504, undefined, 'ATTEMPT_TIMEOUT'],
  ['HTTP_STATUS', 502, undefined, 'HTTP_STATUS'],
  ['CONNECT', 502, undefined, 'CONNECT'],
  ['PLAIN', 500, undefined, 'INTERNAL'],
  ['THROWN_STRING', 500, undefined, 'INTERNAL'],
];

let url: string;
let close: () => Promise<void>;
const logged: unknown[] = [];

beforeAll(async () => {
  const logger = { info: () => undefined, warn: (object: object) => void logged.push(object) };
  const lifeline = createLifeline({ shedding: false, logger });
  ({ url, close } = await startServer(
    lifeline.handler(async (req) => {
      const name = req.url!.slice(1);
      await Promise.resolve();
      if (name.startsWith('sync-')) throw errors[name.slice(5)]!();
      throw errors[name]!();
    }),
  ));
});
afterAll(() => close());

describe('problem responses for errors thrown by a node:http handler', () => {
  it.each(expected)('%s → %i', async (name, status, retryAfter, code) => {
    for (const path of [`/${name}`, `/sync-${name}`]) {
      const reply = await send(url, { path, headers: { 'x-request-id': `req-${name}` } });
      expect(reply.status).toBe(status);
      expect(reply.headers['retry-after']).toBe(retryAfter);
      expect(reply.headers['content-type']).toBe('application/problem+json');
      const body = JSON.parse(reply.body);
      expect(body).toMatchObject({ status, code: code as ErrorCode, requestId: `req-${name}` });
      if (status === 500) {
        expect(body.detail).toBe('The server could not complete the request.');
        expect(reply.body).not.toContain('card');
      }
    }
  });

  it('logs unexpected errors, not Lifeline ones', () => {
    expect(logged.length).toBe(4); // PLAIN and THROWN_STRING, each thrown sync and async
    expect(logged).toContainEqual(expect.objectContaining({ requestId: 'req-PLAIN' }));
  });
});
