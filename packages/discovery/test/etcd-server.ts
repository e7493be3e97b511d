import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../bulkhead/test/redis-server.ts';

/** A real single-member etcd on 127.0.0.1 (free client and peer ports, a temp data dir), for one test file. */
export interface EtcdServer {
  /** `http://127.0.0.1:<client port>`, for `new Etcd3({ hosts })`. */
  readonly hosts: string;
  readonly clientPort: number;
  /** Stops etcd gracefully (SIGTERM) and waits for it to exit; the data dir is kept. */
  stop(): Promise<void>;
  /** Starts etcd again on the same ports and data dir, and waits until it serves. */
  start(): Promise<void>;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<void>;
  /** Freezes (SIGSTOP) or thaws (SIGCONT) the process: a network partition, as far as clients can tell. */
  pause(): void;
  resume(): void;
  /** Whether the process is running. */
  readonly running: boolean;
  /** Stops etcd and removes the data dir. */
  dispose(): Promise<void>;
}

async function healthy(clientPort: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${clientPort}/health`, { signal: AbortSignal.timeout(1_000) });
    const body = (await response.json()) as { health?: unknown };
    return response.ok && body.health === 'true';
  } catch {
    return false;
  }
}

export async function startEtcd(): Promise<EtcdServer> {
  const clientPort = await freePort();
  let peerPort = await freePort();
  while (peerPort === clientPort) peerPort = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'lifeline-etcd-'));
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [
    '--name', 't',
    '--data-dir', dataDir,
    '--listen-client-urls', client,
    '--advertise-client-urls', client,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `t=${peer}`,
    '--initial-cluster-state', 'new',
    '--logger', 'zap',
    '--log-level', 'error',
    '--log-outputs', 'stderr',
  ];
  let child: ChildProcess | undefined;
  let stderr = '';

  const exited = (proc: ChildProcess): Promise<void> =>
    proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((resolve) => proc.once('exit', () => resolve()));

  const start = async (): Promise<void> => {
    if (child !== undefined) throw new Error('etcd is already running');
    stderr = '';
    const proc = spawn('etcd', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    proc.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4_000);
    });
    const failed = new Promise<never>((_, reject) => {
      proc.once('error', (error) => reject(new Error(`etcd could not be started (is etcd-server installed?): ${error.message}`)));
      proc.once('exit', (code, signal) => reject(new Error(`etcd exited during start (${code ?? signal}): ${stderr}`)));
    });
    failed.catch(() => undefined);
    const started = Date.now();
    while (!(await Promise.race([healthy(clientPort), failed]))) {
      if (Date.now() - started > 15_000) {
        proc.kill('SIGKILL');
        throw new Error(`etcd did not become healthy within 15 s: ${stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined) return;
    const done = exited(proc);
    proc.kill('SIGCONT');
    proc.kill(signal);
    await done;
  };

  await start();
  return {
    hosts: client,
    clientPort,
    start,
    stop: () => halt('SIGTERM'),
    kill: () => halt('SIGKILL'),
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    get running() {
      return child !== undefined;
    },
    dispose: async () => {
      await halt('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
