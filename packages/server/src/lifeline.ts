import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { checkDuration, checkInteger, checkObject, checkOptionNames, CoarseTimer, type Disposable, type Logger } from '@lifeline/core';
import { REQUEST_ID } from '@lifeline/trace';
import { Gate, type Admission } from './admission.ts';
import { reportFailure, type FailureLogger } from './failure-report.ts';
import { Health, type HealthKind, type HealthResponse } from './health.ts';
import { checkStore, IdempotencyGuard, IdempotencyStats, type IdempotencyOptions } from './idempotency/guard.ts';
import { MemoryIdempotencyStore, type IdempotencyStore } from './idempotency/store.ts';
import { IgnoredHeaders } from './ignored-headers.ts';
import { clientGone, kInbound, type InboundRequest } from './inbound-request.ts';
import { nodeHandler, nodeIdempotent, type NodeIdempotencyOptions, type NodeIdempotentHandler, type NodeRequestHandler } from './node-handler.ts';
import { IDEMPOTENCY_DEFAULTS, LIFELINE_OPTIONS, type LifelineOptions, type LifelineSnapshot, type LifelineState } from './options.ts';
import type { ProblemResponse } from './problem.ts';
import { RequestStart } from './request-start.ts';
import { endServerSpan } from './server-span.ts';
import { Shutdown, type Closeable, type Deregistration, type ShutdownReport } from './shutdown.ts';

const DAY_MS = 86_400_000;

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
  /** @internal The health endpoints, unless disabled. */
  readonly health: Health | undefined;
  readonly #timer = new CoarseTimer();
  readonly #gate: Gate;
  readonly #start: RequestStart;
  readonly #shutdown: Shutdown;
  readonly #ignored: IgnoredHeaders;
  readonly #stats = new IdempotencyStats();
  readonly #store: IdempotencyStore | undefined;
  readonly #ttlMs: number;
  readonly #lockMs: number;
  #ownStore: MemoryIdempotencyStore | undefined;
  readonly #servers = new Set<Server>();
  readonly #inFlight = new Set<ServerResponse>();
  readonly #onClose: (this: ServerResponse) => void;
  #idle: (() => void)[] = [];
  #state: LifelineState = 'serving';
  #shutdownRun: Promise<ShutdownReport> | undefined;
  #requests = 0;

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
    this.#gate = new Gate(options.shedding, this.#timer);
    this.health = options.health === false ? undefined : new Health(options.health ?? {}, this.logger);
    this.#shutdown = new Shutdown(options.shutdown ?? {}, this.logger);
    const idempotency = options.idempotency ?? {};
    checkObject('idempotency', idempotency);
    checkOptionNames('idempotency', idempotency, IDEMPOTENCY_DEFAULTS);
    this.#store = checkStore(idempotency.store);
    this.#ttlMs = checkInteger('idempotency.ttlMs', idempotency.ttlMs ?? DAY_MS, 1);
    const lockDefault = Number.isFinite(this.timeout) ? Math.max(60_000, Math.ceil(2 * this.timeout)) : 60_000;
    this.#lockMs = checkInteger('idempotency.lockMs', idempotency.lockMs ?? lockDefault, 1);
    this.#ignored = new IgnoredHeaders(this.logger);
    this.#start = new RequestStart(this.timeout, this.trustInbound, this.#ignored, this.#timer);
    // One listener for every response of this Lifeline, not a closure per request.
    const finish = (res: ServerResponse): void => this.#finish(res);
    this.#onClose = function (this: ServerResponse) {
      finish(this);
    };
  }

  /** Where the Lifeline is in its life: `serving`, then `stopping`, `draining` and `stopped` during shutdown. */
  get state(): LifelineState {
    return this.#state;
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
    return nodeHandler(this, listener);
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
    return nodeIdempotent(this, options, handler);
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
    this.#shutdownRun ??= this.#shutdown.run({
      servers: this.#servers,
      stopping: () => this.#stopping(),
      draining: () => {
        this.#state = 'draining';
      },
      inFlight: () => this.#inFlight.size,
      idle: () => (this.#inFlight.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => this.#idle.push(resolve))),
      release: () => this.#release(),
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
    return {
      state: this.#state,
      requests: { total: this.#requests, inFlight: this.#inFlight.size },
      ...this.#gate.snapshot(),
      ignoredHeaders: this.#ignored.snapshot(),
      idempotency: this.#stats.snapshot(),
    };
  }

  /** @internal An Idempotency-Key guard for one route, with this Lifeline's defaults; `names` are the options the adapter allows. */
  guard<Req>(options: IdempotencyOptions<Req> | true, names?: readonly string[]): IdempotencyGuard<Req> {
    const store = this.#store ?? (this.#ownStore ??= new MemoryIdempotencyStore());
    const defaults = { store, ttlMs: this.#ttlMs, lockMs: this.#lockMs, stats: this.#stats, logger: this.logger };
    return new IdempotencyGuard<Req>(options, defaults, names);
  }

  /** @internal The answer to a health probe. */
  healthResponse(kind: HealthKind): HealthResponse | Promise<HealthResponse> {
    return kind === 'live' ? this.health!.live() : this.health!.ready(this.#state !== 'serving');
  }

  /**
   * @internal Starts a request: its id (inbound or new, echoed as `x-request-id`), its
   * deadline, its attempt number, its trace context (and SERVER span when an SDK records),
   * and the bookkeeping that ends with the response.
   */
  openRequest(
    req: IncomingMessage,
    res: ServerResponse,
    route: string | undefined,
    routeOf?: (req: IncomingMessage) => string | undefined,
  ): InboundRequest {
    this.#requests++;
    const inbound = this.#start.start(req, route);
    res.setHeader(REQUEST_ID, inbound.requestId);
    if (this.#state !== 'serving') res.setHeader('connection', 'close');
    if (routeOf !== undefined) inbound.routeOf = routeOf;
    (req as unknown as Record<symbol, InboundRequest>)[kInbound] = inbound;
    this.#inFlight.add(res);
    res.once('close', this.#onClose);
    return inbound;
  }

  /**
   * @internal Decides whether a request may run now: refused while draining (503, `connection:
   * close`) or when its inbound deadline is already spent (504); shed when the concurrency
   * limit and its queue are full (503 + Retry-After). Waits in the queue when there is room.
   */
  admit(inbound: InboundRequest): Admission | Promise<Admission> {
    return this.#gate.admit(inbound, this.#state === 'draining' || this.#state === 'stopped');
  }

  /**
   * @internal Reports the error a request failed with, answered `response` (see
   * `reportFailure`): to `requestLog` (Fastify's, when it logs), else to the `logger`
   * option, else, for an unexpected error, to stderr.
   */
  reportError(error: unknown, inbound: InboundRequest | undefined, response: ProblemResponse, requestLog?: FailureLogger): void {
    reportFailure(error, response, inbound?.requestId, inbound?.span, requestLog ?? this.logger);
  }

  #finish(res: ServerResponse): void {
    const req = res.req;
    const inbound = (req as unknown as Record<symbol, InboundRequest | undefined>)[kInbound];
    this.#inFlight.delete(res);
    if (inbound !== undefined) {
      const completed = res.writableFinished;
      if (!completed) inbound.abort(clientGone());
      inbound.end();
      this.#gate.release(inbound);
      if (inbound.span !== undefined) {
        endServerSpan(inbound.span, req.method ?? 'GET', res.statusCode, inbound.route ?? inbound.routeOf?.(req), completed);
      }
    }
    if (this.#state === 'draining') {
      // The connection this response used is idle now: close it rather than keep it alive.
      setImmediate(() => {
        for (const server of this.#servers) server.closeIdleConnections();
      });
    }
    if (this.#inFlight.size === 0 && this.#idle.length > 0) {
      const idle = this.#idle;
      this.#idle = [];
      for (const resolve of idle) resolve();
    }
  }

  #stopping(): void {
    this.#state = 'stopping';
    // Responses not yet started tell their clients not to reuse the connection.
    for (const res of this.#inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
  }

  async #release(): Promise<void> {
    this.#state = 'stopped';
    this.#gate.close();
    this.#timer.close();
    await this.#ownStore?.close();
  }
}

/**
 * @internal The Lifeline an adapter was given, checked when the adapter is set up (not on
 * its first request), with a message naming the adapter function.
 */
export function checkLifeline(where: string, value: unknown): Lifeline {
  if (value instanceof Lifeline) return value;
  const got = value === null ? 'null' : typeof value === 'object' ? 'another object' : typeof value;
  throw new TypeError(`lifeline: ${where} needs the Lifeline made by createLifeline(), got ${got}`);
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
