import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { send, sleep, waitFor, type Reply } from './helpers.ts';

const fixture = fileURLToPath(new URL('./shutdown-child.ts', import.meta.url));

/** The fixture service in a child process, with what it printed. */
class Service {
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  readonly #proc: ChildProcess;
  #stderr = '';

  constructor(env: Record<string, string>) {
    this.#proc = spawn(process.execPath, ['--no-warnings', '--conditions=@lifeline/source', fixture], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let pending = '';
    this.#proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const parts = pending.split('\n');
      pending = parts.pop()!;
      this.lines.push(...parts);
    });
    this.#proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.#stderr += chunk));
    this.exited = new Promise((resolve) => this.#proc.once('exit', (code) => resolve(code)));
  }

  async url(): Promise<string> {
    await waitFor(() => this.lines.some((line) => line.startsWith('listening:')), 15_000, `the service to listen (stderr: ${this.#stderr})`);
    return `http://127.0.0.1:${this.lines.find((line) => line.startsWith('listening:'))!.slice('listening:'.length)}`;
  }

  count(line: string): number {
    return this.lines.filter((l) => l === line).length;
  }

  signal(name: NodeJS.Signals): void {
    this.#proc.kill(name);
  }

  kill(): void {
    if (this.#proc.exitCode === null) this.#proc.kill('SIGKILL');
  }
}

let service: Service | undefined;
afterEach(() => {
  service?.kill();
  service = undefined;
});

describe('graceful shutdown of a real process on SIGTERM', () => {
  it('fails readiness, deregisters, refuses new connections, drains in-flight requests with 200, then exits 0', async () => {
    service = new Service({ DEREGISTER_MS: '800' });
    const url = await service.url();
    expect((await send(url, { path: '/health/ready' })).status).toBe(200);

    const inFlight = [1, 2, 3].map(() => send(url, { path: '/slow?ms=2500', timeoutMs: 15_000 }));
    await waitFor(() => service!.count('slow:start') === 3, 10_000, 'three requests in flight');
    service.signal('SIGTERM');

    // Readiness fails first, while deregistration runs and the server still accepts.
    let ready: Reply | undefined;
    await waitFor(() => service!.count('deregister:start') === 1, 5_000, 'deregistration to start');
    for (let i = 0; i < 50 && ready?.status !== 503; i++) ready = await send(url, { path: '/health/ready' });
    expect(ready?.status).toBe(503);
    expect(JSON.parse(ready!.body)).toEqual({ status: 'fail', reason: 'shutting down' });

    // Then the server stops accepting, while the three requests are still running. A probe
    // that raced the close may be reset or answered 503 instead; only a refusal ends the loop.
    let refused = false;
    const refusedBy = Date.now() + 5_000;
    while (!refused && Date.now() < refusedBy) {
      await send(url, { path: '/health/live', timeoutMs: 1_000 }).catch((error: NodeJS.ErrnoException) => {
        refused = error.code === 'ECONNREFUSED';
      });
      if (!refused) await sleep(20);
    }
    expect(refused).toBe(true);
    expect(service.lines).toContain('deregister:done');
    expect(service.lines).not.toContain('close');

    const replies = await Promise.all(inFlight);
    expect(replies.map((reply) => [reply.status, reply.body])).toEqual([
      [200, 'ok'],
      [200, 'ok'],
      [200, 'ok'],
    ]);
    expect(await service.exited).toBe(0);
    const order = ['deregister:start', 'deregister:done', 'close', 'exit:0'].map((line) => service!.lines.indexOf(line));
    expect(order.every((index, i) => index >= 0 && (i === 0 || index > order[i - 1]!))).toBe(true);
  });

  it('destroys the connections still busy after drainMs, then exits 0', async () => {
    service = new Service({ DEREGISTER_MS: '0', DRAIN_MS: '300' });
    const url = await service.url();
    const stuck = send(url, { path: '/slow?ms=60000', timeoutMs: 15_000 });
    await waitFor(() => service!.count('slow:start') === 1, 10_000, 'the request in flight');
    const signalled = performance.now();
    service.signal('SIGTERM');
    await expect(stuck).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(await service.exited).toBe(0);
    expect(performance.now() - signalled).toBeLessThan(8_000);
    expect(service.lines).toContain('close');
  });
});
