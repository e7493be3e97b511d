import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import {
  createNoopMeter,
  metrics,
  type Attributes,
  type BatchObservableCallback,
  type Counter,
  type Histogram,
  type Meter,
  type MeterProvider,
  type Observable,
} from '@opentelemetry/api';
import type { LifelineState } from './options.ts';

/** The instrumentation scope of the server's metrics, the same as its SERVER spans'. */
export const METER_NAME = '@lifeline/server';
const SCOPE_VERSION = '0.1.0';

// Semantic-convention attribute names (stable HTTP server conventions).
const METHOD = 'http.request.method';
const SCHEME = 'url.scheme';
const PROTOCOL_VERSION = 'network.protocol.version';
const ROUTE = 'http.route';
const STATUS = 'http.response.status_code';
const ERROR_TYPE = 'error.type';
const REASON = 'lifeline.reason';
const OUTCOME = 'lifeline.outcome';

/** Bucket boundaries the HTTP semantic conventions advise for `http.server.request.duration`, s. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/**
 * The methods the HTTP semantic conventions name; any other is recorded as `_OTHER`, so a
 * client sending made-up methods cannot grow the number of series without bound.
 */
const KNOWN_METHODS: ReadonlyMap<string, string> = new Map(
  ['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'QUERY', 'TRACE'].map((m) => [m, m]),
);

/** `network.protocol.version` as the conventions spell it (`2`, not Node's `2.0`). */
const PROTOCOL_VERSIONS: ReadonlyMap<string, string> = new Map([
  ['1.0', '1.0'],
  ['1.1', '1.1'],
  ['2.0', '2'],
]);

const STATES: Record<LifelineState, number> = { serving: 0, stopping: 1, draining: 2, stopped: 3 };

const NOOP_METER = createNoopMeter();

/**
 * Why a request was answered before any handler work: the concurrency limit's queue was full,
 * no slot freed up within `queueTimeout`, the request's deadline passed while it waited, it
 * arrived with its deadline already spent, or the server was draining.
 */
export type ServerRejectReason = 'queue-full' | 'queue-timeout' | 'deadline' | 'deadline-spent' | 'shutting-down';

/**
 * What the Idempotency-Key guard did. Request outcomes (`lifeline.idempotency.requests`):
 * `executed` (claimed the key and ran), `replayed`, `in-flight` (409), `mismatched` (422),
 * `missing-key` and `invalid-key` (400), `unavailable` (503: the store failed when the key
 * was claimed). Besides them, `released` (a claim given back so that a retry runs again) and
 * `store-error` (any store call that failed) have counters of their own.
 */
export type IdempotencyEvent =
  | 'executed'
  | 'replayed'
  | 'in-flight'
  | 'mismatched'
  | 'missing-key'
  | 'invalid-key'
  | 'unavailable'
  | 'released'
  | 'store-error';

/** The live values the server's gauges report, read at each collection. */
export interface ServerGauges {
  /** Requests whose response is not over yet, queued ones included. */
  inFlight(): number;
  /** Requests waiting for a concurrency slot (0 when shedding is off). */
  queued(): number;
  /** The concurrency limit now (the adaptive limit's latest value), or `undefined` when shedding is off. */
  limit(): number | undefined;
  /** Where the server is in its life. */
  state(): LifelineState;
}

/**
 * The server half's metrics, through the OpenTelemetry metrics API (scope `@lifeline/server`):
 * `http.server.request.duration` per the stable HTTP semantic conventions, requests rejected
 * before any work by reason, Idempotency-Key outcomes, and gauges of the requests in flight,
 * the queue and the shutdown phase.
 *
 * The meter is taken once, at construction, from `meterProvider` or else the global provider:
 * register the OpenTelemetry SDK before creating the Lifeline. With no SDK the meter is the
 * API's no-op meter; then no instrument is created, no callback registered, `enabled` is
 * false, and every method returns after one field check, so a service without an SDK pays
 * nothing per request.
 *
 * @internal Created by the Lifeline; services see the metrics, not this class.
 *
 * @example
 * const metrics = new ServerMetrics(options.meterProvider, {
 *   inFlight: () => inFlight.size,
 *   queued: () => gate.queued,
 *   limit: () => gate.limit,
 *   state: () => state,
 * });
 * const startedAt = metrics.requestStarted();
 * // … when the response is over (its 'close' event):
 * metrics.requestEnded(req, res, route, startedAt);
 */
export class ServerMetrics {
  /** Whether an SDK records these metrics; false with the no-op meter. */
  readonly enabled: boolean;
  readonly #meter: Meter;
  readonly #instruments: Instruments | undefined;
  #observed: { callback: BatchObservableCallback; observables: Observable[] } | undefined;

  constructor(meterProvider: MeterProvider | undefined, gauges: ServerGauges) {
    this.#meter = (meterProvider ?? metrics.getMeterProvider()).getMeter(METER_NAME, SCOPE_VERSION);
    this.enabled = this.#meter !== NOOP_METER;
    if (!this.enabled) return;
    const instruments = createInstruments(this.#meter);
    this.#instruments = instruments;
    const { inFlight, queued, limit, state } = instruments;
    const callback: BatchObservableCallback = (result) => {
      result.observe(inFlight, gauges.inFlight());
      result.observe(queued, gauges.queued());
      const now = gauges.limit();
      if (now !== undefined) result.observe(limit, now);
      result.observe(state, STATES[gauges.state()]);
    };
    const observables = [inFlight, queued, limit, state];
    this.#meter.addBatchObservableCallback(callback, observables);
    this.#observed = { callback, observables };
  }

  /** The time a request starts, to give to {@link requestEnded}: `performance.now()`, or 0 (no clock read) when not enabled. */
  requestStarted(): number {
    return this.#instruments === undefined ? 0 : performance.now();
  }

  /**
   * Records `http.server.request.duration` for a request whose response is over (finished,
   * or its connection closed first). `route` is the route template when known. The status is
   * recorded when a response was sent; `error.type` is the status for a 5xx, else `aborted`
   * when the connection closed before the response was complete.
   */
  requestEnded(req: IncomingMessage, res: ServerResponse, route: string | undefined, startedAt: number): void {
    const instruments = this.#instruments;
    if (instruments === undefined) return;
    const seconds = (performance.now() - startedAt) / 1_000;
    const attributes: Attributes = {
      [METHOD]: KNOWN_METHODS.get(req.method ?? '') ?? '_OTHER',
      [SCHEME]: (req.socket as TLSSocket | null)?.encrypted === true ? 'https' : 'http',
      [PROTOCOL_VERSION]: PROTOCOL_VERSIONS.get(req.httpVersion) ?? req.httpVersion,
    };
    if (route !== undefined) attributes[ROUTE] = route;
    const status = res.statusCode;
    if (res.headersSent) attributes[STATUS] = status;
    if (res.headersSent && status >= 500) attributes[ERROR_TYPE] = String(status);
    else if (!res.writableFinished) attributes[ERROR_TYPE] = 'aborted';
    instruments.duration.record(seconds, attributes);
  }

  /** Counts a request answered before any handler work (503 or 504), by reason. */
  rejected(reason: ServerRejectReason): void {
    const instruments = this.#instruments;
    if (instruments === undefined) return;
    instruments.rejected.add(1, instruments.rejectAttributes[reason]);
  }

  /** Counts what the Idempotency-Key guard did. */
  idempotency(event: IdempotencyEvent): void {
    const instruments = this.#instruments;
    if (instruments === undefined) return;
    const [counter, attributes] = instruments.idempotency[event];
    counter.add(1, attributes);
  }

  /** Stops reporting the gauges (their callbacks hold the Lifeline). Calling it again does nothing. */
  dispose(): void {
    if (this.#observed === undefined) return;
    this.#meter.removeBatchObservableCallback(this.#observed.callback, this.#observed.observables);
    this.#observed = undefined;
  }
}

interface Instruments {
  duration: Histogram;
  rejected: Counter;
  /** One attribute object per reason, made once: counting allocates nothing. */
  rejectAttributes: Record<ServerRejectReason, Attributes>;
  /** The counter of each event, and its attributes, made once. */
  idempotency: Record<IdempotencyEvent, readonly [Counter, Attributes | undefined]>;
  inFlight: Observable;
  queued: Observable;
  limit: Observable;
  state: Observable;
}

function createInstruments(meter: Meter): Instruments {
  const rejected = meter.createCounter('lifeline.server.rejected', {
    description: 'Requests answered 503 or 504 before any handler work (shed, deadline spent, shutting down), by reason.',
    unit: '{request}',
  });
  const reason = (name: ServerRejectReason): Attributes => ({ [REASON]: name });
  const rejectAttributes: Record<ServerRejectReason, Attributes> = {
    'queue-full': reason('queue-full'),
    'queue-timeout': reason('queue-timeout'),
    deadline: reason('deadline'),
    'deadline-spent': reason('deadline-spent'),
    'shutting-down': reason('shutting-down'),
  };

  const requests = meter.createCounter('lifeline.idempotency.requests', {
    description: 'Requests on Idempotency-Key routes, by what the guard did with their key.',
    unit: '{request}',
  });
  const released = meter.createCounter('lifeline.idempotency.released', {
    description: 'Claims on a key given back (the handler threw or answered 5xx), so that a retry runs again.',
    unit: '{claim}',
  });
  const storeErrors = meter.createCounter('lifeline.idempotency.store_errors', {
    description: 'Idempotency store calls that failed.',
    unit: '{error}',
  });
  const outcome = (name: IdempotencyEvent): readonly [Counter, Attributes] => [requests, { [OUTCOME]: name }];
  const idempotency: Record<IdempotencyEvent, readonly [Counter, Attributes | undefined]> = {
    executed: outcome('executed'),
    replayed: outcome('replayed'),
    'in-flight': outcome('in-flight'),
    mismatched: outcome('mismatched'),
    'missing-key': outcome('missing-key'),
    'invalid-key': outcome('invalid-key'),
    unavailable: outcome('unavailable'),
    released: [released, undefined],
    'store-error': [storeErrors, undefined],
  };

  return {
    duration: meter.createHistogram('http.server.request.duration', {
      description: 'Duration of HTTP server requests, from the request being seen to its response being over.',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    }),
    rejected,
    rejectAttributes,
    idempotency,
    inFlight: meter.createObservableUpDownCounter('lifeline.server.in_flight', {
      description: 'Requests whose response is not over yet, queued ones included.',
      unit: '{request}',
    }),
    queued: meter.createObservableUpDownCounter('lifeline.server.queued', {
      description: 'Requests waiting for a concurrency slot.',
      unit: '{request}',
    }),
    limit: meter.createObservableGauge('lifeline.server.limit', {
      description: 'The concurrency limit now: the adaptive limit as it follows latency, or the static one.',
      unit: '{request}',
    }),
    state: meter.createObservableGauge('lifeline.server.state', {
      description: 'Where the server is in its life: 0 serving, 1 stopping, 2 draining, 3 stopped.',
    }),
  };
}
