import type { IncomingHttpHeaders } from 'node:http';
import { inspect } from 'node:util';
import { checkFunction, checkInteger, checkObject, checkOptionNames, optionNames, type Logger } from '@lifeline/core';
import { problem, ProblemCode, problemToResponse } from '../problem.ts';
import type { IdempotencyEvent, ServerMetrics } from '../metrics.ts';
import type { IdempotencySnapshot } from '../options.ts';
import { Claim, type ClaimOwner } from './capture.ts';
import { fingerprint, parseIdempotencyKey } from './key.ts';
import type { BeginOptions, IdempotencyStore, StoredResponse } from './store.ts';

/**
 * Idempotency for one route (IETF httpapi Idempotency-Key draft, Stripe's practice): the
 * first request with a key runs; a later one with the same key gets the stored response
 * replayed (with `idempotent-replayed: true`), a 409 while the first is still running, and a
 * 422 when the key was used for a different method, path or body.
 *
 * @example
 * const options: IdempotencyOptions<IncomingMessage> = {
 *   required: true,
 *   scope: (req) => String(req.headers['x-api-key'] ?? ''),
 * };
 */
export interface IdempotencyOptions<Req = unknown> {
  /** Where claims and responses are kept. Default: the Lifeline's store (a `MemoryIdempotencyStore` unless set in `createLifeline`). */
  store?: IdempotencyStore;
  /** Whether a request without an `Idempotency-Key` is refused with a 400. Default `false`: such a request just runs. */
  required?: boolean;
  /**
   * The caller's identity (an account, an API key, a tenant). Keys are scoped by it, so two
   * callers choosing the same key never see each other's responses. Default: one scope for all.
   */
  scope?: (req: Req) => string;
  /** How long a completed response is kept for replay, ms. Default 24 h. */
  ttlMs?: number;
  /** How long an in-flight claim holds before it lapses (a crashed instance never locks a key for longer), ms. Default: twice the Lifeline's `timeout`, at least 60 s. */
  lockMs?: number;
}

/** @internal The names {@link IdempotencyOptions} allows. */
export const IDEMPOTENCY_OPTIONS = optionNames<IdempotencyOptions>({ store: true, required: true, scope: true, ttlMs: true, lockMs: true });

/** @internal Checks that an `idempotency.store` option has the methods a guard calls, when the route is set up. */
export function checkStore(store: unknown): IdempotencyStore | undefined {
  if (store === undefined) return undefined;
  checkObject('idempotency.store', store);
  for (const method of ['begin', 'complete', 'release'] as const) {
    checkFunction(`idempotency.store.${method}`, (store as Partial<IdempotencyStore>)[method]);
  }
  return store as IdempotencyStore;
}

/** @internal Counters of the idempotency guards of one Lifeline. */
export class IdempotencyStats {
  executed = 0;
  replayed = 0;
  inFlight = 0;
  mismatched = 0;
  missingKey = 0;
  invalidKey = 0;
  released = 0;
  storeErrors = 0;
  readonly #metrics: ServerMetrics | undefined;

  constructor(metrics?: ServerMetrics) {
    this.#metrics = metrics;
  }

  /** Counts what a guard did, in the snapshot and in the metrics. */
  count(event: IdempotencyEvent): void {
    switch (event) {
      case 'executed':
        this.executed++;
        break;
      case 'replayed':
        this.replayed++;
        break;
      case 'in-flight':
        this.inFlight++;
        break;
      case 'mismatched':
        this.mismatched++;
        break;
      case 'missing-key':
        this.missingKey++;
        break;
      case 'invalid-key':
        this.invalidKey++;
        break;
      case 'released':
        this.released++;
        break;
      case 'store-error':
        this.storeErrors++;
        break;
      case 'unavailable':
        break;
    }
    this.#metrics?.idempotency(event);
  }

  snapshot(): IdempotencySnapshot {
    return {
      executed: this.executed,
      replayed: this.replayed,
      inFlight: this.inFlight,
      mismatched: this.mismatched,
      missingKey: this.missingKey,
      invalidKey: this.invalidKey,
      released: this.released,
      storeErrors: this.storeErrors,
    };
  }
}

/** @internal What the guard needs to know about a request. */
export interface IdempotentRequest {
  method: string;
  /** The path with its query, as received. */
  url: string;
  headers: IncomingHttpHeaders;
  /** The request body, raw or as the framework parsed it. */
  body: unknown;
  scope: string;
  requestId: string | undefined;
}

/** @internal The guard's verdict: run the handler (under a claim when a key was sent), or answer now. */
export type IdempotencyDecision = { claim: Claim | undefined; response?: undefined } | { claim?: undefined; response: StoredResponse };

/** @internal Defaults a route's options fall back to. */
export interface GuardDefaults {
  store: IdempotencyStore;
  ttlMs: number;
  lockMs: number;
  stats: IdempotencyStats;
  logger: Logger | undefined;
}

const RUN_WITHOUT_KEY: IdempotencyDecision = { claim: undefined };

/** The bytes a body is fingerprinted by: raw bytes as they are, text as UTF-8, parsed JSON re-serialised. */
function bodyForFingerprint(body: unknown): Uint8Array | string {
  if (body === undefined || body === null) return '';
  if (typeof body === 'string' || body instanceof Uint8Array) return body;
  try {
    return JSON.stringify(body) ?? '';
  } catch {
    // Not JSON (a BigInt, a cycle): util.inspect still tells two different bodies apart.
    return inspect(body, { depth: Infinity, sorted: false });
  }
}

/**
 * @internal The Idempotency-Key logic of one route, framework-neutral: resolved once when the
 * route is set up, asked once per request.
 */
export class IdempotencyGuard<Req = unknown> implements ClaimOwner {
  readonly required: boolean;
  readonly scope: ((req: Req) => string) | undefined;
  readonly #store: IdempotencyStore;
  readonly #ttlMs: number;
  readonly #begin: BeginOptions;
  readonly #stats: IdempotencyStats;
  readonly #logger: Logger | undefined;
  #storeFailing = false;

  /** `names` are the options the route's adapter accepts (the node:http one adds `maxBodyBytes`). */
  constructor(options: IdempotencyOptions<Req> | true, defaults: GuardDefaults, names: readonly string[] = IDEMPOTENCY_OPTIONS) {
    const opts = options === true ? {} : options;
    checkObject('idempotency', opts);
    // A misspelt `required` would quietly make a required key optional.
    checkOptionNames('idempotency', opts, names);
    this.#store = checkStore(opts.store) ?? defaults.store;
    this.required = opts.required ?? false;
    if (typeof this.required !== 'boolean') {
      throw new TypeError(`lifeline: option \`idempotency.required\` must be a boolean, got ${String(this.required)}`);
    }
    this.scope = opts.scope === undefined ? undefined : checkFunction<(req: Req) => string>('idempotency.scope', opts.scope);
    this.#ttlMs = checkInteger('idempotency.ttlMs', opts.ttlMs ?? defaults.ttlMs, 1);
    this.#begin = { lockMs: checkInteger('idempotency.lockMs', opts.lockMs ?? defaults.lockMs, 1), ttlMs: this.#ttlMs };
    this.#stats = defaults.stats;
    this.#logger = defaults.logger;
  }

  /** The caller's scope for `req` (empty when no `scope` option is set). */
  scopeOf(req: Req): string {
    if (this.scope === undefined) return '';
    const scope = this.scope(req);
    if (typeof scope !== 'string') throw new TypeError(`lifeline: idempotency scope() must return a string, got ${typeof scope}`);
    return scope;
  }

  /** Reads the key and asks the store: run (with a claim to capture the response), or answer now. */
  async check(request: IdempotentRequest): Promise<IdempotencyDecision> {
    const parsed = parseIdempotencyKey(request.headers['idempotency-key']);
    const { requestId } = request;
    if (parsed === undefined) {
      if (!this.required) return RUN_WITHOUT_KEY;
      this.#stats.count('missing-key');
      return reply(400, ProblemCode.IDEMPOTENCY_KEY_MISSING, 'Bad Request', 'This request requires an Idempotency-Key header.', requestId);
    }
    if ('error' in parsed) {
      this.#stats.count('invalid-key');
      return reply(400, ProblemCode.IDEMPOTENCY_KEY_INVALID, 'Bad Request', `${parsed.error}.`, requestId);
    }
    const print = fingerprint(request.method, request.url, bodyForFingerprint(request.body));
    let result;
    try {
      result = await this.#store.begin(request.scope, parsed.key, print, this.#begin);
      this.#storeRecovered();
    } catch (error) {
      this.#storeFailed(error);
      this.#stats.count('unavailable');
      return reply(
        503,
        ProblemCode.IDEMPOTENCY_UNAVAILABLE,
        'Service Unavailable',
        'The idempotency store is unavailable, so the request cannot be guaranteed to run once; try again.',
        requestId,
      );
    }
    switch (result.state) {
      case 'started':
        this.#stats.count('executed');
        return { claim: new Claim(this, request.scope, parsed.key, result.token) };
      case 'completed':
        this.#stats.count('replayed');
        return { response: replay(result.response, requestId) };
      case 'in-flight':
        this.#stats.count('in-flight');
        return reply(409, ProblemCode.IDEMPOTENCY_KEY_IN_USE, 'Conflict', 'A request with this Idempotency-Key is still being processed; retry later.', requestId, 1_000);
      default:
        this.#stats.count('mismatched');
        return reply(
          422,
          ProblemCode.IDEMPOTENCY_KEY_REUSED,
          'Unprocessable Content',
          'This Idempotency-Key was already used for a request with a different method, path or body.',
          requestId,
        );
    }
  }

  /** @internal */
  complete(claim: Claim, response: StoredResponse): void {
    this.#store.complete(claim.scope, claim.key, claim.token, response, this.#ttlMs).then(
      () => this.#storeRecovered(),
      (error: unknown) => this.#storeFailed(error),
    );
  }

  /** @internal */
  release(claim: Claim): void {
    this.#stats.count('released');
    this.#store.release(claim.scope, claim.key, claim.token).then(
      () => this.#storeRecovered(),
      (error: unknown) => this.#storeFailed(error),
    );
  }

  // Logged on a change only, never once per request.
  #storeFailed(error: unknown): void {
    this.#stats.count('store-error');
    if (this.#storeFailing) return;
    this.#storeFailing = true;
    this.#logger?.warn({ err: error }, 'lifeline: the idempotency store is failing; keyed requests are answered 503');
  }

  #storeRecovered(): void {
    if (!this.#storeFailing) return;
    this.#storeFailing = false;
    this.#logger?.info({}, 'lifeline: the idempotency store works again');
  }
}

function reply(
  status: number,
  code: ProblemCode,
  title: string,
  detail: string,
  requestId: string | undefined,
  retryAfterMs?: number,
): IdempotencyDecision {
  return { response: problemToResponse(problem(status, code, title, detail, { requestId, retryAfterMs })) };
}

function replay(stored: StoredResponse, requestId: string | undefined): StoredResponse {
  const headers: Record<string, string | string[]> = { ...stored.headers, 'idempotent-replayed': 'true' };
  if (requestId !== undefined) headers['x-request-id'] = requestId;
  return { status: stored.status, headers, body: stored.body };
}
