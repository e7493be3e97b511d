import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { runMain as runApp, startEtcd, type ServiceProcess } from '@lifeline/demo-kit/testing';
import { call, tempDir } from './helpers.ts';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const runMain = (args: string[]): ServiceProcess => runApp(appDir, args);

const dir = tempDir();
let running: ServiceProcess | undefined;

afterAll(() => {
  if (running !== undefined && running.child.exitCode === null) running.child.kill('SIGKILL');
  dir.remove();
});

it('runs as a process: listens, answers, and exits 0 on SIGTERM', async () => {
  running = runMain(['--port', '0', '--instance', 'user-7', '--data', join(dir.path, 'user.db')]);
  const listening = await running.waitFor('user listening');
  expect(listening).toMatchObject({ service: 'user', instance: 'user-7', url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
  const answer = await call(listening['url'] as string, 'GET', '/users/u42');
  expect(answer.status).toBe(200);
  expect(answer.body).toMatchObject({ id: 'u42' });
  running.child.kill('SIGTERM');
  expect(await running.exited).toBe(0);
});

it('exits 2 naming a bad option', async () => {
  const bad = runMain(['--port', 'eighty', '--data', join(dir.path, 'bad.db')]);
  expect(await bad.exited).toBe(2);
  expect(bad.stderr()).toContain('--port');
});

it('registers in etcd once listening, and deregisters on SIGTERM', async () => {
  const etcd = await startEtcd();
  try {
    running = runMain(['--port', '0', '--instance', 'user-8', '--data', join(dir.path, 'etcd.db'), '--registry', etcd.registry]);
    await running.waitFor('user registered');
    const { url } = await running.waitFor('user listening');
    const { port } = new URL(url as string);
    expect(JSON.parse((await etcd.get('lifeline/services/user/user-8')) ?? 'null')).toMatchObject({ Addr: `127.0.0.1:${port}` });
    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
    expect(await etcd.get('lifeline/services/user/user-8')).toBeUndefined();
  } finally {
    await etcd.stop();
  }
});
