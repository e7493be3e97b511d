import { HttpStatusError, LifelineError, type ErrorCode } from '@lifeline/core';
import { describe, expect, it } from 'vitest';
import { problemFor, retryAfterSeconds } from './problem.ts';

describe('problemFor', () => {
  const cases: [ErrorCode, number, boolean][] = [
    ['CIRCUIT_OPEN', 503, true],
    ['BULKHEAD_REJECTED', 503, true],
    ['NO_ENDPOINTS', 503, true],
    ['RETRY_BUDGET_EXHAUSTED', 503, true],
    ['THROTTLED', 503, true],
    ['DEADLINE_EXCEEDED', 504, false],
    ['ATTEMPT_TIMEOUT', 504, false],
    ['HTTP_STATUS', 502, false],
    ['CONNECT', 502, false],
    ['SOCKET', 502, false],
    ['ABORTED', 499, false],
  ];

  it.each(cases)('maps %s to %i, with a detail that says what failed, not where', (code, status, retryAfter) => {
    const response = problemFor(new LifelineError(code, `payment: connect ECONNREFUSED 10.1.2.3:5432 (${code})`), 'req-1');
    expect(response.status).toBe(status);
    expect(response.headers['content-type']).toBe('application/problem+json');
    expect(response.headers['retry-after']).toBe(retryAfter ? '1' : undefined);
    expect(response.body).toMatchObject({ status, code, requestId: 'req-1' });
    expect(response.body.detail).toMatch(/^[A-Z].+\.$/);
    for (const internal of ['10.1.2.3', 'ECONNREFUSED', 'payment']) expect(JSON.stringify(response.body)).not.toContain(internal);
    expect(response.body.type).toBe(`urn:lifeline:problem:${code.toLowerCase().replaceAll('_', '-')}`);
  });

  it('takes Retry-After from retryAfterMs, in whole seconds rounded up', () => {
    const response = problemFor(new LifelineError('CIRCUIT_OPEN', 'open', { retryAfterMs: 4_200 }));
    expect(response.headers['retry-after']).toBe('5');
    expect(response.body.requestId).toBeUndefined();
  });

  it('maps a dependency HTTP status error to 502, whatever the dependency answered, without its body', () => {
    const response = problemFor(new HttpStatusError(500, {}, 'ERROR: relation "cards" at db-7.internal', { service: 'user' }));
    expect(response.status).toBe(502);
    expect(response.body.detail).toBe('A dependency of this service answered with an error.');
    expect(JSON.stringify(response.body)).not.toContain('db-7');
    expect(problemFor(new LifelineError('CONNECT', 'connect failed: connect ECONNREFUSED 127.0.0.1:1')).body.detail).toBe(
      'A dependency of this service could not be reached.',
    );
    expect(problemFor(new LifelineError('DEADLINE_EXCEEDED', 'payment: deadline exceeded')).body.detail).toBe(
      'The request could not be completed before its deadline.',
    );
  });

  it('answers a header the service could not send (its own bug) as an unexpected error', () => {
    const response = problemFor(new LifelineError('INVALID_HEADER', 'payment: header `x-card` has a CR, LF or NUL in its value'), 'r');
    expect(response.status).toBe(500);
    expect(response.body).toMatchObject({ code: 'INTERNAL', detail: 'The server could not complete the request.' });
  });

  it('answers 500 without the message of anything that is not a Lifeline error', () => {
    for (const error of [new Error('password=hunter2'), 'a string', undefined, { code: 'CIRCUIT_OPEN' }]) {
      const response = problemFor(error, 'r');
      expect(response.status).toBe(500);
      expect(response.body).toEqual({
        type: 'urn:lifeline:problem:internal',
        title: 'Internal Server Error',
        status: 500,
        detail: 'The server could not complete the request.',
        code: 'INTERNAL',
        requestId: 'r',
      });
    }
  });
});

describe('retryAfterSeconds', () => {
  it('is at least 1 and at most a day', () => {
    expect([retryAfterSeconds(undefined), retryAfterSeconds(0), retryAfterSeconds(-5), retryAfterSeconds(NaN)]).toEqual(['1', '1', '1', '1']);
    expect([retryAfterSeconds(1), retryAfterSeconds(1_000), retryAfterSeconds(1_001)]).toEqual(['1', '1', '2']);
    expect(retryAfterSeconds(1e12)).toBe('86400');
  });
});
