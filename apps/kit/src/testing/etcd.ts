import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { request } from 'undici';

export interface Etcd {
  /** `etcd://127.0.0.1:<port>`, for `--registry`. */
  registry: string;
  /** The value under `key`, or undefined. */
  get(key: string): Promise<string | undefined>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** A single-member etcd on free loopback ports with a temp data dir, ready when this resolves. */
export async function startEtcd(): Promise<Etcd> {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const dataDir = mkdtempSync(join(tmpdir(), 'lifeline-etcd-'));
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const child = spawn(
    'etcd',
    ['--name', 't', '--data-dir', dataDir, '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `t=${peer}`,
      '--log-level', 'info', '--log-outputs', 'stderr'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = once(child, 'exit');
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`etcd not ready within 15 s: ${log.slice(-2_000)}`)), 15_000);
    child.once('error', reject);
    void exited.then(() => reject(new Error(`etcd exited: ${log.slice(-2_000)}`)));
    createInterface({ input: child.stderr }).on('line', (line) => {
      log += `${line}\n`;
      if (line.includes('ready to serve client requests')) {
        clearTimeout(timer);
        resolve();
      }
    });
  }).catch((error: unknown) => {
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  });
  return {
    registry: `etcd://127.0.0.1:${clientPort}`,
    async get(key) {
      const response = await request(`${client}/v3/kv/range`, {
        method: 'POST',
        body: JSON.stringify({ key: Buffer.from(key).toString('base64') }),
      });
      const { kvs } = (await response.body.json()) as { kvs?: { value: string }[] };
      const value = kvs?.[0]?.value;
      return value === undefined ? undefined : Buffer.from(value, 'base64').toString();
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
