import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { runMain as runApp, startEtcd, type ServiceProcess } from '@lifeline/demo-kit/testing';
import { charge, tempDir } from './helpers.ts';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const runMain = (args: string[]): ServiceProcess => runApp(appDir, args);

const dir = tempDir();
let running: ServiceProcess | undefined;

afterAll(() => {
  if (running !== undefined && running.child.exitCode === null) running.child.kill('SIGKILL');
  dir.remove();
});

it('runs as a process: listens, charges, and exits 0 on SIGTERM', async () => {
  running = runMain(['--port', '0', '--instance', 'payment-7', '--data', join(dir.path, 'payment.db'), '--work-ms', '0']);
  const listening = await running.waitFor('payment listening');
  expect(listening).toMatchObject({ service: 'payment', instance: 'payment-7', url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
  const answer = await charge(listening['url'] as string, 'main-1', { orderId: 'o-main', amount: 1500 });
  expect(answer.status).toBe(201);
  expect(answer.body).toMatchObject({ orderId: 'o-main', instance: 'payment-7' });
  running.child.kill('SIGTERM');
  expect(await running.exited).toBe(0);
});

it('exits 2 naming a bad option', async () => {
  const bad = runMain(['--port', '0', '--work-ms', 'soon', '--data', join(dir.path, 'bad.db')]);
  expect(await bad.exited).toBe(2);
  expect(bad.stderr()).toContain('--work-ms');
});

it('registers in etcd once listening, and deregisters on SIGTERM', async () => {
  const etcd = await startEtcd();
  try {
    running = runMain(['--port', '0', '--instance', 'payment-8', '--data', join(dir.path, 'etcd.db'), '--registry', etcd.registry]);
    const registered = await running.waitFor('payment registered');
    const { url } = await running.waitFor('payment listening');
    const { port } = new URL(url as string);
    expect(registered).toMatchObject({ key: 'lifeline/services/payment/payment-8', address: `127.0.0.1:${port}` });
    expect(JSON.parse((await etcd.get('lifeline/services/payment/payment-8')) ?? 'null')).toMatchObject({ Addr: `127.0.0.1:${port}` });
    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
    expect(await etcd.get('lifeline/services/payment/payment-8')).toBeUndefined();
  } finally {
    await etcd.stop();
  }
});
