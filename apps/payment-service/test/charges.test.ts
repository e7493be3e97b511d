import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idempotencyPath } from '../src/service.ts';
import { call, charge, type RunningPayment, startPayment, tempDir } from './helpers.ts';

const dir = tempDir();
let payment: RunningPayment;
let url: string;
let keys = 0;
const key = (): string => `key-${++keys}`;

beforeAll(async () => {
  payment = await startPayment({ dataPath: join(dir.path, 'payment.db'), instance: 'payment-1', workMs: 1 });
  url = payment.url;
});

afterAll(async () => {
  await payment?.service.close();
  dir.remove();
});

describe('POST /charges', () => {
  it('charges once and answers 201 with the charge', async () => {
    const answer = await charge(url, key(), { orderId: 'o-201', amount: 1250, currency: 'USD' });
    expect(answer.status).toBe(201);
    expect(answer.body).toEqual({
      id: expect.stringMatching(/^ch_[0-9a-f-]{36}$/),
      orderId: 'o-201',
      amount: 1250,
      currency: 'USD',
      instance: 'payment-1',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(payment.service.ledger.forOrder('o-201')).toEqual([answer.body]);
  });

  it('charges in EUR when no currency is given', async () => {
    const answer = await charge(url, key(), { orderId: 'o-eur', amount: 100 });
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({ currency: 'EUR' });
  });

  it.each([
    [{ amount: 100 }, 'orderId'],
    [{ orderId: '', amount: 100 }, '/orderId'],
    [{ orderId: 'o 1', amount: 100 }, '/orderId'],
    [{ orderId: 'o'.repeat(65), amount: 100 }, '/orderId'],
    [{ orderId: 'o-1' }, 'amount'],
    [{ orderId: 'o-1', amount: 0 }, '/amount'],
    [{ orderId: 'o-1', amount: 12.5 }, '/amount'],
    [{ orderId: 'o-1', amount: 1_000_001 }, '/amount'],
    [{ orderId: 'o-1', amount: 100, currency: 'JPY' }, '/currency'],
    [{ orderId: 'o-1', amount: 100, customer: 'c-1' }, 'additional properties'],
  ])('refuses %j with a 400 problem naming %s', async (json, field) => {
    const before = payment.service.ledger.charges();
    const answer = await charge(url, key(), json);
    expect(answer.status).toBe(400);
    expect(answer.headers['content-type']).toBe('application/problem+json');
    expect(answer.body).toMatchObject({ status: 400, code: 'INVALID_REQUEST', detail: expect.stringContaining(field) });
    expect(payment.service.ledger.charges()).toBe(before);
  });

  it('refuses malformed JSON with a 400 problem', async () => {
    const answer = await call(url, 'POST', '/charges', {
      body: '{"orderId": "o-1", "amount": ',
      headers: { 'content-type': 'application/json', 'idempotency-key': key() },
    });
    expect(answer.status).toBe(400);
    expect(answer.headers['content-type']).toBe('application/problem+json');
  });

  it('without an Idempotency-Key, charges each time it is sent: the double charge a key prevents', async () => {
    expect((await charge(url, undefined, { orderId: 'o-nokey', amount: 100 })).status).toBe(201);
    expect((await charge(url, undefined, { orderId: 'o-nokey', amount: 100 })).status).toBe(201);
    expect(payment.service.ledger.forOrder('o-nokey')).toHaveLength(2);
  });

  it('with requireIdempotencyKey, refuses a charge without a key', async () => {
    const strict = await startPayment({ dataPath: join(dir.path, 'strict.db'), instance: 'payment-3', workMs: 1, requireIdempotencyKey: true });
    try {
      const answer = await charge(strict.url, undefined, { orderId: 'o-strict', amount: 100 });
      expect(answer.status).toBe(400);
      expect(answer.headers['content-type']).toBe('application/problem+json');
      expect(answer.body).toMatchObject({ code: 'IDEMPOTENCY_KEY_MISSING' });
      expect(strict.service.ledger.forOrder('o-strict')).toEqual([]);
    } finally {
      await strict.service.close();
    }
  });

  it('answers a repeated key with the stored response, charging once', async () => {
    const k = key();
    const first = await charge(url, k, { orderId: 'o-twice', amount: 700 });
    const second = await charge(url, k, { orderId: 'o-twice', amount: 700 });
    expect(first.status).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(second.status).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.body).toEqual(first.body);
    expect(payment.service.ledger.forOrder('o-twice')).toHaveLength(1);
  });

  it('refuses a key reused with a different body with 422', async () => {
    const k = key();
    expect((await charge(url, k, { orderId: 'o-reuse', amount: 700 })).status).toBe(201);
    const reused = await charge(url, k, { orderId: 'o-reuse', amount: 800 });
    expect(reused.status).toBe(422);
    expect(reused.body).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(payment.service.ledger.forOrder('o-reuse')).toHaveLength(1);
  });

  it('declines an amount above the limit with 402 and no ledger row, and replays the refusal', async () => {
    const k = key();
    const declined = await charge(url, k, { orderId: 'o-big', amount: 500_001 });
    expect(declined.status).toBe(402);
    expect(declined.headers['content-type']).toBe('application/problem+json');
    expect(declined.body).toMatchObject({ code: 'PAYMENT_DECLINED', detail: 'amount above the 5000.00 limit' });
    const again = await charge(url, k, { orderId: 'o-big', amount: 500_001 });
    expect(again.status).toBe(402);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(payment.service.ledger.forOrder('o-big')).toEqual([]);
    // The limit itself is accepted.
    expect((await charge(url, key(), { orderId: 'o-limit', amount: 500_000 })).status).toBe(201);
  });
});

describe('GET /charges', () => {
  it("lists an order's charges", async () => {
    await charge(url, key(), { orderId: 'o-list', amount: 1 });
    await charge(url, key(), { orderId: 'o-list', amount: 2 });
    const answer = await call(url, 'GET', '/charges?orderId=o-list');
    expect(answer.status).toBe(200);
    const { charges } = answer.body as { charges: { amount: number; orderId: string }[] };
    expect(charges.map((c) => [c.orderId, c.amount])).toEqual([
      ['o-list', 1],
      ['o-list', 2],
    ]);
    expect(await call(url, 'GET', '/charges?orderId=o-none')).toMatchObject({ status: 200, body: { charges: [] } });
  });

  it('refuses a missing or malformed orderId with a 400 problem naming it', async () => {
    for (const path of ['/charges', '/charges?orderId=', '/charges?orderId=a%20b']) {
      const answer = await call(url, 'GET', path);
      expect(answer.status, path).toBe(400);
      expect(answer.headers['content-type']).toBe('application/problem+json');
      expect(answer.body).toMatchObject({ code: 'INVALID_REQUEST', detail: expect.stringContaining('orderId') });
    }
  });
});

describe('GET /ledger', () => {
  it('counts charges, orders, the total and the orders charged twice', async () => {
    const before = (await call(url, 'GET', '/ledger')).body as Record<string, number>;
    // A naive client: the same order under two keys is two charges.
    await charge(url, key(), { orderId: 'o-dup', amount: 300 });
    await charge(url, key(), { orderId: 'o-dup', amount: 300 });
    await charge(url, key(), { orderId: 'o-single', amount: 50 });
    const after = await call(url, 'GET', '/ledger');
    expect(after.status).toBe(200);
    expect(after.body).toEqual({
      charges: before['charges']! + 3,
      orders: before['orders']! + 2,
      duplicateCharges: before['duplicateCharges']! + 1,
      amount: before['amount']! + 650,
    });
    expect(payment.service.ledger.duplicateCharges()).toBe(before['duplicateCharges']! + 1);
    expect(payment.service.ledger.charges()).toBe(before['charges']! + 3);
  });

  it('is in /admin/resilience', async () => {
    const ledger = (await call(url, 'GET', '/ledger')).body;
    const resilience = await call(url, 'GET', '/admin/resilience');
    expect(resilience.body).toMatchObject({ service: 'payment', instance: 'payment-1', ledger });
  });
});

it('keeps the Idempotency-Key store beside the ledger', () => {
  expect(idempotencyPath('/a/payment.db')).toBe('/a/payment-idempotency.db');
  expect(idempotencyPath('/a/ledger')).toBe('/a/ledger-idempotency.db');
  expect(existsSync(join(dir.path, 'payment-idempotency.db'))).toBe(true);
});
