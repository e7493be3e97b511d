import { randomUUID } from 'node:crypto';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { openDatabase } from '@lifeline/demo-kit';

/** One row of the ledger: money taken for an order. */
export interface Charge {
  /** `ch_` and a UUID. */
  id: string;
  orderId: string;
  /** Cents. */
  amount: number;
  currency: string;
  /** The payment instance that made the charge (`payment-2`). */
  instance: string;
  /** ISO 8601. */
  createdAt: string;
}

/** What `GET /ledger` answers. */
export interface LedgerSummary {
  /** Rows in the ledger. */
  charges: number;
  /** Distinct orders charged. */
  orders: number;
  /** Σ (charges − 1) over the orders charged more than once: money taken twice. Must stay 0. */
  duplicateCharges: number;
  /** Sum of every charge, cents. */
  amount: number;
}

interface ChargeRow {
  id: string;
  order_id: string;
  amount: number;
  currency: string;
  instance: string;
  created_at: number;
}

// No unique constraint on order_id, on purpose: a client that charges an order twice must
// leave two rows, because counting them is what the demo measures.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS charges (
  id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL,
  amount INTEGER NOT NULL,
  currency TEXT NOT NULL,
  instance TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS charges_order_id ON charges (order_id);
`;

const SUMMARY = `
SELECT
  COUNT(*) AS charges,
  COUNT(DISTINCT order_id) AS orders,
  COALESCE(SUM(amount), 0) AS amount,
  (SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM charges GROUP BY order_id HAVING n > 1)) AS duplicateCharges
FROM charges
`;

function toCharge(row: ChargeRow): Charge {
  return {
    id: row.id,
    orderId: row.order_id,
    amount: row.amount,
    currency: row.currency,
    instance: row.instance,
    createdAt: new Date(row.created_at).toISOString(),
  };
}

/**
 * The payment ledger in a SQLite file. Several payment instances open the same file (WAL,
 * busy timeout), so the ledger is the one truth about how often an order was charged,
 * whichever instance took the request.
 *
 * @example
 * const ledger = new Ledger('data/payment.db', 'payment-1');
 * ledger.insert({ orderId: 'o1', amount: 1250, currency: 'EUR' });
 * ledger.summary(); // { charges: 1, orders: 1, duplicateCharges: 0, amount: 1250 }
 */
export class Ledger {
  readonly #db: DatabaseSync;
  readonly #instance: string;
  readonly #insert: StatementSync;
  readonly #forOrder: StatementSync;
  readonly #summary: StatementSync;
  #closed = false;

  constructor(path: string, instance: string) {
    this.#db = openDatabase(path);
    this.#instance = instance;
    try {
      this.#db.exec(SCHEMA);
      this.#insert = this.#db.prepare(
        'INSERT INTO charges (id, order_id, amount, currency, instance, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      );
      this.#forOrder = this.#db.prepare(
        'SELECT id, order_id, amount, currency, instance, created_at FROM charges WHERE order_id = ? ORDER BY created_at, rowid',
      );
      this.#summary = this.#db.prepare(SUMMARY);
    } catch (error) {
      this.#db.close();
      throw error;
    }
  }

  /** Records a charge made by this instance now. */
  insert(charge: { orderId: string; amount: number; currency: string }): Charge {
    const row: ChargeRow = {
      id: `ch_${randomUUID()}`,
      order_id: charge.orderId,
      amount: charge.amount,
      currency: charge.currency,
      instance: this.#instance,
      created_at: Date.now(),
    };
    this.#insert.run(row.id, row.order_id, row.amount, row.currency, row.instance, row.created_at);
    return toCharge(row);
  }

  /** The charges of one order, oldest first. */
  forOrder(orderId: string): Charge[] {
    return (this.#forOrder.all(orderId) as unknown as ChargeRow[]).map(toCharge);
  }

  summary(): LedgerSummary {
    const row = this.#summary.get() as unknown as LedgerSummary;
    return { charges: row.charges, orders: row.orders, duplicateCharges: row.duplicateCharges, amount: row.amount };
  }

  /** Closes the file handle. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}
