import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Processor } from '../src/processor.ts';
import { call, charge, type RunningPayment, startPayment, tempDir } from './helpers.ts';

describe('Processor', () => {
  it('processes at most `workers` charges at once and serves the line first come first served', async () => {
    const processor = new Processor({ workers: 2, workMs: 20 });
    const order: number[] = [];
    let maxBusy = 0;
    const all = Array.from({ length: 6 }, (_, i) =>
      processor.process().then(() => {
        order.push(i);
      }),
    );
    const watch = setInterval(() => (maxBusy = Math.max(maxBusy, processor.snapshot().busy)), 2);
    expect(processor.snapshot()).toMatchObject({ busy: 2, waiting: 4 });
    await Promise.all(all);
    clearInterval(watch);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(maxBusy).toBeLessThanOrEqual(2);
    expect(processor.snapshot()).toEqual({ workers: 2, workMs: 20, busy: 0, waiting: 0, processed: 6, abandoned: 0 });
  });

  it('takes a cancelled charge out of the line, and stops one being processed', async () => {
    const processor = new Processor({ workers: 1, workMs: 1_000 });
    const first = new AbortController();
    const second = new AbortController();
    const processing = processor.process(first.signal);
    const waiting = processor.process(second.signal);
    expect(processor.snapshot()).toMatchObject({ busy: 1, waiting: 1 });
    second.abort(new Error('caller gone'));
    await expect(waiting).rejects.toThrow('caller gone');
    expect(processor.snapshot()).toMatchObject({ busy: 1, waiting: 0, abandoned: 1 });
    first.abort(new Error('deadline'));
    await expect(processing).rejects.toThrow();
    expect(processor.snapshot()).toMatchObject({ busy: 0, waiting: 0, processed: 0, abandoned: 2 });
  });

  it('serves the line at once when workers are added, and holds it when they are taken away', async () => {
    const processor = new Processor({ workers: 1, workMs: 30 });
    const charges = [processor.process(), processor.process(), processor.process()];
    expect(processor.snapshot()).toMatchObject({ busy: 1, waiting: 2 });
    processor.resize({ workers: 3 });
    expect(processor.snapshot()).toMatchObject({ busy: 3, waiting: 0 });
    await Promise.all(charges);
    processor.resize({ workers: 1 });
    const more = [processor.process(), processor.process()];
    expect(processor.snapshot()).toMatchObject({ workers: 1, busy: 1, waiting: 1 });
    await Promise.all(more);
  });

  it('has no limit with 0 workers', () => {
    const processor = new Processor({ workers: 0, workMs: 5 });
    const charges = Array.from({ length: 50 }, () => processor.process());
    expect(processor.snapshot()).toMatchObject({ busy: 50, waiting: 0 });
    return Promise.all(charges);
  });

  it.each([
    [{ workers: -1, workMs: 10 }, 'payment: `workers` must be an integer from 0 (no limit) to 10000, got -1'],
    [{ workers: 1.5, workMs: 10 }, 'payment: `workers` must be an integer from 0 (no limit) to 10000, got 1.5'],
    [{ workers: 2, workMs: -3 }, 'payment: `workMs` must be an integer from 0 to 60000 ms, got -3'],
  ])('refuses %j', (capacity, message) => {
    expect(() => new Processor(capacity)).toThrow(message);
  });
});

describe('/admin/capacity', () => {
  const dir = tempDir();
  let payment: RunningPayment;
  beforeAll(async () => {
    payment = await startPayment({ dataPath: join(dir.path, 'payment.db'), instance: 'payment-1', workMs: 3_000, workers: 1 });
  });
  afterAll(async () => {
    await payment?.service.close();
    dir.remove();
  });

  it('makes charges wait in line for the processor, and changes its capacity at run time', { timeout: 20_000 }, async () => {
    const { url, service } = payment;
    expect((await call(url, 'GET', '/admin/capacity')).body).toMatchObject({ workers: 1, workMs: 3_000, busy: 0, waiting: 0 });
    const charges = Array.from({ length: 4 }, (_, i) => charge(url, `cap-${i}`, { orderId: `cap-${i}`, amount: 100 }));
    // With one worker the charges queue up behind each other (a charge takes 3 s: none ends meanwhile).
    for (let i = 0; i < 400 && service.processor.snapshot().waiting < 3; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(service.processor.snapshot()).toMatchObject({ busy: 1, waiting: 3 });
    const resized = await call(url, 'PUT', '/admin/capacity', { json: { workers: 4 } });
    expect(resized.status).toBe(200);
    expect(resized.body).toMatchObject({ workers: 4, workMs: 3_000, busy: 4, waiting: 0 });
    expect((await Promise.all(charges)).map((answer) => answer.status)).toEqual([201, 201, 201, 201]);
    const resilience = await call(url, 'GET', '/admin/resilience');
    expect(resilience.body).toMatchObject({ processor: { workers: 4, processed: 4 } });
  });

  it.each([[{}], [{ workers: -1 }], [{ workers: 'two' }], [{ workers: 2, speed: 3 }]])('refuses %j with a 400 problem', async (json) => {
    const answer = await call(payment.url, 'PUT', '/admin/capacity', { json });
    expect(answer.status).toBe(400);
    expect(payment.service.processor.snapshot().workers).toBe(4);
  });
});
