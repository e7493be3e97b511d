import { Pool } from 'undici';
import type { TrafficPoint } from './state.ts';

export type CallOutcome = 'paid' | 'pending' | 'failed';

export interface CallRecord {
  /** Epoch ms when the call started and ended. */
  start: number;
  end: number;
  /** The HTTP status, or 0 when no response came (timeout, connection error). */
  status: number;
  outcome: CallOutcome;
  orderId: string | undefined;
}

export interface TrafficOptions {
  /** The order service. */
  url: string;
  /** Order calls per second (Poisson arrivals). */
  rate: number;
  /** How long one order call may take before the caller gives up, ms. Default 5 000. */
  timeoutMs?: number;
  /** Users picked from u1…u{users}. Default 50. */
  users?: number;
  /** At most this many calls in flight; beyond it a call counts as failed at once (the caller's own limit). Default 200. */
  maxInFlight?: number;
  onCall?: (call: CallRecord) => void;
}

/** The p-th percentile (0..100) of a list of numbers, nearest-rank; undefined when empty. */
export function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * The demo's customers: POST /orders at a steady rate, each call bounded by a timeout like a
 * real caller's, every result recorded in one-second windows (requests, accepted, paid,
 * pending, failed, p99). An accepted order is a 201 (paid, or refused by payment) or a 202
 * (pending payment: the order is safe and will be charged).
 */
export class Traffic {
  readonly series: TrafficPoint[] = [];
  readonly totals = { requests: 0, accepted: 0, paid: 0, pending: 0, failed: 0 };
  readonly #pool: Pool;
  readonly #options: Required<Omit<TrafficOptions, 'onCall'>> & Pick<TrafficOptions, 'onCall'>;
  #rate: number;
  #timer: NodeJS.Timeout | undefined;
  #window: { requests: number; latencies: number[]; paid: number; pending: number; failed: number; accepted: number } = Traffic.#empty();
  #windowTimer: NodeJS.Timeout | undefined;
  #inFlight = new Set<Promise<void>>();
  #seq = 0;

  constructor(options: TrafficOptions) {
    this.#options = { timeoutMs: 5_000, users: 50, maxInFlight: 200, ...options };
    this.#rate = options.rate;
    this.#pool = new Pool(options.url, { connections: 64 });
  }

  static #empty() {
    return { requests: 0, latencies: [] as number[], paid: 0, pending: 0, failed: 0, accepted: 0 };
  }

  get rate(): number {
    return this.#rate;
  }

  setRate(rate: number): void {
    this.#rate = rate;
  }

  start(): void {
    if (this.#windowTimer !== undefined) return;
    this.#windowTimer = setInterval(() => this.#closeWindow(), 1_000);
    const tick = (): void => {
      if (this.#rate > 0) this.#fire();
      // Poisson arrivals: exponential gaps with the rate's mean.
      const gap = this.#rate > 0 ? -Math.log(1 - Math.random()) * (1_000 / this.#rate) : 200;
      this.#timer = setTimeout(tick, Math.min(gap, 2_000));
    };
    tick();
  }

  /** Places one order now and resolves with its record. */
  async place(userId?: string, amount?: number): Promise<CallRecord> {
    const start = Date.now();
    this.totals.requests++;
    this.#window.requests++;
    let status = 0;
    let orderId: string | undefined;
    try {
      const res = await this.#pool.request({
        method: 'POST',
        path: '/orders',
        headers: { 'content-type': 'application/json', 'x-request-timeout-ms': String(this.#options.timeoutMs) },
        body: JSON.stringify({
          userId: userId ?? `u${1 + (this.#seq++ % this.#options.users)}`,
          amount: amount ?? 500 + Math.floor(Math.random() * 20_000),
        }),
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      });
      status = res.statusCode;
      const body = (await res.body.json().catch(() => undefined)) as { id?: string; status?: string } | undefined;
      orderId = body?.id;
    } catch {
      status = 0;
    }
    const end = Date.now();
    const outcome: CallOutcome = status === 202 ? 'pending' : status === 201 ? 'paid' : 'failed';
    const record: CallRecord = { start, end, status, outcome, orderId };
    this.#count(record);
    this.#options.onCall?.(record);
    return record;
  }

  #fire(): void {
    if (this.#inFlight.size >= this.#options.maxInFlight) {
      const now = Date.now();
      this.totals.requests++;
      this.#window.requests++;
      const record: CallRecord = { start: now, end: now, status: 0, outcome: 'failed', orderId: undefined };
      this.#count(record);
      this.#options.onCall?.(record);
      return;
    }
    const call = this.place().then(() => undefined);
    this.#inFlight.add(call);
    void call.finally(() => this.#inFlight.delete(call));
  }

  #count(record: CallRecord): void {
    const w = this.#window;
    w.latencies.push(record.end - record.start);
    if (record.outcome === 'failed') {
      w.failed++;
      this.totals.failed++;
      return;
    }
    w.accepted++;
    this.totals.accepted++;
    if (record.outcome === 'pending') {
      w.pending++;
      this.totals.pending++;
    } else {
      w.paid++;
      this.totals.paid++;
    }
  }

  #closeWindow(): void {
    const w = this.#window;
    this.#window = Traffic.#empty();
    const finished = w.accepted + w.failed;
    this.series.push({
      t: Date.now(),
      requests: w.requests,
      successRate: finished === 0 ? null : w.accepted / finished,
      p99: percentile(w.latencies, 99) ?? null,
      paid: w.paid,
      pending: w.pending,
      failed: w.failed,
    });
    if (this.series.length > 120) this.series.shift();
  }

  /** Stops placing orders and waits for the calls in flight (each bounded by the timeout). */
  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    clearInterval(this.#windowTimer);
    this.#timer = this.#windowTimer = undefined;
    await Promise.all([...this.#inFlight]);
    await this.#pool.close();
  }
}
