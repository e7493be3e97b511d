import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, charge, type RunningPayment, startPayment, tempDir } from './helpers.ts';

// Two instances on one ledger and one Idempotency-Key store, as the demo runs them behind
// client-side discovery: a retry may land on either.
const dir = tempDir();
let one: RunningPayment;
let two: RunningPayment;

beforeAll(async () => {
  const dataPath = join(dir.path, 'payment.db');
  one = await startPayment({ dataPath, instance: 'payment-1', workMs: 1, chaos: { enabled: true, seed: 7 } });
  two = await startPayment({ dataPath, instance: 'payment-2', workMs: 1, chaos: { enabled: true, seed: 7 } });
});

afterAll(async () => {
  await one?.service.close();
  await two?.service.close();
  dir.remove();
});

function received(resilience: unknown): number {
  return (resilience as { received: Record<string, number> }).received['POST /charges'] ?? 0;
}

describe('two instances sharing the ledger and the store', () => {
  it('replays on instance 2 a charge made through instance 1', async () => {
    const first = await charge(one.url, 'shared-1', { orderId: 'o-shared', amount: 900 });
    const retry = await charge(two.url, 'shared-1', { orderId: 'o-shared', amount: 900 });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ instance: 'payment-1' });
    expect(retry.status).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body).toEqual(first.body);
    expect(one.service.ledger.forOrder('o-shared')).toHaveLength(1);
    expect(two.service.ledger.forOrder('o-shared')).toHaveLength(1);
  });

  it('sees the charges of both instances in one ledger', async () => {
    await charge(one.url, 'both-1', { orderId: 'o-by-1', amount: 10 });
    await charge(two.url, 'both-2', { orderId: 'o-by-2', amount: 10 });
    expect(one.service.ledger.forOrder('o-by-2').map((c) => c.instance)).toEqual(['payment-2']);
    expect(two.service.ledger.forOrder('o-by-1').map((c) => c.instance)).toEqual(['payment-1']);
    expect((await call(one.url, 'GET', '/ledger')).body).toEqual((await call(two.url, 'GET', '/ledger')).body);
  });

  it('charges once when the response is lost and the retry goes to the other instance', async () => {
    const before = { ledger: one.service.ledger.charges(), received: received((await call(one.url, 'GET', '/admin/resilience')).body) };
    const put = await call(one.url, 'PUT', '/admin/chaos', {
      json: { rules: [{ method: 'POST', path: '/charges', percent: 100, fault: { type: 'lose-response' } }] },
    });
    expect(put.status).toBe(200);
    try {
      // The handler runs and charges; the answer never arrives, the connection closes.
      await expect(charge(one.url, 'lost-1', { orderId: 'o-lost', amount: 4200 })).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
    } finally {
      await call(one.url, 'DELETE', '/admin/chaos');
    }
    const retry = await charge(two.url, 'lost-1', { orderId: 'o-lost', amount: 4200 });
    expect(retry.status).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body).toMatchObject({ orderId: 'o-lost', amount: 4200, instance: 'payment-1' });
    expect(two.service.ledger.forOrder('o-lost')).toHaveLength(1);
    expect(two.service.ledger.charges()).toBe(before.ledger + 1);
    expect(two.service.ledger.duplicateCharges()).toBe(0);
    // Instance 1 counts the request whose answer was lost.
    expect(received((await call(one.url, 'GET', '/admin/resilience')).body)).toBe(before.received + 1);
  });
});
