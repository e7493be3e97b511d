import { AdaptiveLimiter, Bulkhead, type BulkheadRejectedError } from '@lifeline/bulkhead';
import { checkDuration, checkInteger, checkObject, checkOptionNames, type CoarseTimer } from '@lifeline/core';
import type { StoredResponse } from './idempotency/store.ts';
import type { InboundRequest } from './inbound-request.ts';
import type { ServerMetrics } from './metrics.ts';
import { ADAPTIVE_SHEDDING_OPTIONS, SHEDDING_OPTIONS, type AdaptiveSheddingOptions, type LifelineSnapshot, type SheddingOptions } from './options.ts';
import { problem, ProblemCode, problemToResponse } from './problem.ts';

/** @internal The outcome of admission: run now (`undefined`), answer with a refusal, or nothing to do (`null`: the client is gone). */
export type Admission = StoredResponse | null | undefined;

/**
 * @internal Decides, before any handler work, whether a request runs: refused while the
 * server drains (503, `connection: close`) or when its inbound deadline is already spent
 * (504); shed when the concurrency limit and its queue are full, or when no slot frees up
 * within `queueTimeout` or the request's deadline (503 + Retry-After). The limit is an
 * `AdaptiveLimiter` (the default: it follows the latency of the requests it admits) or, with
 * `maxConcurrent`, a static `Bulkhead`, either on the Lifeline's shared coarse timer: taking a
 * free slot is a counter increment (and, adaptive, a clock read), and a queued request costs
 * no timer of its own. A request's slot is held from admission until its response is over; one
 * that ends past its deadline is released as dropped, which shrinks the adaptive limit.
 */
export class Gate {
  readonly #bulkhead: Bulkhead | AdaptiveLimiter | undefined;
  readonly #adaptive: AdaptiveLimiter | undefined;
  readonly #retryAfterMs: number;
  readonly #metrics: ServerMetrics;
  #refusedDraining = 0;
  #refusedSpent = 0;

  constructor(options: SheddingOptions | false | undefined, timer: CoarseTimer, metrics: ServerMetrics) {
    this.#metrics = metrics;
    if (options === false) {
      this.#retryAfterMs = 1_000;
      return;
    }
    const shedding = options ?? {};
    checkObject('shedding', shedding);
    checkOptionNames('shedding', shedding, SHEDDING_OPTIONS);
    const maxQueue = checkInteger('shedding.maxQueue', shedding.maxQueue ?? 64, 0);
    const maxQueueWait = checkDuration('shedding.queueTimeout', shedding.queueTimeout ?? 1_000);
    if (shedding.maxConcurrent !== undefined) {
      if (shedding.adaptive !== undefined) {
        throw new TypeError(
          'lifeline: options `shedding.maxConcurrent` (a static limit) and `shedding.adaptive` (an adaptive one) cannot be combined; set one of them',
        );
      }
      this.#bulkhead = new Bulkhead({
        maxConcurrent: checkInteger('shedding.maxConcurrent', shedding.maxConcurrent, 1),
        maxQueue,
        maxQueueWait,
        timer,
      });
    } else {
      this.#bulkhead = this.#adaptive = adaptiveLimit(shedding.adaptive, maxQueue, maxQueueWait, timer);
    }
    this.#retryAfterMs = checkDuration('shedding.retryAfterMs', shedding.retryAfterMs ?? 1_000);
  }

  admit(inbound: InboundRequest, draining: boolean): Admission | Promise<Admission> {
    if (draining) {
      this.#refusedDraining++;
      this.#metrics.rejected('shutting-down');
      const refusal = problemToResponse(
        problem(503, ProblemCode.SHUTTING_DOWN, 'Service Unavailable', 'The server is shutting down; retry on another instance.', {
          requestId: inbound.requestId,
        }),
      );
      refusal.headers.connection = 'close';
      return refusal;
    }
    if (inbound.arrivedSpent) {
      this.#refusedSpent++;
      this.#metrics.rejected('deadline-spent');
      return problemToResponse(
        problem(504, 'DEADLINE_EXCEEDED', 'Deadline exceeded', 'The request arrived with no time left before its deadline.', {
          requestId: inbound.requestId,
        }),
      );
    }
    const bulkhead = this.#bulkhead;
    if (bulkhead === undefined) return undefined;
    if (bulkhead.tryAcquire()) {
      inbound.slot = true;
      return undefined;
    }
    return bulkhead.acquire({ deadline: inbound.deadline, signal: inbound.signal, priority: inbound.priority }).then(
      () => {
        inbound.slot = true;
        // The client left between the slot being granted and this continuation.
        if (inbound.ended) {
          this.release(inbound);
          return null;
        }
        return undefined;
      },
      (error: BulkheadRejectedError) => (error.reason === 'aborted' || error.reason === 'closed' ? null : this.#shed(inbound, error)),
    );
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.#bulkhead?.queued ?? 0;
  }

  /** The concurrency limit now, or `undefined` when shedding is off. */
  get limit(): number | undefined {
    const limiter = this.#bulkhead;
    if (limiter === undefined) return undefined;
    return limiter instanceof Bulkhead ? limiter.maxConcurrent : limiter.limit;
  }

  /** Gives the request's slot back, if it holds one. */
  release(inbound: InboundRequest): void {
    if (!inbound.slot) return;
    inbound.slot = false;
    const adaptive = this.#adaptive;
    if (adaptive === undefined) this.#bulkhead!.release();
    // A response that ended past the request's deadline came too late for its caller: dropped.
    else adaptive.releaseBy(inbound.deadline.at);
  }

  snapshot(): Pick<LifelineSnapshot, 'shedding' | 'refused'> {
    const bulkhead = this.#bulkhead?.snapshot();
    const adaptive = this.#adaptive?.snapshot();
    return {
      shedding:
        bulkhead === undefined
          ? null
          : {
              maxConcurrent: bulkhead.maxConcurrent,
              maxQueue: bulkhead.maxQueue,
              adaptive: adaptive === undefined ? null : { minLimit: adaptive.minLimit, maxLimit: adaptive.maxLimit, rttMs: adaptive.rttMs, longRttMs: adaptive.longRttMs },
              active: bulkhead.inFlight,
              queued: bulkhead.queued,
              shed: {
                queueFull: bulkhead.rejected['queue-full'],
                queueTimeout: bulkhead.rejected['queue-timeout'],
                deadline: bulkhead.rejected.deadline,
              },
              abandoned: bulkhead.rejected.aborted,
            },
      refused: { shuttingDown: this.#refusedDraining, deadlineSpent: this.#refusedSpent },
    };
  }

  close(): void {
    this.#bulkhead?.close();
  }

  #shed(inbound: InboundRequest, error: BulkheadRejectedError): StoredResponse {
    this.#metrics.rejected(error.reason as 'queue-full' | 'queue-timeout' | 'deadline');
    const detail =
      error.reason === 'queue-full'
        ? 'The server is at its concurrency limit and its queue is full.'
        : 'The server is at its concurrency limit and no slot freed up in time.';
    return problemToResponse(
      problem(503, ProblemCode.OVERLOADED, 'Service Unavailable', detail, { requestId: inbound.requestId, retryAfterMs: this.#retryAfterMs }),
    );
  }
}

/** The server's adaptive limit, with the server's defaults (see {@link AdaptiveSheddingOptions}). */
function adaptiveLimit(options: AdaptiveSheddingOptions | undefined, maxQueue: number, maxQueueWait: number, timer: CoarseTimer): AdaptiveLimiter {
  const adaptive = options ?? {};
  checkObject('shedding.adaptive', adaptive);
  checkOptionNames('shedding.adaptive', adaptive, ADAPTIVE_SHEDDING_OPTIONS);
  const initialLimit = checkInteger('shedding.adaptive.initialLimit', adaptive.initialLimit ?? 100);
  return new AdaptiveLimiter(
    {
      ...adaptive,
      name: 'shedding',
      initialLimit,
      minLimit: adaptive.minLimit ?? Math.min(20, initialLimit),
      maxLimit: adaptive.maxLimit ?? Math.max(256, initialLimit),
      minWindowMs: adaptive.minWindowMs ?? 100,
      maxQueue,
      maxQueueWait,
      timer,
    },
    'shedding.adaptive',
  );
}
