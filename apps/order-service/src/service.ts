import { randomUUID } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import { createServiceApp, openDatabase, problemReply, type ServiceApp } from '@lifeline/demo-kit';
import { SqliteIdempotencyStore } from '@lifeline/server';
import type { Logger } from 'pino';
import type { Dependencies, User } from './dependencies.ts';
import { OrderStore, type Order } from './orders.ts';
import { OutboxWorker, type OutboxOptions } from './outbox.ts';

export interface OrderServiceOptions {
  /** The orders' SQLite file; the Idempotency-Key store of POST /orders sits beside it. */
  dataPath: string;
  instance: string;
  dependencies: Dependencies;
  chaos?: { enabled: boolean; seed?: number };
  outbox?: OutboxOptions;
  logger?: Logger;
}

export interface OrderService extends ServiceApp {
  store: OrderStore;
  outbox: OutboxWorker;
  close(): Promise<void>;
}

const CURRENCIES = ['EUR', 'USD', 'GBP'] as const;

interface OrderBody {
  userId: string;
  amount: number;
  currency?: (typeof CURRENCIES)[number];
}

/** What POST /orders and GET /orders/:id answer. */
function view(order: Order, user?: User & { stale: boolean }) {
  return {
    id: order.id,
    status: order.status,
    userId: order.userId,
    amount: order.amount,
    currency: order.currency,
    ...(user === undefined ? {} : { user: { name: user.name, tier: user.tier, stale: user.stale } }),
    userStale: order.userStale,
    charge: order.chargeId === null ? null : { id: order.chargeId, instance: order.chargedBy },
    attempts: order.attempts,
    lastError: order.lastError,
    createdAt: order.createdAt,
    updatedAt: order.updatedAt,
  };
}

/**
 * The order service. `POST /orders`: look up the user (when the user service cannot answer,
 * use the last-known copy, marked stale); write the order as `pending_payment` with its
 * outbox entry; charge it through payment with the order's Idempotency-Key. Paid → 201;
 * refused by payment → 201 `payment_failed`; payment unavailable (errors, timeouts, open
 * circuit) → 202 `pending_payment`, and the outbox worker settles it later with the same
 * key. An accepted order is never lost and never charged twice.
 */
export async function createOrderService(options: OrderServiceOptions): Promise<OrderService> {
  const db: DatabaseSync = openDatabase(options.dataPath);
  const store = new OrderStore(db);
  const deps = options.dependencies;
  const outbox = new OutboxWorker(store, deps, { logger: options.logger, ...options.outbox });
  const idempotency = new SqliteIdempotencyStore({ path: options.dataPath.replace(/(\.db)?$/, '-idempotency.db') });
  const service = await createServiceApp({
    service: 'order',
    instance: options.instance,
    logger: options.logger,
    chaos: options.chaos,
    snapshot: () => ({
      client: deps.kind,
      dependencies: deps.snapshot(),
      orders: store.counts(),
      outbox: { settled: outbox.settled, attempts: outbox.attempts },
    }),
  });
  const { app } = service;

  app.post<{ Body: OrderBody }>(
    '/orders',
    {
      // A caller may send an Idempotency-Key so that its own retries never make two orders.
      config: { idempotency: { store: idempotency } },
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['userId', 'amount'],
          properties: {
            userId: { type: 'string', pattern: '^u[0-9]{1,9}$' },
            amount: { type: 'integer', minimum: 1, maximum: 1_000_000 },
            currency: { type: 'string', enum: [...CURRENCIES] },
          },
        },
      },
    },
    async (request, reply) => {
      const { userId, amount, currency = 'EUR' } = request.body;
      const lookup = await deps.user(userId);
      let user: (User & { stale: boolean }) | undefined;
      if (lookup.kind === 'found') {
        store.rememberUser(lookup.user);
        user = { ...lookup.user, stale: false };
      } else if (lookup.kind === 'not-found') {
        return problemReply(request, reply, 404, 'USER_NOT_FOUND', 'Unknown user', `no user ${userId}`);
      } else {
        const cached = store.lastKnownUser(userId);
        if (cached === undefined) {
          request.log.warn({ userId, reason: lookup.reason }, 'user service unavailable and no cached copy');
          return problemReply(request, reply, 503, 'USER_UNAVAILABLE', 'The user service is unavailable', `cannot look up ${userId}: ${lookup.reason}`);
        }
        user = { ...cached, stale: true };
      }

      const id = randomUUID();
      // Written before payment is called; the worker leaves it alone while this request tries.
      let order = store.create({ id, userId, amount, currency, paymentKey: `order-${id}`, userStale: user.stale }, Date.now() + 5_000);
      const outcome = await deps.charge({ orderId: id, amount, currency, idempotencyKey: order.paymentKey });
      if (outcome.kind === 'paid') store.paid(id, outcome.chargeId, outcome.instance);
      else if (outcome.kind === 'declined') store.failed(id, outcome.reason);
      else store.reschedule(id, Date.now() + Math.max(1_000, outcome.retryAfterMs ?? 0), outcome.reason);
      order = store.get(id)!;
      return reply.code(order.status === 'pending_payment' ? 202 : 201).send(view(order, user));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/orders/:id',
    { schema: { params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9a-f-]{36}$' } } } } },
    async (request, reply) => {
      const order = store.get(request.params.id);
      if (order === undefined) return problemReply(request, reply, 404, 'ORDER_NOT_FOUND', 'Unknown order', `no order ${request.params.id}`);
      return view(order);
    },
  );

  app.get('/orders', () => ({ ...store.counts(), settled: outbox.settled }));

  outbox.start();
  let released: Promise<void> | undefined;
  const release = (): Promise<void> =>
    (released ??= (async () => {
      await outbox.stop();
      await deps.close();
      await idempotency.close();
      db.close();
    })());
  // At SIGTERM: after the drain (the requests in flight may still charge), before exit.
  service.lifeline.closeOnShutdown(release);
  return {
    ...service,
    store,
    outbox,
    async close() {
      await service.app.close();
      await release();
    },
  };
}
