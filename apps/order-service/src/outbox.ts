import type { Logger } from 'pino';
import type { Dependencies } from './dependencies.ts';
import type { OrderStore } from './orders.ts';

export interface OutboxOptions {
  /** How often the worker looks for due entries, ms. Default 500. */
  intervalMs?: number;
  /** Entries taken per round. Default 20. */
  batch?: number;
  /** Charges in flight at once. Default 4. */
  concurrency?: number;
  /** First wait after a failed attempt, ms, doubling per attempt (jittered). Default 500. */
  backoffMs?: number;
  /** Longest wait between attempts, ms. Default 10 000. */
  maxBackoffMs?: number;
  logger?: Logger;
}

/**
 * Settles `pending_payment` orders: charges each with the order's own Idempotency-Key
 * (a charge the payment service made but whose answer was lost is answered from its
 * idempotency store, not made again), backs off per order between attempts, and pauses a
 * round when payment says when to come back (an open circuit's `retryAfterMs`).
 */
export class OutboxWorker {
  /** Orders this worker settled (paid or refused). */
  settled = 0;
  /** Charge attempts it made. */
  attempts = 0;
  readonly #store: OrderStore;
  readonly #deps: Dependencies;
  readonly #intervalMs: number;
  readonly #batch: number;
  readonly #concurrency: number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #logger: Logger | undefined;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #pausedUntil = 0;
  #paused = false;
  #stopped = false;

  constructor(store: OrderStore, deps: Dependencies, options: OutboxOptions = {}) {
    this.#store = store;
    this.#deps = deps;
    this.#intervalMs = options.intervalMs ?? 500;
    this.#batch = options.batch ?? 20;
    this.#concurrency = options.concurrency ?? 4;
    this.#backoffMs = options.backoffMs ?? 500;
    this.#maxBackoffMs = options.maxBackoffMs ?? 10_000;
    this.#logger = options.logger;
  }

  start(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    this.#timer = setInterval(() => {
      if (this.#round === undefined) this.#round = this.runOnce().finally(() => (this.#round = undefined)).then(() => undefined);
    }, this.#intervalMs);
    this.#timer.unref();
  }

  /** Stops taking entries and waits for the round in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#round;
  }

  /** One round: the due entries, `concurrency` at a time. Resolves with how many it settled. */
  async runOnce(): Promise<number> {
    if (Date.now() < this.#pausedUntil) return 0;
    const due = this.#store.due(this.#batch);
    let settled = 0;
    let next = 0;
    const work = async (): Promise<void> => {
      while (next < due.length && !this.#stopped && Date.now() >= this.#pausedUntil) {
        const entry = due[next++]!;
        if (await this.#settle(entry.orderId, entry.attempts)) settled++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, due.length) }, work));
    return settled;
  }

  async #settle(orderId: string, attempts: number): Promise<boolean> {
    const order = this.#store.get(orderId);
    if (order === undefined || order.status !== 'pending_payment') return false;
    this.attempts++;
    const outcome = await this.#deps.charge({
      orderId: order.id,
      amount: order.amount,
      currency: order.currency,
      idempotencyKey: order.paymentKey,
    });
    if (outcome.kind === 'paid') {
      if (this.#store.paid(order.id, outcome.chargeId, outcome.instance)) this.settled++;
      if (this.#paused) {
        this.#paused = false;
        this.#logger?.info({ settled: this.settled }, 'outbox resumed: payment is taking charges again');
      }
      return true;
    }
    if (outcome.kind === 'declined') {
      if (this.#store.failed(order.id, outcome.reason)) this.settled++;
      return true;
    }
    const wait = Math.min(this.#maxBackoffMs, this.#backoffMs * 2 ** Math.min(attempts, 16));
    const jittered = wait / 2 + Math.random() * (wait / 2);
    const retryAfter = outcome.retryAfterMs ?? 0;
    this.#store.reschedule(order.id, Date.now() + Math.max(jittered, retryAfter), outcome.reason);
    if (retryAfter > 0) {
      // Payment said when it can take calls again (its circuit is open): no point trying the others now.
      this.#pausedUntil = Date.now() + retryAfter;
      if (!this.#paused) {
        this.#paused = true;
        this.#logger?.info({ retryAfterMs: retryAfter, reason: outcome.reason }, 'outbox paused: payment unavailable');
      }
    }
    return false;
  }
}
