import type { ErrorCode } from './codes.ts';
// Type-only: http-status-error.ts imports LifelineError from here at run time, so the
// reverse edge must be erased (verbatimModuleSyntax keeps `import type` out of the JS).
import type { HttpStatusError } from './http-status-error.ts';

const kLifeline = Symbol.for('lifeline.error');
const markers = new Map<string, symbol>();

/** The `Symbol.for` marker of one error code: `Symbol.for('lifeline.error.<code>')`. */
export function errorMarker(code: ErrorCode): symbol {
  let marker = markers.get(code);
  if (marker === undefined) {
    marker = Symbol.for(`lifeline.error.${code}`);
    markers.set(code, marker);
  }
  return marker;
}

export interface LifelineErrorOptions {
  /** Whether trying the same call again may succeed and is safe. */
  retryable?: boolean;
  cause?: unknown;
  /** The dependency the call went to (a client's `name`). */
  service?: string;
  /** Attempts made before this error was final. */
  attempts?: number;
  /** Milliseconds spent on the call in total. */
  elapsedMs?: number;
  /** How long the caller should wait before trying again, when known. */
  retryAfterMs?: number;
}

/**
 * The base of every error Lifeline throws. `code` is stable; `retryable` says whether
 * the same call may succeed if tried again *and* is safe to repeat. Recognise errors with
 * the `is*` guards or `instanceof`: both check a `Symbol.for` marker, so they work across
 * duplicate copies of the package.
 *
 * @example
 * try { await client.get('/users/1'); }
 * catch (error) {
 *   if (isLifelineError(error, 'DEADLINE_EXCEEDED')) reply.code(504);
 * }
 */
export class LifelineError extends Error {
  /**
   * `error instanceof LifelineError` is true for a Lifeline error from any copy of the
   * package (two versions in one dependency tree each have their own class): it checks the
   * `Symbol.for` marker, as the `is*` guards do. A subclass inherits this method, so for a
   * subclass it falls back to the ordinary prototype check — otherwise every Lifeline error
   * would pass `instanceof` any subclass. Subclasses that stand for one code (`HttpStatusError`,
   * `CircuitOpenError`, `BulkheadRejectedError`) override it with {@link errorHasInstance}.
   *
   * @example
   * // `error` thrown by a second copy of @lifeline/core (another version in node_modules):
   * if (error instanceof LifelineError) log.warn({ code: error.code }, 'dependency failed');
   */
  static override [Symbol.hasInstance](instance: unknown): boolean {
    return errorHasInstance(LifelineError, this, instance);
  }

  readonly code: ErrorCode;
  readonly retryable: boolean;
  service: string | undefined;
  attempts: number | undefined;
  elapsedMs: number | undefined;
  retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options: LifelineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.service = options.service;
    this.attempts = options.attempts;
    this.elapsedMs = options.elapsedMs;
    this.retryAfterMs = options.retryAfterMs;
    Object.defineProperty(this, kLifeline, { value: true });
    Object.defineProperty(this, errorMarker(code), { value: true });
  }

  override get name(): string {
    return 'LifelineError';
  }

  /** Plain JSON for logs and problem bodies (the cause is summarised, not nested whole). */
  toJSON(): Record<string, unknown> {
    const cause = this.cause;
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      service: this.service,
      attempts: this.attempts,
      elapsedMs: this.elapsedMs,
      retryAfterMs: this.retryAfterMs,
      cause: cause instanceof Error ? { name: cause.name, message: cause.message } : cause,
    };
  }
}

/**
 * The error type a code is thrown as: `HttpStatusError` (with `status`, `headers`, `body`)
 * for `HTTP_STATUS`, `LifelineError` for every other code.
 */
export type ErrorForCode<C extends ErrorCode> = C extends 'HTTP_STATUS' ? HttpStatusError : LifelineError;

/**
 * True when `error` is a Lifeline error (from any copy of the package), optionally of one
 * code. Given a code, it narrows to that code's error type, so `HTTP_STATUS` gives access
 * to `status`, `headers` and `body`.
 *
 * @example
 * if (isLifelineError(error, 'CIRCUIT_OPEN')) return fallback();
 * if (isLifelineError(error, 'HTTP_STATUS') && error.status === 404) return null;
 */
export function isLifelineError(error: unknown): error is LifelineError;
export function isLifelineError<C extends ErrorCode>(error: unknown, code: C): error is ErrorForCode<C>;
export function isLifelineError(error: unknown, code?: ErrorCode): error is LifelineError;
export function isLifelineError(error: unknown, code?: ErrorCode): error is LifelineError {
  if (typeof error !== 'object' || error === null) return false;
  const marker = code === undefined ? kLifeline : errorMarker(code);
  return (error as Record<symbol, unknown>)[marker] === true;
}

/**
 * The `instanceof` check of a Lifeline error class, for its `static [Symbol.hasInstance]`:
 * for the class itself (`self === cls`), true for an error of `code` (any Lifeline error
 * when `code` is omitted) from any copy of the package; for a subclass of it that does not
 * override the method (`self` is that subclass), the ordinary prototype check.
 *
 * The code's marker stands for the class, so only one class may own a code, and an error
 * of that code should be built as that class (`CIRCUIT_OPEN` as `CircuitOpenError`).
 *
 * @internal Used by Lifeline's error classes; not a stable public API.
 * @example
 * class CircuitOpenError extends LifelineError {
 *   static override [Symbol.hasInstance](instance: unknown): boolean {
 *     return errorHasInstance(CircuitOpenError, this, instance, 'CIRCUIT_OPEN');
 *   }
 * }
 */
export function errorHasInstance(
  cls: abstract new (...args: never[]) => unknown,
  self: abstract new (...args: never[]) => unknown,
  instance: unknown,
  code?: ErrorCode,
): boolean {
  if (self !== cls) return Function.prototype[Symbol.hasInstance].call(self, instance);
  return isLifelineError(instance, code);
}

/**
 * Builds an error without capturing a stack trace. For expected, frequent rejections
 * (circuit open, bulkhead full, budget exhausted) where the stack is noise and its
 * capture is the dominant cost.
 *
 * @example
 * throw withoutStack(() => new LifelineError('RETRY_BUDGET_EXHAUSTED', 'no retry tokens left'));
 */
export function withoutStack<E extends Error>(build: () => E): E {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return build();
  } finally {
    Error.stackTraceLimit = limit;
  }
}
