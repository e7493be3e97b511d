import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { User } from './dependencies.ts';

export type OrderStatus = 'pending_payment' | 'paid' | 'payment_failed';

export interface Order {
  id: string;
  userId: string;
  amount: number;
  currency: string;
  status: OrderStatus;
  /** The Idempotency-Key every attempt to charge this order carries. */
  paymentKey: string;
  chargeId: string | null;
  chargedBy: string | null;
  /** The user came from the local cache because the user service could not answer. */
  userStale: boolean;
  /** Charge attempts that did not go through (the request's own, then the outbox worker's). */
  attempts: number;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}

interface OrderRow {
  id: string;
  user_id: string;
  amount: number;
  currency: string;
  status: OrderStatus;
  payment_key: string;
  charge_id: string | null;
  charged_by: string | null;
  user_stale: number;
  attempts: number;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface OutboxEntry {
  orderId: string;
  attempts: number;
}

const toOrder = (r: OrderRow): Order => ({
  id: r.id,
  userId: r.user_id,
  amount: r.amount,
  currency: r.currency,
  status: r.status,
  paymentKey: r.payment_key,
  chargeId: r.charge_id,
  chargedBy: r.charged_by,
  userStale: r.user_stale === 1,
  attempts: r.attempts,
  lastError: r.last_error,
  createdAt: new Date(r.created_at).toISOString(),
  updatedAt: new Date(r.updated_at).toISOString(),
});

/**
 * The order service's data, in its own SQLite file: orders, the outbox of charges still to
 * make, and the last-known copy of each user. An order and its outbox entry are written in
 * one transaction, before payment is called: whatever happens next (payment down, the
 * process killed mid-charge), the order exists and its charge will be made — with the same
 * Idempotency-Key, so never twice.
 */
export class OrderStore {
  readonly #db: DatabaseSync;
  readonly #insertOrder: StatementSync;
  readonly #insertOutbox: StatementSync;
  readonly #get: StatementSync;
  readonly #markPaid: StatementSync;
  readonly #markFailed: StatementSync;
  readonly #deleteOutbox: StatementSync;
  readonly #due: StatementSync;
  readonly #reschedule: StatementSync;
  readonly #noteAttempt: StatementSync;
  readonly #putUser: StatementSync;
  readonly #getUser: StatementSync;
  readonly #counts: StatementSync;
  readonly #outboxSize: StatementSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
    db.exec(`
      CREATE TABLE IF NOT EXISTS orders (
        id TEXT PRIMARY KEY, user_id TEXT NOT NULL, amount INTEGER NOT NULL, currency TEXT NOT NULL,
        status TEXT NOT NULL, payment_key TEXT NOT NULL UNIQUE, charge_id TEXT, charged_by TEXT,
        user_stale INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS orders_status ON orders(status);
      CREATE TABLE IF NOT EXISTS outbox (
        order_id TEXT PRIMARY KEY REFERENCES orders(id), next_attempt_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0);
      CREATE INDEX IF NOT EXISTS outbox_due ON outbox(next_attempt_at);
      CREATE TABLE IF NOT EXISTS user_cache (id TEXT PRIMARY KEY, body TEXT NOT NULL, fetched_at INTEGER NOT NULL);
    `);
    this.#insertOrder = db.prepare(
      `INSERT INTO orders (id, user_id, amount, currency, status, payment_key, user_stale, created_at, updated_at)
       VALUES (?, ?, ?, ?, 'pending_payment', ?, ?, ?, ?)`,
    );
    this.#insertOutbox = db.prepare('INSERT INTO outbox (order_id, next_attempt_at) VALUES (?, ?)');
    this.#get = db.prepare('SELECT * FROM orders WHERE id = ?');
    this.#markPaid = db.prepare(
      `UPDATE orders SET status = 'paid', charge_id = ?, charged_by = ?, last_error = NULL, updated_at = ? WHERE id = ? AND status = 'pending_payment'`,
    );
    this.#markFailed = db.prepare(
      `UPDATE orders SET status = 'payment_failed', last_error = ?, updated_at = ? WHERE id = ? AND status = 'pending_payment'`,
    );
    this.#deleteOutbox = db.prepare('DELETE FROM outbox WHERE order_id = ?');
    this.#due = db.prepare('SELECT order_id AS orderId, attempts FROM outbox WHERE next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?');
    this.#reschedule = db.prepare('UPDATE outbox SET next_attempt_at = ?, attempts = attempts + 1 WHERE order_id = ?');
    this.#noteAttempt = db.prepare('UPDATE orders SET attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ?');
    this.#putUser = db.prepare(
      'INSERT INTO user_cache (id, body, fetched_at) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body, fetched_at = excluded.fetched_at',
    );
    this.#getUser = db.prepare('SELECT body FROM user_cache WHERE id = ?');
    this.#counts = db.prepare('SELECT status, COUNT(*) AS n FROM orders GROUP BY status');
    this.#outboxSize = db.prepare('SELECT COUNT(*) AS n FROM outbox');
  }

  /** Writes the order as `pending_payment` and its outbox entry, due `retryAt`, in one transaction. */
  create(order: { id: string; userId: string; amount: number; currency: string; paymentKey: string; userStale: boolean }, retryAt: number): Order {
    const now = Date.now();
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      this.#insertOrder.run(order.id, order.userId, order.amount, order.currency, order.paymentKey, order.userStale ? 1 : 0, now, now);
      this.#insertOutbox.run(order.id, retryAt);
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
    return this.get(order.id)!;
  }

  get(id: string): Order | undefined {
    const row = this.#get.get(id) as OrderRow | undefined;
    return row === undefined ? undefined : toOrder(row);
  }

  /** Settles a pending order as paid and removes its outbox entry; false when it was not pending. */
  paid(id: string, chargeId: string, chargedBy: string): boolean {
    return this.#settle(() => this.#markPaid.run(chargeId, chargedBy, Date.now(), id).changes === 1, id);
  }

  /** Settles a pending order as payment_failed (payment refused it) and removes its outbox entry. */
  failed(id: string, reason: string): boolean {
    return this.#settle(() => this.#markFailed.run(reason, Date.now(), id).changes === 1, id);
  }

  #settle(update: () => boolean, id: string): boolean {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const changed = update();
      this.#deleteOutbox.run(id);
      this.#db.exec('COMMIT');
      return changed;
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  /** Outbox entries due now, oldest first. */
  due(limit: number): OutboxEntry[] {
    return this.#due.all(Date.now(), limit) as unknown as OutboxEntry[];
  }

  /** Records a failed attempt and when to try again. */
  reschedule(id: string, at: number, reason: string): void {
    this.#reschedule.run(at, id);
    this.#noteAttempt.run(reason, Date.now(), id);
  }

  rememberUser(user: User): void {
    this.#putUser.run(user.id, JSON.stringify(user), Date.now());
  }

  lastKnownUser(id: string): User | undefined {
    const row = this.#getUser.get(id) as { body: string } | undefined;
    return row === undefined ? undefined : (JSON.parse(row.body) as User);
  }

  /** Orders by status, and the outbox size. */
  counts(): { byStatus: Record<string, number>; outbox: number } {
    const byStatus: Record<string, number> = { paid: 0, pending_payment: 0, payment_failed: 0 };
    for (const row of this.#counts.all() as { status: string; n: number }[]) byStatus[row.status] = row.n;
    return { byStatus, outbox: (this.#outboxSize.get() as { n: number }).n };
  }
}
