import type { Breaker, BreakerGroup } from '@lifeline/breaker';
import type { Limiter } from '@lifeline/bulkhead';
import type { Clock, CoarseTimer, Deadline, Priority } from '@lifeline/core';
import type { Endpoint, ServicePool } from '@lifeline/discovery';
import type { RetryPolicy } from '@lifeline/retry';
import type { RequestContext } from '@lifeline/trace';
import type { Dispatcher } from 'undici';
import type { CallTrace } from './call-trace.ts';
import type { LostAnswer } from './lost-answer.ts';
import type { Telemetry } from './telemetry.ts';

/** What every call of a pipeline runs on, resolved once at construction. @internal */
export interface CallSettings {
  readonly service: string;
  readonly retry: RetryPolicy;
  /** The total deadline of a call that brings none of its own (fetch, undici.request). */
  readonly timeout: number;
  readonly attemptTimeout: number;
  readonly timer: CoarseTimer;
  readonly clock: Clock;
  /** The dependency's breaker, every attempt goes through it. */
  readonly breaker: Breaker | undefined;
  /** A breaker per origin, for an interceptor that serves any origin. */
  readonly breakers: BreakerGroup | undefined;
  /** With discovery: the service's endpoints; each attempt picks one. */
  readonly pool: ServicePool | undefined;
  /** Around whole calls: a slot is held from before the first attempt to the outcome. */
  readonly limiter: Limiter | undefined;
  /** Headers a request from fetch / undici.request gets when it has none of that name; undefined when there are none. */
  readonly headers: Record<string, string> | undefined;
  /** Aborted when the pipeline is destroyed: ends every retry wait at once. */
  readonly closeSignal: AbortSignal;
  readonly telemetry: Telemetry;
}

/**
 * What the client works out for one call from its request options, handed to the pipeline
 * in the dispatch options (`lifeline`). A request without it (fetch, undici.request) gets
 * the pipeline's defaults.
 *
 * @internal
 */
export interface CallOptions {
  readonly deadline: Deadline;
  /** The caller's signal, joined with the inbound request's when that request cannot be watched (it has no `watch`). */
  readonly signal: AbortSignal | undefined;
  readonly idempotent: boolean;
  /** This call's per-attempt limit, when it sets one. */
  readonly attemptTimeout: number | undefined;
  /** The request being handled, if any (looked up once, by the client). */
  readonly inbound: RequestContext | undefined;
}

/** undici's dispatch options with the client's per-call entry. @internal */
export interface LifelineDispatchOptions extends Dispatcher.DispatchOptions {
  readonly lifeline?: CallOptions;
}

/** The dispatch option under which a call's state travels from the call stage down the pipeline. @internal */
export const CALL: unique symbol = Symbol('lifeline.call');

/**
 * One call's state, made once by the call stage and read (a few fields written) by the
 * stages below it as the call's attempts go down the pipeline.
 *
 * @internal
 */
export interface CallState {
  readonly service: string;
  readonly deadline: Deadline;
  /** Whether the method (or an Idempotency-Key) makes repeating the call safe. */
  readonly idempotent: boolean;
  /** The call carries an Idempotency-Key: a retry may be answered with the stored response. */
  readonly keyed: boolean;
  /** Whether the body can be sent again (set once a fetch body has been read into memory). */
  readonly replayable: boolean;
  /** The limit on one attempt, ms. */
  readonly attemptTimeout: number;
  /** The client built the headers: a record with lower-case names, defaults included. */
  readonly own: boolean;
  /** The headers the call was made with, before any attempt's: each attempt's are made from them. */
  readonly callHeaders: Dispatcher.DispatchOptions['headers'];
  /** The call's priority: its own `x-request-priority`, else the inbound request's. */
  readonly priority: Priority | undefined;
  /** Whether each attempt adds `x-request-priority` (the priority is the inbound request's, not in the call's headers). */
  readonly sendsPriority: boolean;
  readonly trace: CallTrace;
  /** The caller's signal (or the inbound request's); else the pipeline's close signal. */
  readonly signal: AbortSignal;
  /** Why the caller (or the pipeline) ended the call, once it has. */
  readonly abortReason: Error | null;
  /** The attempt being made: 1 for the first (the retry stage counts). */
  attempt: number;
  /** Attempts sent so far (the attempt stage counts). */
  sent: number;
  /** With discovery: the endpoint of the last attempt, and those the call failed on before it. */
  endpoint: Endpoint | undefined;
  failedOn: Endpoint | Set<Endpoint> | undefined;
  /** Keyed attempts whose answer may have been lost, not counted until the call shows what they were (the route stage writes, the call stage ends). */
  lostAnswers: LostAnswer[] | undefined;
}

/** undici's dispatch options as they travel below the call stage. @internal */
export interface StageOptions extends Dispatcher.DispatchOptions {
  readonly [CALL]: CallState;
}
