import { describe, expect, expectTypeOf, it } from 'vitest';
import { ErrorCode } from './codes.ts';
import { type ErrorForCode, errorMarker, isLifelineError, LifelineError, withoutStack } from './errors.ts';
import { isCircuitOpen, isDeadlineExceeded, isHttpStatusError } from './guards.ts';
import { HttpStatusError } from './http-status-error.ts';

describe('LifelineError', () => {
  it('carries code, retryable, cause and call facts', () => {
    const cause = new Error('ECONNRESET');
    const error = new LifelineError('SOCKET', 'connection lost', {
      retryable: true,
      cause,
      service: 'payment',
      attempts: 2,
      elapsedMs: 12,
    });
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('SOCKET');
    expect(error.retryable).toBe(true);
    expect(error.cause).toBe(cause);
    expect(error.name).toBe('LifelineError');
    expect(error.toJSON()).toMatchObject({ code: 'SOCKET', service: 'payment', attempts: 2, cause: { message: 'ECONNRESET' } });
  });

  it('is recognised by Symbol.for markers, so a copy from another package instance matches', () => {
    // An object built by "another copy" of the package: same global symbols, different class.
    const foreign = Object.assign(new Error('x'), {
      [Symbol.for('lifeline.error')]: true,
      [Symbol.for('lifeline.error.CIRCUIT_OPEN')]: true,
    });
    expect(isLifelineError(foreign)).toBe(true);
    expect(isCircuitOpen(foreign)).toBe(true);
    expect(isDeadlineExceeded(foreign)).toBe(false);
    expect(isLifelineError(new Error('plain'))).toBe(false);
    expect(isLifelineError(null)).toBe(false);
    expect(isLifelineError('CIRCUIT_OPEN')).toBe(false);
  });

  it('has one marker per code, named lifeline.error.<code>', () => {
    for (const code of Object.values(ErrorCode)) {
      expect(errorMarker(code)).toBe(Symbol.for(`lifeline.error.${code}`));
      const error = new LifelineError(code, code);
      expect(isLifelineError(error, code)).toBe(true);
      const other = Object.values(ErrorCode).find((c) => c !== code)!;
      expect(isLifelineError(error, other)).toBe(false);
    }
  });

  it('HttpStatusError is an HTTP_STATUS error with status, headers and body', () => {
    const error = new HttpStatusError(503, { 'retry-after': '1' }, 'busy', { service: 'payment', retryable: true });
    expect(isHttpStatusError(error)).toBe(true);
    expect(error.message).toBe('payment answered 503');
    expect(error.toJSON()).toMatchObject({ code: 'HTTP_STATUS', status: 503, body: 'busy' });
  });

  // Checked by tsc (`pnpm typecheck`): a wrong narrowing fails the type check, not the run.
  it('narrows per code: HTTP_STATUS to HttpStatusError, every other code to LifelineError', () => {
    // Through a function returning unknown, as a catch clause gives it: tsc must not narrow
    // by the assignment.
    const caught = (): unknown => new HttpStatusError(404, {}, 'no such user', { service: 'users' });

    const notFound = caught();
    expect(isLifelineError(notFound, 'HTTP_STATUS') && notFound.status === 404).toBe(true);
    if (isLifelineError(notFound, 'HTTP_STATUS')) expectTypeOf(notFound).toEqualTypeOf<HttpStatusError>();

    const other = caught();
    if (isLifelineError(other, 'DEADLINE_EXCEEDED')) {
      expectTypeOf(other).toEqualTypeOf<LifelineError>();
      // @ts-expect-error -- only HTTP_STATUS errors carry a status
      void other.status;
    }
    const any = caught();
    if (isLifelineError(any)) expectTypeOf(any).toEqualTypeOf<LifelineError>();
    const maybe = caught();
    const code = undefined as ErrorCode | undefined;
    if (isLifelineError(maybe, code)) expectTypeOf(maybe).toEqualTypeOf<LifelineError>();

    expectTypeOf<ErrorForCode<'HTTP_STATUS'>>().toEqualTypeOf<HttpStatusError>();
    expectTypeOf<ErrorForCode<'CIRCUIT_OPEN'>>().toEqualTypeOf<LifelineError>();
  });

  it('withoutStack builds errors with no captured frames and restores the limit', () => {
    const before = Error.stackTraceLimit;
    const error = withoutStack(() => new LifelineError('CIRCUIT_OPEN', 'open'));
    expect(Error.stackTraceLimit).toBe(before);
    expect(error.stack?.split('\n').length).toBe(1);
  });
});
