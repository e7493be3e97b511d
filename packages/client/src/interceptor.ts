import { checkDuration, checkObject, CoarseTimer, Deadline, systemClock } from '@lifeline/core';
import type { RetryPolicy, RetryPolicyOptions } from '@lifeline/retry';
import { Agent, type Dispatcher } from 'undici';
import { Call, type CallSettings } from './call.ts';
import { isIdempotentMethod } from './idempotency.ts';
import { isReplayable, resolveRetry } from './options.ts';

export interface InterceptorOptions {
  /** Name used in errors. Default `http`. */
  name?: string;
  /** Total deadline of a request, retries included, ms. Default 10 000. */
  timeout?: number;
  /** Limit on one attempt, until response headers, ms. Default 2 000. */
  attemptTimeout?: number;
  /** The retry policy, its options, or `false`. Default: 3 attempts in a 20 % budget. */
  retry?: RetryPolicy | RetryPolicyOptions | false;
}

/**
 * The client's policy as an undici interceptor, so `fetch()` and `undici.request()` get
 * deadlines, per-attempt timeouts and budgeted retries too. Statuses are not turned into
 * errors: when retries end, the last response is what the caller receives. A POST or PATCH
 * is retried only when it carries an `Idempotency-Key` header and a body that can be sent
 * again.
 *
 * @example
 * import { Agent, fetch } from 'undici';
 * const dispatcher = new Agent().compose(createInterceptor({ timeout: 5_000 }));
 * const res = await fetch('http://127.0.0.1:8080/users/1', { dispatcher });
 */
export function createInterceptor(options: InterceptorOptions = {}): Dispatcher.DispatcherComposeInterceptor {
  checkObject('options', options);
  const timeout = checkDuration('timeout', options.timeout ?? 10_000, true);
  const attemptTimeout = checkDuration('attemptTimeout', options.attemptTimeout ?? 2_000, true);
  const retry = resolveRetry(options.retry);
  const settings: CallSettings = {
    service: options.name ?? 'http',
    retry,
    attemptTimeout,
    timer: new CoarseTimer(),
    clock: systemClock,
    breaker: undefined,
    pool: undefined,
    ownHeaders: false,
  };
  return (dispatch) => (opts, handler) => {
    const idempotent = isIdempotentMethod(opts.method) || hasHeader(opts.headers, 'idempotency-key');
    const deadline = Deadline.after(timeout);
    new Call(settings, dispatch, opts, handler, deadline, undefined, idempotent, isReplayable(opts.body)).start();
    return true;
  };
}

/**
 * An undici `Agent` with the Lifeline interceptor composed in: pass it as `dispatcher`.
 *
 * @example
 * const dispatcher = createDispatcher({ timeout: 3_000, retry: { maxAttempts: 2 } });
 * await undici.request('http://127.0.0.1:8080/health', { dispatcher });
 */
export function createDispatcher(options: InterceptorOptions & { agent?: Agent.Options } = {}): Dispatcher {
  return new Agent(options.agent).compose(createInterceptor(options));
}

function hasHeader(headers: Dispatcher.DispatchOptions['headers'], name: string): boolean {
  if (headers === undefined || headers === null) return false;
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) if (String(headers[i]).toLowerCase() === name) return true;
    return false;
  }
  if (typeof headers === 'object') {
    for (const key of Object.keys(headers)) if (key.toLowerCase() === name) return true;
  }
  return false;
}
