/**
 * What the dashboard shows: one `DashboardState` object, sent as a Server-Sent Event
 * (`event: state`) about twice a second on `GET /events`, and answered on `GET /api/state`.
 * Every figure in it is read from the running processes (their `/admin/*` endpoints, the
 * spans they export over OTLP, the demo's own traffic driver); nothing is simulated.
 */

/** A breaker as `@lifeline/breaker` reports it. */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface InstanceView {
  /** `user-1`, `order-1`, `payment-1`, `payment-2`. */
  id: string;
  service: 'user' | 'order' | 'payment';
  url: string;
  pid: number | undefined;
  /** `down`: the process is not running (killed from the page, or crashed). */
  status: 'starting' | 'up' | 'down';
  /** Its `/health/ready` answered 200 at the last poll. */
  ready: boolean;
  /** Requests it is handling now (the server's shedding snapshot). */
  inFlight: number;
  /** Requests it answered with 503 OVERLOADED since it started. */
  shed: number;
  /** The faults injected into it now, as labels (`latency 3000 ms on POST /charges (100 %)`). */
  faults: string[];
}

/** How the order service sees one payment (or user) endpoint. */
export interface EndpointView {
  /** `127.0.0.1:4101`. */
  address: string;
  /** The instance id it belongs to, when known (`payment-1`). */
  instance: string | undefined;
  breaker: BreakerState;
  ejected: boolean;
  inFlight: number;
  /** Failures ÷ calls in the breaker's current window, 0..1 (the window empties when it opens or closes). */
  failureRate: number;
  /** Calls in the breaker's current window. */
  windowCalls: number;
  /** The break the breaker takes when open, ms (it grows with failed probes and ejections close together). */
  breakMs: number | undefined;
  /** While open: ms until its break ends; a passing health check (every 500 ms) may end it sooner. */
  nextProbeInMs: number | undefined;
  /** While open: why it opened (`consecutive-failures`, `failure-ratio`, `probe-failed`, …). */
  openedBecause: string | undefined;
}

/** The order service's client for one dependency. */
export interface DependencyView {
  service: 'user' | 'payment';
  /** The client-level breaker (without discovery) or the worst endpoint's state. */
  breaker: BreakerState;
  endpoints: EndpointView[];
  bulkhead: { inFlight: number; queued: number; maxConcurrent: number; maxQueue: number; rejected: number };
  retryBudget: { available: number; allowed: number; exhausted: boolean; requests: number; retries: number };
}

export interface TrafficPoint {
  /** Epoch ms, end of the 1 s window. */
  t: number;
  /** Order calls started in the window. */
  requests: number;
  /** Share of order calls answered 201 or 202 (the order was accepted), 0..1; null when none finished. */
  successRate: number | null;
  /** p99 latency of the order calls that finished in the window, ms; null when none. */
  p99: number | null;
  /** Orders paid at once (201 paid) in the window. */
  paid: number;
  /** Orders accepted as pending_payment (202) in the window. */
  pending: number;
  /** Order calls that failed (error status, timeout, connection error). */
  failed: number;
}

export interface SpanView {
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  /** The exporting service (`order`, `payment-2`…). */
  service: string;
  /** 'server' | 'client' | 'internal'. */
  kind: string;
  /** Ms from the trace's first span start. */
  start: number;
  duration: number;
  /** true when the span's status is error (or it has error.type). */
  error: boolean;
  /** A few attributes worth showing: http.response.status_code, error.type, http.request.resend_count, url.path. */
  attributes: Record<string, string | number | boolean>;
  /** Span event names (lifeline.retry, lifeline.breaker.rejected…). */
  events: string[];
}

export interface TraceView {
  traceId: string;
  /** The root span's name (`POST /orders`). */
  name: string;
  /** Epoch ms of the first span. */
  startedAt: number;
  duration: number;
  error: boolean;
  spans: SpanView[];
}

export interface DashboardState {
  /** Epoch ms when this state was put together. */
  t: number;
  instances: InstanceView[];
  /** The order service's clients, one per dependency (empty while order is down). */
  dependencies: DependencyView[];
  /** The last 120 one-second windows of the demo's order traffic, oldest first. */
  series: TrafficPoint[];
  totals: { requests: number; accepted: number; paid: number; pending: number; failed: number; settled: number };
  /** Orders by state, from the order service (`paid`, `pending_payment`, `payment_failed`). */
  orders: Record<string, number>;
  /** From the payment ledger: charges made, and orders charged more than once (must stay 0). */
  ledger: { charges: number; duplicateCharges: number };
  /** The last traces (newest first, at most 8), complete enough to draw as waterfalls. */
  traces: TraceView[];
  /** The demo's traffic rate now, order calls per second. */
  rate: number;
  /** Human-readable notes, newest first (at most 20): faults injected, instances killed, breakers opening. */
  log: { t: number; text: string }[];
}

/** The fault buttons: `POST /api/faults` with one of these as JSON. */
export type FaultAction =
  | { action: 'slow-payment'; ms?: number }
  | { action: 'failing-payment'; percent?: number }
  | { action: 'lost-responses'; percent?: number }
  | { action: 'kill'; instance: string }
  | { action: 'restart'; instance: string }
  | { action: 'clear' };
