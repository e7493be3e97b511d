import { createServiceApp, type ServiceApp } from '@lifeline/demo-kit';
import { SqliteIdempotencyStore } from '@lifeline/server';
import type { Logger } from 'pino';
import { type Charge, Ledger } from './ledger.ts';
import { Processor } from './processor.ts';
import { chargeRoutes } from './routes.ts';

export interface PaymentServiceOptions {
  /** The ledger's SQLite file; the Idempotency-Key store lives beside it (`payment.db` → `payment-idempotency.db`). */
  dataPath: string;
  /** This instance's id (`payment-1`), written on every charge it makes. */
  instance: string;
  /** Fault injection, off unless `enabled` (`/admin/chaos`). */
  chaos?: { enabled: boolean; seed?: number };
  /** Simulated processing time of a charge, ms. Default 10. */
  workMs?: number;
  /**
   * Charges processed at once; the others wait in line, so a charge takes longer the longer the
   * line (`PUT /admin/capacity` changes it at run time). Default 0: no limit.
   */
  workers?: number;
  /**
   * Refuse a charge without an Idempotency-Key (400). Default false: like most payment APIs,
   * a charge without a key is made each time it is sent — which is how a client that retries
   * without one charges twice, and what the demo's naive client shows.
   */
  requireIdempotencyKey?: boolean;
  logger?: Logger;
}

export interface PaymentService extends ServiceApp {
  ledger: {
    /** Rows in the ledger. */
    charges(): number;
    /** Σ (charges − 1) over the orders charged more than once. */
    duplicateCharges(): number;
    /** The charges of one order, oldest first. */
    forOrder(orderId: string): Charge[];
  };
  /** The card processor: its capacity and line. */
  processor: Processor;
  /** Closes the application, then the ledger and the idempotency store. Idempotent. */
  close(): Promise<void>;
}

/** The Idempotency-Key store's file beside the ledger: `data/payment.db` → `data/payment-idempotency.db`. */
export function idempotencyPath(dataPath: string): string {
  return `${dataPath.endsWith('.db') ? dataPath.slice(0, -3) : dataPath}-idempotency.db`;
}

/**
 * The payment service: `POST /charges` (exactly once per Idempotency-Key), `GET /charges?orderId=`,
 * `GET /ledger`, plus the kit's health, `/admin/resilience` and `/admin/chaos`. Instances
 * given the same `dataPath` share the ledger and the Idempotency-Key store, so a retry that
 * lands on another instance gets the stored response instead of a second charge.
 *
 * @example
 * const payment = await createPaymentService({ dataPath: 'data/payment.db', instance: 'payment-1' });
 * await payment.app.listen({ port: 4101 });
 * payment.ledger.duplicateCharges(); // 0
 * await payment.close();
 */
export async function createPaymentService(options: PaymentServiceOptions): Promise<PaymentService> {
  const ledger = new Ledger(options.dataPath, options.instance);
  let store: SqliteIdempotencyStore;
  try {
    store = new SqliteIdempotencyStore({ path: idempotencyPath(options.dataPath) });
  } catch (error) {
    ledger.close();
    throw error;
  }
  const closeData = async (): Promise<void> => {
    ledger.close();
    await store.close();
  };
  let service: ServiceApp;
  let processor: Processor;
  try {
    processor = new Processor({ workers: options.workers ?? 0, workMs: options.workMs ?? 10 });
    service = await createServiceApp({
      service: 'payment',
      instance: options.instance,
      logger: options.logger,
      chaos: options.chaos,
      snapshot: () => ({ ledger: ledger.summary(), processor: processor.snapshot() }),
    });
    chargeRoutes(service.app, { ledger, store, processor, requireKey: options.requireIdempotencyKey ?? false });
  } catch (error) {
    await closeData();
    throw error;
  }
  const { app } = service;
  app.addHook('onClose', closeData);
  return {
    ...service,
    processor: processor!,
    ledger: {
      charges: () => ledger.summary().charges,
      duplicateCharges: () => ledger.summary().duplicateCharges,
      forOrder: (orderId) => ledger.forOrder(orderId),
    },
    close: () => app.close(),
  };
}
