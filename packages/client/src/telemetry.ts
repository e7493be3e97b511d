import type { AdaptiveThrottle, Breaker, BreakerState } from '@lifeline/breaker';
import type { Limiter } from '@lifeline/bulkhead';
import { isLifelineError, type Disposable } from '@lifeline/core';
import type { ServicePool } from '@lifeline/discovery';
import { registeredTracer } from '@lifeline/trace';
import {
  createNoopMeter,
  metrics,
  SpanKind,
  SpanStatusCode,
  type Attributes,
  type BatchObservableCallback,
  type Context,
  type Counter,
  type Histogram,
  type Meter,
  type MeterProvider,
  type Observable,
  type Span,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';

/** The instrumentation scope of the client's spans and metrics. */
export const INSTRUMENTATION_SCOPE = '@lifeline/client';
const SCOPE_VERSION = '0.1.0';

/** Where the client's spans and metrics go. Both default to the global OpenTelemetry providers. */
export interface TelemetryOptions {
  /** Default: the registered OpenTelemetry SDK's, looked up per call (none registered: no spans are started). */
  tracerProvider?: TracerProvider;
  /**
   * Default: the global meter provider, looked up when the client is created — register the
   * OpenTelemetry SDK before creating clients.
   */
  meterProvider?: MeterProvider;
}

/** The parts of a client whose state is reported as metrics. @internal */
export interface ObservedParts {
  breaker: Breaker | undefined;
  bulkhead: Limiter | undefined;
  pool: ServicePool | undefined;
  throttle?: AdaptiveThrottle | undefined;
}

// Semantic-convention attribute names (stable HTTP client conventions).
const METHOD = 'http.request.method';
const STATUS = 'http.response.status_code';
const RESEND_COUNT = 'http.request.resend_count';
const SERVER_ADDRESS = 'server.address';
const SERVER_PORT = 'server.port';
const URL_FULL = 'url.full';
const ERROR_TYPE = 'error.type';
/** The dependency's name, on every span and metric of the client. */
const SERVICE = 'lifeline.service';

/** Bucket boundaries the HTTP semantic conventions advise for `http.client.request.duration`, s. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

const BREAKER_STATES: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2, 'forced-open': 2, disabled: 0 };

const NOOP_METER = createNoopMeter();

/** Host and port of an origin, parsed once per origin. */
const origins = new Map<string, { address: string; port: number }>();
function originParts(origin: string): { address: string; port: number } {
  let parts = origins.get(origin);
  if (parts === undefined) {
    try {
      const url = new URL(origin);
      const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
      parts = { address: host, port: url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port) };
    } catch {
      parts = { address: origin, port: 0 };
    }
    if (origins.size > 10_000) origins.clear();
    origins.set(origin, parts);
  }
  return parts;
}

/**
 * `error.type` for a failed attempt or call: the status for an HTTP error status (>= 400, an
 * error for a client), the
 * Lifeline error code (`ATTEMPT_TIMEOUT`, `CONNECT`, `CIRCUIT_OPEN`…), else the error's class.
 */
export function errorType(status: number, error: unknown): string | undefined {
  if (error === undefined) return status >= 400 ? String(status) : undefined;
  if (isLifelineError(error)) {
    const httpStatus = (error as { status?: unknown }).status;
    return error.code === 'HTTP_STATUS' && typeof httpStatus === 'number' ? String(httpStatus) : error.code;
  }
  return error instanceof Error && error.name !== 'Error' ? error.name : '_OTHER';
}

/**
 * The spans and metrics of one client (or one interceptor): a span per call, a CLIENT span
 * per attempt, and the OpenTelemetry metrics. Everything goes through `@opentelemetry/api`:
 * with no SDK registered, spans are non-recording, metrics are not recorded, and the inbound
 * trace context is still passed on.
 *
 * @internal
 */
export class Telemetry {
  readonly service: string;
  /** The tracer of an explicit `tracerProvider`. */
  readonly #tracer: Tracer | undefined;
  readonly #meter: Meter;
  /** Undefined when no meter provider is registered: nothing is measured. */
  readonly #instruments: Instruments | undefined;
  readonly #subscriptions: Disposable[] = [];
  #observed: { callback: BatchObservableCallback; observables: Observable[] } | undefined;

  constructor(service: string, options: TelemetryOptions = {}) {
    this.service = service;
    this.#tracer = options.tracerProvider?.getTracer(INSTRUMENTATION_SCOPE, SCOPE_VERSION);
    this.#meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(INSTRUMENTATION_SCOPE, SCOPE_VERSION);
    this.#instruments = this.#meter === NOOP_METER ? undefined : createInstruments(this.#meter);
  }

  /** The tracer spans go to: the explicit provider's, else the registered SDK's; `undefined` when there is none. */
  tracer(): Tracer | undefined {
    return this.#tracer ?? registeredTracer(INSTRUMENTATION_SCOPE);
  }

  /** Starts the span of one logical call (INTERNAL), a child of `parent`. */
  startCall(tracer: Tracer, method: string, parent: Context): Span {
    return tracer.startSpan(
      `${method} ${this.service}`,
      { kind: SpanKind.INTERNAL, attributes: { [SERVICE]: this.service, [METHOD]: method } },
      parent,
    );
  }

  /** Ends a call's span: its status, attempts and error. */
  endCall(span: Span | undefined, status: number, error: unknown, attempts: number): void {
    if (span === undefined) return;
    if (!span.isRecording()) {
      span.end();
      return;
    }
    span.setAttribute('lifeline.attempts', attempts);
    if (status > 0) span.setAttribute(STATUS, status);
    const type = errorType(status, error);
    if (type !== undefined) {
      span.setAttribute(ERROR_TYPE, type);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : undefined });
    }
    span.end();
  }

  /** Starts the CLIENT span of one attempt, a child of the call's span (in `callContext`). */
  startAttempt(tracer: Tracer, callContext: Context, method: string, origin: string, path: string, attempt: number): Span {
    const { address, port } = originParts(origin);
    const attributes: Attributes = {
      [METHOD]: method,
      [SERVER_ADDRESS]: address,
      [SERVER_PORT]: port,
      [URL_FULL]: origin + path,
      [SERVICE]: this.service,
    };
    if (attempt > 1) attributes[RESEND_COUNT] = attempt - 1;
    return tracer.startSpan(method, { kind: SpanKind.CLIENT, attributes }, callContext);
  }

  /** Ends an attempt: its span (when there is one) and the attempt metrics. */
  endAttempt(span: Span | undefined, method: string, origin: string, status: number, error: unknown, seconds: number, cancelled: boolean): void {
    const type = cancelled ? 'ABORTED' : errorType(status, error);
    if (span !== undefined) {
      if (status > 0) span.setAttribute(STATUS, status);
      if (type !== undefined) {
        span.setAttribute(ERROR_TYPE, type);
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    }
    const instruments = this.#instruments;
    if (instruments === undefined) return;
    const { address, port } = originParts(origin);
    const attributes: Attributes = { [METHOD]: method, [SERVER_ADDRESS]: address, [SERVER_PORT]: port, [SERVICE]: this.service };
    if (status > 0) attributes[STATUS] = status;
    if (type !== undefined) attributes[ERROR_TYPE] = type;
    instruments.duration.record(seconds, attributes);
    instruments.attempts.add(1, {
      [SERVICE]: this.service,
      'lifeline.outcome': cancelled ? 'cancelled' : type === undefined ? 'success' : 'failure',
    });
  }

  /** A retry was decided: counted, and an event on the call's span. */
  retried(span: Span | undefined, attempt: number, delay: number, status: number, error: unknown): void {
    this.#instruments?.retries.add(1, { [SERVICE]: this.service });
    if (span?.isRecording() === true) {
      span.addEvent('lifeline.retry', { 'lifeline.attempt': attempt, 'lifeline.retry.delay_ms': Math.round(delay), [ERROR_TYPE]: errorType(status, error) ?? '_OTHER' });
    }
  }

  /** No retry followed a failed attempt: an event on the call's span saying why (budget exhaustion is counted). */
  gaveUp(span: Span | undefined, reason: string, attempt: number): void {
    if (reason === 'budget') this.#instruments?.budgetExhausted.add(1, { [SERVICE]: this.service });
    if (span?.isRecording() === true) {
      span.addEvent(reason === 'budget' ? 'lifeline.retry_budget.exhausted' : 'lifeline.retry.stopped', {
        'lifeline.attempt': attempt,
        'lifeline.retry.reason': reason,
      });
    }
  }

  /**
   * An attempt was refused before it was sent (throttled, open breaker, no endpoint): an event
   * on the call's span; a throttled one is counted (`lifeline.client.throttled`).
   */
  refused(span: Span | undefined, error: unknown): void {
    const code = isLifelineError(error) ? error.code : '_OTHER';
    if (code === 'THROTTLED') this.#instruments?.throttled.add(1, { [SERVICE]: this.service });
    if (span?.isRecording() !== true) return;
    const event = code === 'CIRCUIT_OPEN' ? 'lifeline.breaker.rejected' : code === 'THROTTLED' ? 'lifeline.throttle.rejected' : 'lifeline.endpoint.unavailable';
    span.addEvent(event, { [ERROR_TYPE]: code });
  }

  /** The attempt's endpoint was ejected by its outcome: an event on the call's span. */
  ejected(span: Span | undefined, endpoint: string): void {
    if (span?.isRecording() === true) span.addEvent('lifeline.endpoint.ejected', { 'lifeline.endpoint': endpoint });
  }

  /**
   * Reports the state of the client's breaker, bulkhead, endpoints and retry budget as
   * observable gauges, and counts bulkhead rejections. Undone by {@link close}.
   */
  observe(parts: ObservedParts): void {
    const instruments = this.#instruments;
    if (instruments === undefined) return;
    const meter = this.#meter;
    const { breaker, bulkhead, pool, throttle } = parts;
    const service = { [SERVICE]: this.service };
    const observables: Observable[] = [];
    const breakerState = meter.createObservableGauge('lifeline.breaker.state', {
      description: 'Circuit breaker state: 0 closed, 1 half-open, 2 open (per endpoint with discovery).',
    });
    const inFlight = meter.createObservableUpDownCounter('lifeline.bulkhead.in_flight', { description: 'Calls holding a bulkhead slot.', unit: '{call}' });
    const queued = meter.createObservableUpDownCounter('lifeline.bulkhead.queued', { description: 'Calls waiting for a bulkhead slot.', unit: '{call}' });
    const healthy = meter.createObservableUpDownCounter('lifeline.endpoints.healthy', { description: 'Endpoints the balancer routes to.', unit: '{endpoint}' });
    const ejected = meter.createObservableUpDownCounter('lifeline.endpoints.ejected', { description: 'Endpoints ejected as outliers.', unit: '{endpoint}' });
    if (breaker !== undefined || pool !== undefined) observables.push(breakerState);
    if (bulkhead !== undefined) observables.push(inFlight, queued);
    const rejection = meter.createObservableGauge('lifeline.throttle.rejection_probability', {
      description: 'The probability client-side adaptive throttling rejects the next attempt locally, 0–1.',
    });
    if (pool !== undefined) observables.push(healthy, ejected);
    if (throttle !== undefined) observables.push(rejection);
    const callback: BatchObservableCallback = (result) => {
      if (breaker !== undefined) result.observe(breakerState, BREAKER_STATES[breaker.state], service);
      if (bulkhead !== undefined) {
        result.observe(inFlight, bulkhead.inFlight, service);
        result.observe(queued, bulkhead.queued, service);
      }
      if (throttle !== undefined) result.observe(rejection, throttle.rejectionProbability, service);
      if (pool !== undefined) {
        const snapshot = pool.snapshot();
        result.observe(healthy, snapshot.healthy, service);
        result.observe(ejected, snapshot.ejected, service);
        for (const endpoint of snapshot.endpoints) {
          result.observe(breakerState, BREAKER_STATES[endpoint.breaker], { ...service, 'lifeline.endpoint': endpoint.address });
        }
      }
    };
    if (observables.length > 0) {
      meter.addBatchObservableCallback(callback, observables);
      this.#observed = { callback, observables };
    }
    if (bulkhead !== undefined) {
      this.#subscriptions.push(
        bulkhead.onRejected((rejection) => instruments.bulkheadRejected.add(1, { ...service, 'lifeline.reason': rejection.reason })),
      );
    }
  }

  close(): void {
    for (const s of this.#subscriptions.splice(0)) s.dispose();
    if (this.#observed !== undefined) {
      this.#meter.removeBatchObservableCallback(this.#observed.callback, this.#observed.observables);
      this.#observed = undefined;
    }
  }
}

interface Instruments {
  duration: Histogram;
  attempts: Counter;
  retries: Counter;
  budgetExhausted: Counter;
  bulkheadRejected: Counter;
  throttled: Counter;
}

function createInstruments(meter: Meter): Instruments {
  return {
    duration: meter.createHistogram('http.client.request.duration', {
      description: 'Duration of HTTP client requests (one per attempt, to response headers).',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    }),
    attempts: meter.createCounter('lifeline.client.attempts', { description: 'Attempts sent, by outcome.', unit: '{attempt}' }),
    retries: meter.createCounter('lifeline.client.retries', { description: 'Retries decided.', unit: '{retry}' }),
    budgetExhausted: meter.createCounter('lifeline.retry_budget.exhausted', {
      description: 'Retries that were warranted but refused by the retry budget.',
      unit: '{retry}',
    }),
    bulkheadRejected: meter.createCounter('lifeline.bulkhead.rejected', { description: 'Calls the bulkhead turned away.', unit: '{call}' }),
    throttled: meter.createCounter('lifeline.client.throttled', {
      description: 'Attempts rejected locally by client-side adaptive throttling, never sent.',
      unit: '{attempt}',
    }),
  };
}
