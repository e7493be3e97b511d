import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { CoarseTimer, type Logger } from '@lifeline/core';
import { registeredTracer, REQUEST_ID } from '@lifeline/trace';
import { Gate, type Admission } from './admission.ts';
import { reportFailure, type FailureLogger } from './failure-report.ts';
import type { Health, HealthResponse } from './health.ts';
import { IdempotencyGuard, IdempotencyStats, type IdempotencyOptions } from './idempotency/guard.ts';
import { MemoryIdempotencyStore, type IdempotencyStore, type StoredResponse } from './idempotency/store.ts';
import { IgnoredHeaders } from './ignored-headers.ts';
import { clientGone, kInbound, type InboundRequest } from './inbound-request.ts';
import { ServerMetrics } from './metrics.ts';
import type { LifelineSnapshot, LifelineState, SheddingOptions } from './options.ts';
import type { MeterProvider, Tracer } from '@opentelemetry/api';
import type { ProblemResponse } from './problem.ts';
import { RequestStart } from './request-start.ts';
import { endServerSpan, TRACER_NAME } from './server-span.ts';

/**
 * @internal What a framework adapter does for the engine: the engine decides, the adapter
 * translates into its framework. `A` and `B` are what the adapter passes through
 * {@link Engine.enter} (the framework's request and reply, a `next` callback), so that no
 * closure is made per request.
 */
export interface Adapter<A, B> {
  /** Runs the request's own work (the listener, the framework's next step) inside its context. */
  run(inbound: InboundRequest, a: A, b: B): void;
  /** Answers with a complete response made by the engine (a refusal, a shed). */
  refuse(inbound: InboundRequest, response: StoredResponse, a: A, b: B): void;
  /** Answers a health probe. */
  health(answer: HealthResponse, a: A, b: B): void;
  /**
   * The route template, for frameworks that have routed when the adapter runs. Asked only when
   * something records it (an SDK's span or metrics): reading it can cost (Fastify builds an
   * object per read).
   */
  route?: ((a: A, b: B) => string | undefined) | undefined;
  /**
   * Sets a response header through the framework, for frameworks that hold headers of their own
   * until they write the head (Fastify's reply): one header set on the Node response as well
   * sends every response down Node's slower merging path. Default: `res.setHeader`.
   */
  header?: ((name: string, value: string, a: A, b: B) => void) | undefined;
  /** Reads the route template when the response ends, for frameworks that route after the adapter ran. */
  routeOf?: ((req: IncomingMessage) => string | undefined) | undefined;
}

/** @internal The resolved settings the engine is made with (validated by the `Lifeline`). */
export interface EngineSettings {
  timeout: number;
  trustInbound: boolean;
  shedding: SheddingOptions | false | undefined;
  health: Health | undefined;
  logger: Logger | undefined;
  store: IdempotencyStore | undefined;
  ttlMs: number;
  lockMs: number;
  meterProvider: MeterProvider | undefined;
  /** The servers attached to the Lifeline: their idle connections are closed while draining. */
  servers: ReadonlySet<Server>;
}

/**
 * @internal The server half's one path for every adapter: a health probe is answered; any other
 * request is opened (its id, deadline, attempt and trace), counted in flight, admitted or
 * refused, and run; when its response closes it is finished (its slot, its deadline watch, its
 * span). Nothing is allocated per request that the request does not need: in-flight requests
 * form an intrusive list, and one `close` listener function serves every response.
 */
export class Engine {
  readonly health: Health | undefined;
  readonly logger: Logger | undefined;
  readonly timer = new CoarseTimer();
  readonly #gate: Gate;
  readonly #start: RequestStart;
  readonly #ignored: IgnoredHeaders;
  readonly #metrics: ServerMetrics;
  readonly #stats: IdempotencyStats;
  readonly #store: IdempotencyStore | undefined;
  readonly #ttlMs: number;
  readonly #lockMs: number;
  readonly #servers: ReadonlySet<Server>;
  #ownStore: MemoryIdempotencyStore | undefined;
  /** The most recently opened request still in flight; older ones follow through `inflightPrev`. */
  #newest: InboundRequest | undefined;
  #inFlight = 0;
  #requests = 0;
  #idle: (() => void)[] = [];
  readonly #onClose: (this: ServerResponse) => void;
  state: LifelineState = 'serving';

  constructor(settings: EngineSettings) {
    this.health = settings.health;
    this.logger = settings.logger;
    this.#metrics = new ServerMetrics(settings.meterProvider, {
      inFlight: () => this.#inFlight,
      queued: () => this.#gate.queued,
      limit: () => this.#gate.limit,
      state: () => this.state,
    });
    this.#stats = new IdempotencyStats(this.#metrics);
    this.#gate = new Gate(settings.shedding, this.timer, this.#metrics);
    this.#ignored = new IgnoredHeaders(settings.logger);
    this.#start = new RequestStart(settings.timeout, settings.trustInbound, this.#ignored, this.timer);
    this.#store = settings.store;
    this.#ttlMs = settings.ttlMs;
    this.#lockMs = settings.lockMs;
    this.#servers = settings.servers;
    // One listener for every response, not a closure per request.
    const finish = (inbound: InboundRequest, res: ServerResponse): void => this.finish(inbound, res);
    this.#onClose = function onResponseClose(this: ServerResponse) {
      const inbound = (this.req as unknown as Record<symbol, InboundRequest | undefined>)[kInbound];
      if (inbound !== undefined) finish(inbound, this);
    };
  }

  /** Requests whose response is not over yet. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Takes a request through the engine; `a` and `b` are handed back to the adapter's methods.
   */
  enter<A, B>(req: IncomingMessage, res: ServerResponse, adapter: Adapter<A, B>, a: A, b: B): void {
    const health = this.health;
    if (health !== undefined) {
      const probe = health.match(req);
      if (probe !== undefined) {
        const answer = probe === 'live' ? health.live() : health.ready(this.state !== 'serving');
        if (answer instanceof Promise) void answer.then((later) => adapter.health(later, a, b));
        else adapter.health(answer, a, b);
        return;
      }
    }
    // Looked up once per request: it decides both the SERVER span and whether the route is read.
    const tracer = registeredTracer(TRACER_NAME);
    const route = adapter.route !== undefined && (this.#metrics.enabled || tracer !== undefined) ? adapter.route(a, b) : undefined;
    const inbound = this.#open(req, res, route, tracer, adapter.routeOf);
    if (adapter.header === undefined) {
      res.setHeader(REQUEST_ID, inbound.requestId);
      if (this.state !== 'serving') res.setHeader('connection', 'close');
    } else {
      adapter.header(REQUEST_ID, inbound.requestId, a, b);
      if (this.state !== 'serving') adapter.header('connection', 'close', a, b);
    }
    const admission = this.#gate.admit(inbound, this.state === 'draining' || this.state === 'stopped');
    if (admission === undefined) adapter.run(inbound, a, b);
    else if (admission instanceof Promise) {
      void admission.then((later: Admission) => {
        if (later === undefined) adapter.run(inbound, a, b);
        else if (later !== null) adapter.refuse(inbound, later, a, b);
      });
    } else if (admission !== null) adapter.refuse(inbound, admission, a, b);
  }

  #open(
    req: IncomingMessage,
    res: ServerResponse,
    route: string | undefined,
    tracer: Tracer | undefined,
    routeOf: Adapter<unknown, unknown>['routeOf'],
  ): InboundRequest {
    this.#requests++;
    const inbound = this.#start.start(req, route, tracer);
    inbound.startedAt = this.#metrics.requestStarted();
    inbound.res = res;
    if (routeOf !== undefined) inbound.routeOf = routeOf;
    (req as unknown as Record<symbol, InboundRequest>)[kInbound] = inbound;
    const newest = this.#newest;
    if (newest !== undefined) newest.inflightNext = inbound;
    inbound.inflightPrev = newest;
    this.#newest = inbound;
    this.#inFlight++;
    res.on('close', this.#onClose);
    return inbound;
  }

  /** The response of `inbound` is over (finished, or its connection closed first). */
  finish(inbound: InboundRequest, res: ServerResponse): void {
    if (inbound.ended) return;
    const completed = res.writableFinished;
    if (!completed) inbound.abort(clientGone());
    inbound.end();
    this.#gate.release(inbound);
    const { inflightPrev: prev, inflightNext: next } = inbound;
    if (prev !== undefined) prev.inflightNext = next;
    if (next !== undefined) next.inflightPrev = prev;
    else this.#newest = prev;
    inbound.inflightPrev = inbound.inflightNext = undefined;
    this.#inFlight--;
    const metrics = this.#metrics;
    if (inbound.span !== undefined || metrics.enabled) {
      const req = res.req;
      const route = inbound.route ?? inbound.routeOf?.(req);
      if (inbound.span !== undefined) endServerSpan(inbound.span, req.method ?? 'GET', res.statusCode, route, completed);
      metrics.requestEnded(req, res, route, inbound.startedAt);
    }
    if (this.state === 'draining') {
      // The connection this response used is idle now: close it rather than keep it alive.
      setImmediate(() => {
        for (const server of this.#servers) server.closeIdleConnections();
      });
    }
    if (this.#inFlight === 0 && this.#idle.length > 0) {
      const idle = this.#idle;
      this.#idle = [];
      for (const resolve of idle) resolve();
    }
  }

  /** Resolves when no request is in flight. */
  idle(): Promise<void> {
    return this.#inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  /** Shutdown began: responses not yet started tell their clients not to reuse the connection. */
  stopping(): void {
    this.state = 'stopping';
    for (let inbound = this.#newest; inbound !== undefined; inbound = inbound.inflightPrev) {
      const res = inbound.res;
      if (res !== undefined && !res.headersSent) res.setHeader('connection', 'close');
    }
  }

  /** Shutdown is over: the queue, the timer and the default store are released. */
  async release(): Promise<void> {
    this.state = 'stopped';
    this.#metrics.dispose();
    this.#gate.close();
    this.timer.close();
    await this.#ownStore?.close();
  }

  /** An Idempotency-Key guard for one route, with the Lifeline's defaults; `names` are the options the adapter allows. */
  guard<Req>(options: IdempotencyOptions<Req> | true, names?: readonly string[]): IdempotencyGuard<Req> {
    const store = this.#store ?? (this.#ownStore ??= new MemoryIdempotencyStore());
    const defaults = { store, ttlMs: this.#ttlMs, lockMs: this.#lockMs, stats: this.#stats, logger: this.logger };
    return new IdempotencyGuard<Req>(options, defaults, names);
  }

  /**
   * Reports the error a request failed with, answered `response` (see `reportFailure`): to
   * `requestLog` (Fastify's, when it logs), else to the `logger` option, else, for an
   * unexpected error, to stderr.
   */
  reportError(error: unknown, inbound: InboundRequest | undefined, response: ProblemResponse, requestLog?: FailureLogger): void {
    reportFailure(error, response, inbound?.requestId, inbound?.span, requestLog ?? this.logger);
  }

  snapshot(): LifelineSnapshot {
    return {
      state: this.state,
      requests: { total: this.#requests, inFlight: this.#inFlight },
      ...this.#gate.snapshot(),
      ignoredHeaders: this.#ignored.snapshot(),
      idempotency: this.#stats.snapshot(),
    };
  }
}
