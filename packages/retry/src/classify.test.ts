import { LifelineError } from '@lifeline/core';
import { describe, expect, it } from 'vitest';
import { errorCodeOf, isConnectFailure, isRetryable, isTransientNetworkError, isTransientStatus } from './classify.ts';

const withCode = (code: string): Error => Object.assign(new Error(code), { code });

describe('classification', () => {
  it('statuses: 429/502/503/504 always, 500 only when idempotent, never 4xx/501', () => {
    for (const s of [429, 502, 503, 504]) expect(isTransientStatus(s, { idempotent: false })).toBe(true);
    expect(isTransientStatus(500, { idempotent: true })).toBe(true);
    expect(isTransientStatus(500, { idempotent: false })).toBe(false);
    for (const s of [200, 400, 401, 404, 409, 422, 501, 505]) expect(isTransientStatus(s, { idempotent: true })).toBe(false);
  });

  it('connect failures are the ones where nothing was sent', () => {
    expect(isConnectFailure(withCode('ECONNREFUSED'))).toBe(true);
    expect(isConnectFailure(withCode('UND_ERR_CONNECT_TIMEOUT'))).toBe(true);
    expect(isConnectFailure(withCode('ECONNRESET'))).toBe(false);
    expect(isTransientNetworkError(withCode('ECONNRESET'))).toBe(true);
    expect(isTransientNetworkError(withCode('UND_ERR_SOCKET'))).toBe(true);
    expect(isTransientNetworkError(withCode('ERR_INVALID_ARG_TYPE'))).toBe(false);
    expect(isTransientNetworkError(new Error('no code'))).toBe(false);
  });

  it('finds the code in a cause chain, as fetch wraps it', () => {
    const wrapped = new TypeError('fetch failed', { cause: withCode('ECONNRESET') });
    expect(errorCodeOf(wrapped)).toBe('ECONNRESET');
    expect(isTransientNetworkError(wrapped)).toBe(true);
    expect(errorCodeOf('string')).toBeUndefined();
  });

  it('a Lifeline error decides for itself', () => {
    expect(isRetryable(new LifelineError('ATTEMPT_TIMEOUT', 't', { retryable: true }))).toBe(true);
    expect(isRetryable(new LifelineError('SOCKET', 's', { retryable: false }))).toBe(false);
    expect(isRetryable(withCode('ECONNREFUSED'))).toBe(true);
    expect(isRetryable(new Error('bug'))).toBe(false);
  });
});
