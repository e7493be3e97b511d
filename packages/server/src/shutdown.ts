import type { Server } from 'node:http';
import { checkDuration, checkObject, checkOptionNames, optionNames, type Logger } from '@lifeline/core';

/** Something to deregister from discovery at shutdown: a registration (`@lifeline/discovery/etcd`'s `register()`), or a function. */
export type Deregistration = { deregister(): unknown } | (() => unknown);

/** Something to close once requests have drained: a client, a pool, a store, or a function. */
export type Closeable = { close(): unknown } | (() => unknown);

/** Options of the graceful shutdown. */
export interface ShutdownOptions {
  /** Longest wait for in-flight requests once the servers stop accepting, ms; then their connections are destroyed. Default 10 000. */
  drainMs?: number;
  /**
   * Wait between deregistering and closing the servers, ms, while requests are still served:
   * the time load balancers and discovery watchers need to stop sending traffic (Kubernetes
   * endpoints, etcd watches). Default 0.
   */
  delayMs?: number;
  /** Run first (concurrently), as soon as readiness fails. */
  deregister?: Deregistration[];
  /** Run last (concurrently), after the drain: outgoing clients, pools, stores. */
  close?: Closeable[];
  /** Longest wait for any one deregister or close hook, ms. Default 5 000. */
  hookTimeoutMs?: number;
  /** How the process exits when a signal started the shutdown. Default `process.exit`. */
  exit?: (code: number) => void;
}

const SHUTDOWN_OPTIONS = optionNames<ShutdownOptions>({
  drainMs: true,
  delayMs: true,
  deregister: true,
  close: true,
  hookTimeoutMs: true,
  exit: true,
});

/** What {@link Lifeline.shutdown} did. */
export interface ShutdownReport {
  /** Whether every in-flight request finished within `drainMs`. */
  drained: boolean;
  /** Requests still in flight at `drainMs`, whose connections were destroyed. */
  abandoned: number;
  /** Deregister and close hooks that threw, rejected or timed out. */
  failedHooks: number;
  /** How long the whole shutdown took, ms. */
  durationMs: number;
}

/** @internal The servers and requests a shutdown acts on (the Lifeline). */
export interface ShutdownHost {
  readonly servers: ReadonlySet<Server>;
  /** Readiness starts failing; responses carry `connection: close`. */
  stopping(): void;
  /** The servers are closed: requests still arriving on open connections get a 503. */
  draining(): void;
  /** Requests in flight now. */
  inFlight(): number;
  /** Resolves when no request is in flight. */
  idle(): Promise<void>;
  /** Releases the host's own resources (timers, the default idempotency store). */
  release(): Promise<void>;
}

/** @internal Resolved shutdown options. */
export class Shutdown {
  readonly drainMs: number;
  readonly delayMs: number;
  readonly hookTimeoutMs: number;
  readonly exit: (code: number) => void;
  readonly #deregister: Deregistration[];
  readonly #close: Closeable[];
  readonly #logger: Logger | undefined;

  constructor(options: ShutdownOptions, logger: Logger | undefined) {
    checkObject('shutdown', options);
    checkOptionNames('shutdown', options, SHUTDOWN_OPTIONS);
    this.drainMs = checkDuration('shutdown.drainMs', options.drainMs ?? 10_000);
    this.delayMs = checkDuration('shutdown.delayMs', options.delayMs ?? 0);
    this.hookTimeoutMs = checkDuration('shutdown.hookTimeoutMs', options.hookTimeoutMs ?? 5_000);
    this.#deregister = checkHooks<Deregistration>('shutdown.deregister', options.deregister, 'deregister');
    this.#close = checkHooks<Closeable>('shutdown.close', options.close, 'close');
    if (options.exit !== undefined && typeof options.exit !== 'function') {
      throw new TypeError('lifeline: option `shutdown.exit` must be a function, got ' + typeof options.exit);
    }
    this.exit = options.exit ?? ((code) => process.exit(code));
    this.#logger = logger;
  }

  /** Adds a deregistration hook (for instance once `register()` resolved). */
  addDeregistration(hook: Deregistration): void {
    this.#deregister.push(...checkHooks<Deregistration>('deregister', [hook], 'deregister'));
  }

  /** Adds a close hook. */
  addCloseable(hook: Closeable): void {
    this.#close.push(...checkHooks<Closeable>('close', [hook], 'close'));
  }

  /**
   * The sequence: readiness fails → deregister hooks → `delayMs` → servers stop accepting
   * (and close idle keep-alive connections) → in-flight requests drain up to `drainMs`, then
   * the remaining connections are destroyed → close hooks.
   */
  async run(host: ShutdownHost): Promise<ShutdownReport> {
    const started = performance.now();
    host.stopping();
    this.#logger?.info({ inFlight: host.inFlight() }, 'lifeline: shutting down: readiness fails, deregistering');
    let failedHooks = await this.#runHooks(this.#deregister, 'deregister');
    if (this.delayMs > 0) await wait(this.delayMs);

    host.draining();
    for (const server of host.servers) {
      server.close(() => {});
      server.closeIdleConnections();
    }
    const inFlight = host.inFlight();
    const drained = inFlight === 0 || (await within(host.idle().then(() => true), this.drainMs, false));
    const abandoned = drained ? 0 : host.inFlight();
    if (!drained) {
      this.#logger?.warn({ abandoned, drainMs: this.drainMs }, 'lifeline: requests still in flight after drainMs; closing their connections');
      for (const server of host.servers) server.closeAllConnections();
    }

    failedHooks += await this.#runHooks(this.#close, 'close');
    await host.release();
    const durationMs = Math.round(performance.now() - started);
    this.#logger?.info({ drained, abandoned, failedHooks, durationMs }, 'lifeline: shutdown complete');
    return { drained, abandoned, failedHooks, durationMs };
  }

  async #runHooks(hooks: readonly (Deregistration | Closeable)[], method: 'deregister' | 'close'): Promise<number> {
    const results = await Promise.all(
      hooks.map(async (hook) => {
        try {
          const call = Promise.resolve().then(() =>
            typeof hook === 'function' ? hook() : (hook as Record<string, () => unknown>)[method]!(),
          );
          const done = await within(call.then(() => true), this.hookTimeoutMs, false);
          if (!done) throw new Error(`timed out after ${this.hookTimeoutMs} ms`);
          return 0;
        } catch (error) {
          this.#logger?.warn({ err: error }, `lifeline: a shutdown ${method} hook failed`);
          return 1;
        }
      }),
    );
    return results.reduce<number>((sum, failed) => sum + failed, 0);
  }
}

// The shutdown's timers are not unref'd: the process must stay up until the sequence is done.
function wait(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `promise`, or `fallback` after `ms`, whichever comes first; the timer is cleared either way. */
async function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function checkHooks<T>(name: string, hooks: unknown, method: 'deregister' | 'close'): T[] {
  if (hooks === undefined) return [];
  if (!Array.isArray(hooks)) throw new TypeError(`lifeline: option \`${name}\` must be an array, got ${typeof hooks}`);
  return hooks.map((hook: unknown, i) => {
    if (typeof hook === 'function') return hook as T;
    if (hook !== null && typeof hook === 'object' && typeof (hook as Record<string, unknown>)[method] === 'function') return hook as T;
    throw new TypeError(`lifeline: option \`${name}[${i}]\` must be a function or an object with a ${method}() method, got ${hook === null ? 'null' : typeof hook}`);
  });
}
