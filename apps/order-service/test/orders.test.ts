import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPaymentService, type PaymentService } from '../../payment-service/src/service.ts';
import { createUserService, type UserService } from '../../user-service/src/service.ts';
import { lifelineDependencies } from '../src/dependencies.ts';
import { createOrderService, type OrderService } from '../src/service.ts';

// The order service against the real user and payment services, in this process, on loopback.
const logger = pino({ level: 'silent' });
let dir: string;
let users: UserService;
let payment: PaymentService;
let paymentPort: number;
let userUrl: string;
const opened: OrderService[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lifeline-order-'));
  users = await createUserService({ dataPath: join(dir, 'user.db'), instance: 'user-1', logger });
  userUrl = await users.app.listen({ host: '127.0.0.1', port: 0 });
  payment = await createPaymentService({ dataPath: join(dir, 'payment.db'), instance: 'payment-1', logger, workMs: 1 });
  await payment.app.listen({ host: '127.0.0.1', port: 0 });
  paymentPort = (payment.app.server.address() as { port: number }).port;
});

afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

afterAll(async () => {
  await payment.close();
  await users.close();
  rmSync(dir, { recursive: true, force: true });
});

async function orderService(name: string, options: { user?: string; payment?: string[] } = {}) {
  const service = await createOrderService({
    dataPath: join(dir, `${name}.db`),
    instance: 'order-1',
    dependencies: lifelineDependencies({ userUrl: options.user ?? userUrl, payment: options.payment ?? [`127.0.0.1:${paymentPort}`], logger }),
    outbox: { intervalMs: 50, backoffMs: 50, maxBackoffMs: 200 },
    logger,
  });
  opened.push(service);
  const url = await service.app.listen({ host: '127.0.0.1', port: 0 });
  return { service, url };
}

async function post(url: string, body: unknown) {
  const res = await request(`${url}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.statusCode, headers: res.headers, body: (await res.body.json()) as Record<string, unknown> };
}

describe('POST /orders', () => {
  it('looks up the user, charges payment with the order key, and answers 201 paid', async () => {
    const { url } = await orderService('paid');
    const res = await post(url, { userId: 'u7', amount: 1_250, currency: 'USD' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'paid', userId: 'u7', amount: 1_250, currency: 'USD', user: { stale: false }, charge: { instance: 'payment-1' } });
    const charges = payment.ledger.forOrder(res.body['id'] as string);
    expect(charges).toHaveLength(1);
    const got = await request(`${url}/orders/${res.body['id'] as string}`);
    expect(await got.body.json()).toMatchObject({ id: res.body['id'], status: 'paid' });
  });

  it('a refused payment settles the order as payment_failed, without a charge', async () => {
    const { url } = await orderService('declined');
    const res = await post(url, { userId: 'u1', amount: 900_000 });
    expect(res.status).toBe(201);
    expect(res.body['status']).toBe('payment_failed');
    expect(payment.ledger.forOrder(res.body['id'] as string)).toHaveLength(0);
  });

  it('uses the last-known user, marked stale, when the user service cannot answer', async () => {
    const { url } = await orderService('stale');
    expect((await post(url, { userId: 'u3', amount: 100 })).body['user']).toMatchObject({ stale: false });
    // Same data file, the user service now unreachable (a closed port).
    await opened.pop()!.close();
    const { url: url2 } = await orderService('stale', { user: 'http://127.0.0.1:9' });
    const res = await post(url2, { userId: 'u3', amount: 100 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'paid', userStale: true, user: { stale: true } });
    // A user never seen before cannot be taken from the cache.
    const unknown = await post(url2, { userId: 'u4', amount: 100 });
    expect(unknown.status).toBe(503);
    expect(unknown.body['code']).toBe('USER_UNAVAILABLE');
  });

  it('payment unreachable: 202 pending_payment, then the outbox charges it once payment is there', async () => {
    const spare = await createPaymentService({ dataPath: join(dir, 'spare.db'), instance: 'payment-9', logger, workMs: 1 });
    await spare.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (spare.app.server.address() as { port: number }).port;
    await spare.app.close();
    const { url, service } = await orderService('outbox', { payment: [`127.0.0.1:${port}`] });
    const res = await post(url, { userId: 'u5', amount: 300 });
    expect(res.status).toBe(202);
    expect(res.body['status']).toBe('pending_payment');
    const id = res.body['id'] as string;

    const back = await createPaymentService({ dataPath: join(dir, 'spare.db'), instance: 'payment-9', logger, workMs: 1 });
    await back.app.listen({ host: '127.0.0.1', port });
    try {
      await expect.poll(() => service.store.get(id)?.status, { timeout: 15_000, interval: 100 }).toBe('paid');
      expect(back.ledger.forOrder(id)).toHaveLength(1);
      expect(service.outbox.settled).toBe(1);
      expect(service.store.counts()).toMatchObject({ outbox: 0 });
    } finally {
      await back.close();
    }
  });

  it('refuses bad bodies with a 400 problem naming the field, unknown users with 404', async () => {
    const { url } = await orderService('bad');
    for (const [body, field] of [
      [{ userId: 'u1' }, 'amount'],
      [{ userId: 'x', amount: 1 }, 'userId'],
      [{ userId: 'u1', amount: 1.5 }, 'amount'],
      [{ userId: 'u1', amount: 1, currency: 'XYZ' }, 'currency'],
      [{ userId: 'u1', amount: 1, extra: true }, 'additional'],
    ] as const) {
      const res = await post(url, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body).toMatchObject({ code: 'INVALID_REQUEST' });
      expect(String(res.body['detail'])).toContain(field);
    }
    const unknown = await post(url, { userId: 'u99999', amount: 1 });
    expect(unknown.status).toBe(404);
    expect(unknown.body['code']).toBe('USER_NOT_FOUND');
    const missing = await request(`${url}/orders/00000000-0000-0000-0000-000000000000`);
    expect(missing.statusCode).toBe(404);
    await missing.body.dump();
  });

  it('an Idempotency-Key from the caller makes one order, however often it is sent', async () => {
    const { url } = await orderService('keyed');
    const send = () =>
      request(`${url}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'checkout-42' },
        body: JSON.stringify({ userId: 'u2', amount: 700 }),
      });
    const first = await send();
    const a = (await first.body.json()) as { id: string };
    const second = await send();
    const b = (await second.body.json()) as { id: string };
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(b.id).toBe(a.id);
    expect(payment.ledger.forOrder(a.id)).toHaveLength(1);
  });
});
