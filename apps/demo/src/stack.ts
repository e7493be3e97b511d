import type { Mode } from './scenario/types.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { freePort } from './ports.ts';

export type ServiceName = 'user' | 'order' | 'payment';

/** The payment instances of the stack. */
export const PAYMENTS: readonly string[] = ['payment-1', 'payment-2'];

/** GETs JSON from one of the stack's processes; throws, naming the URL, on a non-200 answer or no answer. */
export async function getJson<T>(url: string, timeoutMs = 3_000): Promise<T> {
  const res = await request(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (res.statusCode !== 200) {
    const text = await res.body.text().catch(() => '');
    throw new Error(`GET ${url} answered ${res.statusCode}: ${text.slice(0, 200)}`);
  }
  return (await res.body.json()) as T;
}

export interface StackOptions {
  /** Where the services keep their SQLite files. */
  dataDir: string;
  /** The order service's client for user and payment (`naive`, a peer, or `lifeline`). Default `lifeline`. */
  client?: Mode;
  /** Where the services send their spans (the demo's OTLP receiver). */
  otlpUrl?: string | undefined;
  /** `etcd://host:port`: payment instances register there and order finds them there. */
  registry?: string | undefined;
  chaosSeed?: number;
  /** Each payment instance's card processor: charges processed at once, and ms each (the service's defaults when absent). */
  processor?: { workers: number; workMs: number } | undefined;
  /** With `client: 'naive'`: a timeout per attempt, ms (none when absent). */
  naiveAttemptTimeoutMs?: number | undefined;
  /** Every log line of every process, parsed when it is JSON. */
  onLog?: (instance: string, line: Record<string, unknown> | string) => void;
  /** Called when an instance's process exits (killed, crashed, stopped). */
  onExit?: (instance: string, code: number | null, signal: string | null) => void;
}

export interface Instance {
  id: string;
  service: ServiceName;
  port: number;
  url: string;
  process: ChildProcess | undefined;
  status: 'starting' | 'up' | 'down';
}

const appsDir = fileURLToPath(new URL('../../', import.meta.url));
const mainOf = (service: ServiceName): string => join(appsDir, `${service}-service`, 'src', 'main.ts');

/**
 * The demo's processes on loopback: user ×1, payment ×2, order ×1, each a real Node process
 * running its service from source, with fault injection enabled (it is off in a service
 * unless `--chaos` is given). Ports are picked once, so a restarted instance comes back at
 * the same address and static discovery finds it again.
 */
export class Stack {
  readonly instances = new Map<string, Instance>();
  readonly options: StackOptions;
  #stopping = false;

  private constructor(options: StackOptions) {
    this.options = options;
  }

  static async start(options: StackOptions): Promise<Stack> {
    const stack = new Stack(options);
    const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const add = (id: string, service: ServiceName, port: number): void => {
      stack.instances.set(id, { id, service, port, url: `http://127.0.0.1:${port}`, process: undefined, status: 'down' });
    };
    add('user-1', 'user', ports[0]);
    add('payment-1', 'payment', ports[1]);
    add('payment-2', 'payment', ports[2]);
    add('order-1', 'order', ports[3]);
    try {
      await Promise.all(['user-1', 'payment-1', 'payment-2'].map((id) => stack.#firstLaunch(id)));
      await stack.#firstLaunch('order-1');
    } catch (error) {
      await stack.stop();
      throw error;
    }
    return stack;
  }

  get(id: string): Instance {
    const instance = this.instances.get(id);
    if (instance === undefined) throw new RangeError(`no instance ${JSON.stringify(id)} (there are ${[...this.instances.keys()].join(', ')})`);
    return instance;
  }

  url(id: string): string {
    return this.get(id).url;
  }

  #args(instance: Instance): string[] {
    const o = this.options;
    const args = [
      '--port', String(instance.port),
      '--instance', instance.id,
      '--data', join(o.dataDir, `${instance.service}.db`),
      '--chaos', '--chaos-seed', String(o.chaosSeed ?? 1),
    ];
    if (o.otlpUrl !== undefined) args.push('--otlp', o.otlpUrl);
    if (instance.service === 'payment' && o.registry !== undefined) args.push('--registry', o.registry);
    if (instance.service === 'payment' && o.processor !== undefined) args.push('--workers', String(o.processor.workers), '--work-ms', String(o.processor.workMs));
    if (instance.service === 'order') {
      args.push('--user', this.url('user-1'), '--client', o.client ?? 'lifeline');
      if (o.client === 'naive' && o.naiveAttemptTimeoutMs !== undefined) args.push('--naive-attempt-timeout', String(o.naiveAttemptTimeoutMs));
      if (o.registry !== undefined && (o.client === undefined || o.client === 'lifeline')) args.push('--registry', o.registry);
      else args.push('--payment', ['payment-1', 'payment-2'].map((id) => `127.0.0.1:${this.get(id).port}`).join(','));
    }
    return args;
  }

  /**
   * The first start of an instance. Its port was free when picked, but another process on the
   * machine (a test server binding port 0) may take it before the instance binds it: then the
   * instance exits with EADDRINUSE, and it is started again on a newly picked port, up to twice.
   * (Order, started last, is given the payment ports it will then know.)
   */
  async #firstLaunch(id: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.launch(id);
        return;
      } catch (error) {
        if (attempt >= 3 || !(error instanceof Error) || !error.message.includes('EADDRINUSE')) throw error;
        const instance = this.get(id);
        const port = await freePort();
        this.instances.set(id, { ...instance, port, url: `http://127.0.0.1:${port}`, process: undefined, status: 'down' });
      }
    }
  }

  /** Starts an instance's process and waits until it answers ready — itself, not another process on its port. */
  async launch(id: string): Promise<void> {
    const instance = this.get(id);
    if (instance.status !== 'down') throw new Error(`${id} is ${instance.status}`);
    const child = spawn(process.execPath, ['--conditions=@lifeline/source', mainOf(instance.service), ...this.#args(instance)], {
      // The child watches its stdin: if this process dies, even by SIGKILL, it shuts down.
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'info', LIFELINE_EXIT_WITH_PARENT: '1' },
    });
    instance.process = child;
    instance.status = 'starting';
    const output: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        output.push(line);
        if (output.length > 50) output.shift();
        let parsed: Record<string, unknown> | string = line;
        try {
          parsed = JSON.parse(line) as Record<string, unknown>;
        } catch {
          // not JSON: a crash trace, a warning from Node
        }
        this.options.onLog?.(id, parsed);
      });
    }
    child.once('exit', (code, signal) => {
      if (instance.process === child) {
        instance.process = undefined;
        instance.status = 'down';
      }
      if (!this.#stopping) this.options.onExit?.(id, code, signal);
    });
    // Generous: four processes loading their modules at once on a busy 2-core machine take 10+ s.
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${id} exited while starting (${child.exitCode ?? child.signalCode}):\n${output.join('\n')}`);
      }
      if ((await this.ready(id)) && (await this.#answersAs(instance.url, child.pid))) {
        instance.status = 'up';
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    child.kill('SIGKILL');
    throw new Error(`${id} was not ready within 60 s:\n${output.join('\n')}`);
  }

  /** Whether the process answering at `url` is `pid` (its `/admin/resilience` says which process it is). */
  async #answersAs(url: string, pid: number | undefined): Promise<boolean> {
    try {
      const res = await request(`${url}/admin/resilience`, { signal: AbortSignal.timeout(1_000) });
      const body = (await res.body.json()) as { pid?: unknown };
      return res.statusCode === 200 && body.pid === pid;
    } catch {
      return false;
    }
  }

  /** Whether the instance answers its readiness probe now. */
  async ready(id: string): Promise<boolean> {
    try {
      const res = await request(`${this.url(id)}/health/ready`, { signal: AbortSignal.timeout(1_000) });
      await res.body.dump();
      return res.statusCode === 200;
    } catch {
      return false;
    }
  }

  /** Kills an instance at once (SIGKILL): no drain, no deregistration — a crash. */
  async kill(id: string): Promise<void> {
    const child = this.get(id).process;
    if (child === undefined) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts a killed (or stopped) instance again at the same address. */
  async restart(id: string): Promise<void> {
    const instance = this.get(id);
    if (instance.process !== undefined) await this.kill(id);
    await this.launch(id);
  }

  /** Stops every process: SIGTERM (a graceful drain), SIGKILL after 8 s. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const order = ['order-1', 'payment-1', 'payment-2', 'user-1'];
    await Promise.all(
      order.map(async (id) => {
        const child = this.instances.get(id)?.process;
        if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 8_000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
