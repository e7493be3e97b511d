import { problemReply } from '@lifeline/demo-kit';
import type { IdempotencyStore } from '@lifeline/server';
import type { FastifyInstance } from 'fastify';
import type { Ledger } from './ledger.ts';
import type { Processor } from './processor.ts';

/** The largest amount the service accepts, cents: anything above is declined. */
export const CHARGE_LIMIT = 500_000;

/** The problem code of a refused charge: a business answer, not worth a retry. */
export const PAYMENT_DECLINED = 'PAYMENT_DECLINED';

const orderId = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' } as const;

const chargeBody = {
  type: 'object',
  required: ['orderId', 'amount'],
  additionalProperties: false,
  properties: {
    orderId,
    amount: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    currency: { type: 'string', enum: ['EUR', 'USD', 'GBP'], default: 'EUR' },
  },
} as const;

const chargesQuery = {
  type: 'object',
  required: ['orderId'],
  properties: { orderId },
} as const;

interface ChargeBody {
  orderId: string;
  amount: number;
  currency: string;
}

/**
 * `POST /charges` (with an Idempotency-Key, exactly once: the key's responses in `store`;
 * without one, each request charges — unless `requireKey`), `GET /charges` and `GET /ledger`.
 *
 * @internal
 */
export function chargeRoutes(app: FastifyInstance, options: { ledger: Ledger; store: IdempotencyStore; processor: Processor; requireKey: boolean }): void {
  const { ledger, store, processor, requireKey } = options;

  app.post<{ Body: ChargeBody }>(
    '/charges',
    { schema: { body: chargeBody }, config: { idempotency: { required: requireKey, store } } },
    async (request, reply) => {
      // The processor's line and time: a caller that gives up (or a deadline) takes the charge
      // out of the line, or stops it, before any money moves.
      await processor.process(request.lifeline.signal);
      const { orderId, amount, currency } = request.body;
      if (amount > CHARGE_LIMIT) {
        return problemReply(request, reply, 402, PAYMENT_DECLINED, 'Payment declined', 'amount above the 5000.00 limit');
      }
      return reply.code(201).send(ledger.insert({ orderId, amount, currency }));
    },
  );

  app.get<{ Querystring: { orderId: string } }>('/charges', { schema: { querystring: chargesQuery } }, (request) => ({
    charges: ledger.forOrder(request.query.orderId),
  }));

  app.get('/ledger', () => ledger.summary());

  // The processor's capacity, changed at run time: the trigger of a metastable failure is
  // capacity halved for a while, then given back.
  app.get('/admin/capacity', () => processor.snapshot());
  app.put<{ Body: { workers?: number; workMs?: number } }>(
    '/admin/capacity',
    { schema: { body: capacityBody } },
    (request) => {
      processor.resize(request.body);
      return processor.snapshot();
    },
  );
}

const capacityBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    workers: { type: 'integer', minimum: 0, maximum: 10_000 },
    workMs: { type: 'integer', minimum: 0, maximum: 60_000 },
  },
} as const;
