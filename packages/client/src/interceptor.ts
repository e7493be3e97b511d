import { abortError, checkDuration, checkObject, checkOptionNames, CoarseTimer, Deadline, optionNames, systemClock } from '@lifeline/core';
import { currentRequestContext, newRequestId, parentContext, REQUEST_ID } from '@lifeline/trace';
import type { RetryPolicy, RetryPolicyOptions } from '@lifeline/retry';
import { Agent, type Dispatcher } from 'undici';
import { Call, type CallSettings } from './call.ts';
import { isIdempotentMethod } from './idempotency.ts';
import { isReplayable, resolveRetry } from './options.ts';
import { startCallTrace, Telemetry, type TelemetryOptions } from './telemetry.ts';

export interface InterceptorOptions extends TelemetryOptions {
  /** Name used in errors. Default `http`. */
  name?: string;
  /** Total deadline of a request, retries included, ms. Default 10 000. */
  timeout?: number;
  /** Limit on one attempt, until response headers, ms. Default 2 000. */
  attemptTimeout?: number;
  /** The retry policy, its options, or `false`. Default: 3 attempts in a 20 % budget. */
  retry?: RetryPolicy | RetryPolicyOptions | false;
}

const INTERCEPTOR_OPTIONS = optionNames<InterceptorOptions>({
  name: true,
  timeout: true,
  attemptTimeout: true,
  retry: true,
  tracerProvider: true,
  meterProvider: true,
});

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
  checkOptionNames('', options, INTERCEPTOR_OPTIONS);
  const timeout = checkDuration('timeout', options.timeout ?? 10_000, true);
  const attemptTimeout = checkDuration('attemptTimeout', options.attemptTimeout ?? 2_000, true);
  const retry = resolveRetry(options.retry);
  const service = options.name ?? 'http';
  const settings: CallSettings = {
    service,
    retry,
    attemptTimeout,
    timer: new CoarseTimer(),
    clock: systemClock,
    breaker: undefined,
    pool: undefined,
    ownHeaders: false,
    telemetry: new Telemetry(service, options),
  };
  return (dispatch) => (opts, handler) => {
    const idempotent = isIdempotentMethod(opts.method) || headerValue(opts.headers, 'idempotency-key') !== undefined;
    // Inside a request handled by @lifeline/server: its deadline, cancellation, id and trace carry over.
    const inbound = currentRequestContext();
    const deadline = Deadline.after(timeout).min(inbound?.deadline);
    const requestId = headerValue(opts.headers, REQUEST_ID) ?? inbound?.requestId ?? newRequestId();
    const callTrace = startCallTrace(settings.telemetry, opts.method, parentContext(inbound), requestId);
    const signal = inbound?.signal;
    const call = new Call(settings, dispatch, opts, handler, deadline, signal, idempotent, isReplayable(opts.body), callTrace);
    if (signal !== undefined) {
      const onAbort = (): void => call.abort(abortError(signal));
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        call.onSettled = () => signal.removeEventListener('abort', onAbort);
      }
    }
    call.start();
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
  const { agent, ...interceptor } = options;
  return new Agent(agent).compose(createInterceptor(interceptor));
}

/** The first string value of header `name` (lower case), in any form undici accepts headers. */
function headerValue(headers: Dispatcher.DispatchOptions['headers'], name: string): string | undefined {
  if (headers === undefined || headers === null) return undefined;
  const first = (value: unknown): string | undefined =>
    typeof value === 'string' ? value : Array.isArray(value) && typeof value[0] === 'string' ? value[0] : undefined;
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) if (String(headers[i]).toLowerCase() === name) return first(headers[i + 1]);
    return undefined;
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [key, value] of headers as Iterable<[string, string | string[]]>) if (key.toLowerCase() === name) return first(value);
    return undefined;
  }
  const record = headers as Record<string, unknown>;
  for (const key in record) if (key.toLowerCase() === name) return first(record[key]);
  return undefined;
}
