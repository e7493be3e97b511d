import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { checkDuration, checkInteger, checkObject, checkOptionNames, type Disposable, type Logger } from '@lifeline/core';
import { nodeHandler, nodeIdempotent, type NodeIdempotencyOptions, type NodeIdempotentHandler, type NodeRequestHandler } from './adapters/node.ts';
import type { MeterProvider } from '@opentelemetry/api';
import { Engine } from './engine.ts';
import { Health } from './health.ts';
import { checkStore } from './idempotency/guard.ts';
import { IDEMPOTENCY_DEFAULTS, LIFELINE_OPTIONS, type LifelineOptions, type LifelineSnapshot, type LifelineState } from './options.ts';
import { Shutdown, type Closeable, type Deregistration, type ShutdownReport } from './shutdown.ts';

const DAY_MS = 86_400_000;

// Set by the class's static block: the engine stays out of the Lifeline's public type.
let engineOf: (lifeline: Lifeline) => Engine;

/**
 * The server half of Lifeline for one service: per-request context and deadlines, load
 * shedding, Idempotency-Key handling, problem responses, health endpoints and the graceful
 * shutdown, shared by the `node:http` handler and the Fastify and Express adapters. Make
 * one per process with {@link createLifeline}.
 *
 * @example
 * const lifeline = createLifeline({ timeout: 10_000, shutdown: { deregister: [registration] } });
 * const server = lifeline.attach(http.createServer(lifeline.handler(async (req, res) => {
 *   res.end(`hello ${requestContext(req)!.requestId}`);
 * })));
 * lifeline.installSignalHandlers();
 * server.listen(8080);
 */
export class Lifeline {
  /** The server's own limit per request, ms. */
  readonly timeout: number;
  readonly trustInbound: boolean;
  readonly logger: Logger | undefined;
  readonly #engine: Engine;
  readonly #shutdown: Shutdown;
  readonly #servers = new Set<Server>();
  #shutdownRun: Promise<ShutdownReport> | undefined;

  static {
    engineOf = (lifeline) => lifeline.#engine;
  }

  constructor(options: LifelineOptions = {}) {
    checkObject('options', options);
    checkOptionNames('', options, LIFELINE_OPTIONS);
    this.timeout = checkDuration('timeout', options.timeout ?? 30_000, true);
    if (this.timeout === 0) throw new RangeError('lifeline: option `timeout` must be > 0 ms (or Infinity), got 0');
    this.trustInbound = options.trustInbound ?? true;
    if (typeof this.trustInbound !== 'boolean') {
      throw new TypeError(`lifeline: option \`trustInbound\` must be a boolean, got ${typeof this.trustInbound}`);
    }
    this.logger = checkLogger(options.logger);
    const health = options.health === false ? undefined : new Health(options.health ?? {}, this.logger);
    this.#shutdown = new Shutdown(options.shutdown ?? {}, this.logger);
    const idempotency = options.idempotency ?? {};
    checkObject('idempotency', idempotency);
    checkOptionNames('idempotency', idempotency, IDEMPOTENCY_DEFAULTS);
    const store = checkStore(idempotency.store);
    const ttlMs = checkInteger('idempotency.ttlMs', idempotency.ttlMs ?? DAY_MS, 1);
    const lockDefault = Number.isFinite(this.timeout) ? Math.max(60_000, Math.ceil(2 * this.timeout)) : 60_000;
    const lockMs = checkInteger('idempotency.lockMs', idempotency.lockMs ?? lockDefault, 1);
    this.#engine = new Engine({
      timeout: this.timeout,
      trustInbound: this.trustInbound,
      shedding: options.shedding,
      health,
      logger: this.logger,
      store,
      ttlMs,
      lockMs,
      meterProvider: checkMeterProvider(options.meterProvider),
      servers: this.#servers,
    });
  }

  /** Where the Lifeline is in its life: `serving`, then `stopping`, `draining` and `stopped` during shutdown. */
  get state(): LifelineState {
    return this.#engine.state;
  }

  /**
   * Wraps a `node:http` request listener: health probes are answered, every other request
   * gets its context (`requestContext(req)`, `currentRequestContext()`), passes the
   * concurrency limit, and runs inside its context; an error thrown (or rejected) by the
   * listener becomes a problem response.
   *
   * @example
   * http.createServer(lifeline.handler(async (req, res) => {
   *   const user = await users.get('/users/1'); // inherits the deadline, the signal, the request id and the trace
   *   res.end(JSON.stringify(user));
   * }));
   */
  handler(listener: NodeRequestHandler): (req: IncomingMessage, res: ServerResponse) => void {
    return nodeHandler(this.#engine, listener);
  }

  /**
   * Makes a `node:http` route idempotent under the `Idempotency-Key` header: the body is read
   * (up to `maxBodyBytes`) and given to `handler`; a duplicate gets the first response
   * replayed, 409 while the first runs, 422 when the key was used for another request. Call
   * the returned function from within `lifeline.handler()`.
   *
   * @example
   * const charge = lifeline.idempotent({ required: true }, async (req, res, body) => {
   *   const id = await charges.create(JSON.parse(body.toString()));
   *   res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id }));
   * });
   * http.createServer(lifeline.handler((req, res) => (req.url === '/charges' ? charge(req, res) : notFound(res))));
   */
  idempotent(options: NodeIdempotencyOptions | true, handler: NodeIdempotentHandler): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
    return nodeIdempotent(this.#engine, options, handler);
  }

  /**
   * Registers a server to stop and drain at shutdown. Returns it, for chaining.
   *
   * @example
   * const server = lifeline.attach(app.listen(8080));
   */
  attach<S extends Server>(server: S): S {
    this.#servers.add(server);
    server.once('close', () => this.#servers.delete(server));
    return server;
  }

  /**
   * Adds a deregistration hook, run as soon as shutdown begins (for a registration made
   * after the Lifeline was created).
   *
   * @example
   * lifeline.deregisterOnShutdown(await register({ hosts, service: 'payment', instance }));
   */
  deregisterOnShutdown(hook: Deregistration): void {
    this.#shutdown.addDeregistration(hook);
  }

  /**
   * Adds a close hook, run once in-flight requests have drained.
   *
   * @example
   * lifeline.closeOnShutdown(paymentClient);
   */
  closeOnShutdown(hook: Closeable): void {
    this.#shutdown.addCloseable(hook);
  }

  /**
   * Shuts down gracefully: readiness fails → deregister hooks → `shutdown.delayMs` → the
   * attached servers stop accepting and close idle connections → in-flight requests drain
   * (up to `shutdown.drainMs`, then their connections are destroyed) → close hooks. Requests
   * arriving on open connections while draining get 503 with `connection: close`. Calling it
   * again returns the same promise. It does not exit the process.
   *
   * @example
   * const report = await lifeline.shutdown(); // { drained: true, abandoned: 0, failedHooks: 0, durationMs: 412 }
   */
  shutdown(): Promise<ShutdownReport> {
    const engine = this.#engine;
    this.#shutdownRun ??= this.#shutdown.run({
      servers: this.#servers,
      stopping: () => engine.stopping(),
      draining: () => {
        engine.state = 'draining';
      },
      inFlight: () => engine.inFlight,
      idle: () => engine.idle(),
      release: () => engine.release(),
    });
    return this.#shutdownRun;
  }

  /**
   * Shuts down on SIGTERM and SIGINT (or `signals`), then exits with code 0 (through
   * `shutdown.exit`). A second signal during the shutdown exits at once with code 1.
   *
   * @example
   * const handle = lifeline.installSignalHandlers();
   * // later, in tests: handle.dispose();
   */
  installSignalHandlers(signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): Disposable {
    let received = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (received) {
        this.logger?.warn({ signal }, 'lifeline: second signal during shutdown; exiting now');
        this.#shutdown.exit(1);
        return;
      }
      received = true;
      this.logger?.info({ signal }, `lifeline: ${signal} received`);
      this.shutdown().then(
        () => this.#shutdown.exit(0),
        (error: unknown) => {
          this.logger?.warn({ err: error }, 'lifeline: shutdown failed');
          this.#shutdown.exit(1);
        },
      );
    };
    for (const signal of signals) process.on(signal, onSignal);
    return {
      dispose: () => {
        for (const signal of signals) process.off(signal, onSignal);
      },
    };
  }

  /**
   * The state of the server half, as plain JSON: requests in flight, shed and refused
   * counts, ignored headers, idempotency counters.
   *
   * @example
   * app.get('/admin/resilience', () => ({ server: lifeline.snapshot() }));
   */
  snapshot(): LifelineSnapshot {
    return this.#engine.snapshot();
  }
}

/**
 * @internal The engine of the Lifeline an adapter was given, checked when the adapter is set up (not on
 * its first request), with a message naming the adapter function.
 */
export function lifelineEngine(where: string, value: unknown): Engine {
  if (value instanceof Lifeline) return engineOf(value);
  const got = value === null ? 'null' : typeof value === 'object' ? 'another object' : typeof value;
  throw new TypeError(`lifeline: ${where} needs the Lifeline made by createLifeline(), got ${got}`);
}

/** The `meterProvider` option: an OpenTelemetry MeterProvider (anything with `getMeter()`). */
function checkMeterProvider(provider: unknown): MeterProvider | undefined {
  if (provider === undefined) return undefined;
  if (provider === null || typeof provider !== 'object' || typeof (provider as { getMeter?: unknown }).getMeter !== 'function') {
    const got = provider === null ? 'null' : typeof provider === 'object' ? 'an object without getMeter()' : typeof provider;
    throw new TypeError(`lifeline: option \`meterProvider\` must be an OpenTelemetry MeterProvider (with getMeter()), got ${got}`);
  }
  return provider as MeterProvider;
}

/** The `logger` option: anything with pino's `info(object, message)` and `warn(object, message)`. */
function checkLogger(logger: unknown): Logger | undefined {
  if (logger === undefined) return undefined;
  if (logger === null || typeof logger !== 'object') {
    throw new TypeError(`lifeline: option \`logger\` must be a logger with info() and warn() methods (pino, for one), got ${logger === null ? 'null' : typeof logger}`);
  }
  const { info, warn } = logger as Partial<Record<'info' | 'warn', unknown>>;
  if (typeof info !== 'function' || typeof warn !== 'function') {
    throw new TypeError('lifeline: option `logger` must be a logger with info() and warn() methods (pino, for one), got an object without them');
  }
  return logger as Logger;
}

/**
 * Creates the server half of Lifeline for a service. Bad options throw here, naming the
 * option, the value and what is allowed.
 *
 * @example
 * const lifeline = createLifeline({
 *   timeout: 10_000,
 *   shedding: { maxConcurrent: 128, maxQueue: 32 },
 *   shutdown: { drainMs: 15_000, deregister: [registration], close: [paymentClient] },
 *   logger,
 * });
 */
export function createLifeline(options: LifelineOptions = {}): Lifeline {
  return new Lifeline(options);
}
