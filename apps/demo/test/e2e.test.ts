import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyFault } from '../src/faults.ts';
import { getJson, Stack } from '../src/stack.ts';
import { Traffic, type CallRecord } from '../src/traffic.ts';

// The whole stack as real processes: user-1, payment-1, payment-2, order-1 (Lifeline client).
let stack: Stack;
let traffic: Traffic;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'lifeline-e2e-'));
  stack = await Stack.start({ dataDir, client: 'lifeline', chaosSeed: 7 });
  traffic = new Traffic({ url: stack.url('order-1'), rate: 0, timeoutMs: 10_000 });
}, 150_000);

afterAll(async () => {
  await traffic?.stop();
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}, 30_000);

interface OrderView {
  id: string;
  status: 'paid' | 'pending_payment' | 'payment_failed';
  charge: { id: string; instance: string } | null;
}

const order = (id: string): Promise<OrderView> => getJson<OrderView>(`${stack.url('order-1')}/orders/${id}`);
const ledger = (): Promise<{ charges: number; orders: number; duplicateCharges: number }> => getJson(`${stack.url('payment-1')}/ledger`);

/** Places `n` orders, `concurrency` at a time. */
async function place(n: number, concurrency: number): Promise<CallRecord[]> {
  const records: CallRecord[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        records.push(await traffic.place());
      }
    }),
  );
  return records;
}

/** Polls until every order is paid, or fails with the ones still not paid after `ms`. */
async function settled(ids: string[], ms: number): Promise<OrderView[]> {
  const deadline = Date.now() + ms;
  let views: OrderView[] = [];
  while (Date.now() < deadline) {
    views = await Promise.all(ids.map(order));
    if (views.every((v) => v.status === 'paid')) return views;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return views;
}

describe('the demo stack, end to end', () => {
  it('lost responses on payment: every order is paid or pending, and no order is charged twice', async () => {
    await applyFault(stack, { action: 'lost-responses', percent: 50 });
    const records = await place(40, 4);
    // Responses really were lost: payment made charges whose answers never left the process.
    // (Read before clearing: the counts belong to the rules.) Whether order retried them or left
    // them to its outbox depends on its retry budget and throttle; either way each is charged once.
    const lost = await Promise.all(
      ['payment-1', 'payment-2'].map(async (id) => {
        const { chaos } = await getJson<{ chaos: { injected: Record<string, number> } }>(`${stack.url(id)}/admin/resilience`);
        return Object.values(chaos.injected).reduce((a, b) => a + b, 0);
      }),
    );
    await applyFault(stack, { action: 'clear' });
    expect(lost[0]! + lost[1]!).toBeGreaterThan(0);

    // Every call was answered: 201 paid or 202 pending — an accepted order, never an error.
    expect(records.map((r) => r.status).filter((s) => s !== 201 && s !== 202)).toEqual([]);
    const ids = records.map((r) => r.orderId!);
    expect(new Set(ids).size).toBe(40);

    const views = await settled(ids, 30_000);
    expect(views.filter((v) => v.status !== 'paid').map((v) => `${v.id} ${v.status}`)).toEqual([]);
    const l = await ledger();
    expect(l.duplicateCharges).toBe(0);
    expect(l.orders).toBe(40);
    expect(l.charges).toBe(40);
  }, 90_000);

  it('payment down: orders are accepted as pending, and settle once payment is back — charged once each', async () => {
    const before = await ledger();
    await Promise.all([stack.kill('payment-1'), stack.kill('payment-2')]);
    const records = await place(12, 3);
    expect(records.map((r) => r.status)).toEqual(Array(12).fill(202));
    const ids = records.map((r) => r.orderId!);
    for (const v of await Promise.all(ids.map(order))) expect(v.status).toBe('pending_payment');

    await Promise.all([stack.restart('payment-1'), stack.restart('payment-2')]);
    const views = await settled(ids, 45_000);
    expect(views.filter((v) => v.status !== 'paid').map((v) => `${v.id} ${v.status}`)).toEqual([]);
    const after = await ledger();
    expect(after.duplicateCharges).toBe(0);
    expect(after.charges - before.charges).toBe(12);
  }, 120_000);

  it('bad input gets a 400 problem naming the field, an unknown user a 404', async () => {
    const post = async (body: unknown) => {
      const res = await request(`${stack.url('order-1')}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.statusCode, type: res.headers['content-type'], body: (await res.body.json()) as { code: string; detail: string } };
    };
    const bad = await post({ userId: 'u1', amount: -5 });
    expect(bad.status).toBe(400);
    expect(bad.type).toContain('application/problem+json');
    expect(bad.body.detail).toContain('amount');
    const unknown = await post({ userId: 'u999999', amount: 100 });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('USER_NOT_FOUND');
    const fault = await applyFault(stack, { action: 'slow-payment', ms: -1 }).catch((e: Error) => e.message);
    expect(fault).toContain('ms must be a number from 1 to 60000');
  });
});
