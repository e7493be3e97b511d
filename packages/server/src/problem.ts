import type { ServerResponse } from 'node:http';
import { isLifelineError, type ErrorCode } from '@lifeline/core';
import type { StoredResponse } from './idempotency/store.ts';

/** An RFC 9457 problem details object, as Lifeline writes it. */
export interface ProblemDetails {
  /** A URI naming the kind of problem: `urn:lifeline:problem:<code>`. */
  type: string;
  /** A short summary of the kind of problem, the same for every occurrence. */
  title: string;
  /** The HTTP status code, repeated from the response. */
  status: number;
  /** What went wrong with this request, fit for the caller to read. */
  detail: string;
  /** A stable code: a Lifeline error code, or one of {@link ProblemCode}. */
  code: string;
  /** The request id (`x-request-id`) of the request that failed, to quote in a bug report. */
  requestId?: string;
}

/** A complete problem response: status, headers and the problem document. */
export interface ProblemResponse {
  status: number;
  /** `content-type: application/problem+json`, and `retry-after` on a 503. */
  headers: Record<string, string>;
  body: ProblemDetails;
}

/**
 * Codes of problems the server half raises itself (errors thrown by handlers keep their own
 * Lifeline error code).
 */
export const ProblemCode = {
  /** The server is at its concurrency limit and its queue is full (or the wait ran out): load shedding. */
  OVERLOADED: 'OVERLOADED',
  /** The server is shutting down and takes no new requests. */
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  /** The route requires an `Idempotency-Key` header and the request has none. */
  IDEMPOTENCY_KEY_MISSING: 'IDEMPOTENCY_KEY_MISSING',
  /** The `Idempotency-Key` header is malformed. */
  IDEMPOTENCY_KEY_INVALID: 'IDEMPOTENCY_KEY_INVALID',
  /** A request with the same key is still being processed. */
  IDEMPOTENCY_KEY_IN_USE: 'IDEMPOTENCY_KEY_IN_USE',
  /** The key was already used for a request with a different method, path or body. */
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  /** The idempotency store could not be reached, so the request cannot be run exactly once. */
  IDEMPOTENCY_UNAVAILABLE: 'IDEMPOTENCY_UNAVAILABLE',
  /** The request body is larger than the route accepts. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** Anything else: an error the server did not expect. Its message is not sent. */
  INTERNAL: 'INTERNAL',
} as const;

export type ProblemCode = (typeof ProblemCode)[keyof typeof ProblemCode];

/**
 * The problem an error code maps to. The detail is fixed per code: it says what failed, never
 * where. An error's own message names internal addresses (`connect ECONNREFUSED
 * 10.0.3.7:5432`), service names and a dependency's response body; it stays in the logs and
 * the traces, and the caller gets the request id to quote.
 */
interface Mapping {
  status: number;
  title: string;
  detail: string;
}

const DEPENDENCY_UNAVAILABLE = 'A dependency of this service is unavailable; try again later.';
const DEADLINE = 'The request could not be completed before its deadline.';

// INVALID_HEADER is not here: a header the server's own outgoing call could not send is a
// bug of the server, answered as any unexpected error is (500 INTERNAL).
const ERROR_MAPPINGS: Record<Exclude<ErrorCode, 'INVALID_HEADER'>, Mapping> = {
  CIRCUIT_OPEN: { status: 503, title: 'Dependency unavailable', detail: DEPENDENCY_UNAVAILABLE },
  BULKHEAD_REJECTED: { status: 503, title: 'Dependency saturated', detail: 'A dependency of this service is at its concurrency limit; try again later.' },
  NO_ENDPOINTS: { status: 503, title: 'Dependency unavailable', detail: DEPENDENCY_UNAVAILABLE },
  RETRY_BUDGET_EXHAUSTED: { status: 503, title: 'Dependency unavailable', detail: DEPENDENCY_UNAVAILABLE },
  THROTTLED: { status: 503, title: 'Dependency overloaded', detail: 'A dependency of this service is overloaded; try again later.' },
  DEADLINE_EXCEEDED: { status: 504, title: 'Deadline exceeded', detail: DEADLINE },
  ATTEMPT_TIMEOUT: { status: 504, title: 'Deadline exceeded', detail: DEADLINE },
  HTTP_STATUS: { status: 502, title: 'Bad gateway', detail: 'A dependency of this service answered with an error.' },
  CONNECT: { status: 502, title: 'Bad gateway', detail: 'A dependency of this service could not be reached.' },
  SOCKET: { status: 502, title: 'Bad gateway', detail: 'The connection to a dependency of this service failed.' },
  // nginx's "client closed request": nobody reads this response, but logs and spans do.
  ABORTED: { status: 499, title: 'Client closed request', detail: 'The request was cancelled before it completed.' },
};

/** Longest Retry-After written, in seconds: a day. */
const MAX_RETRY_AFTER_SECONDS = 86_400;

/**
 * The `Retry-After` value (delay-seconds) for a wait of `ms` milliseconds: rounded up, at
 * least 1 and at most a day. `undefined` (no hint) gives 1.
 *
 * @example
 * retryAfterSeconds(1_500); // '2'
 * retryAfterSeconds(undefined); // '1'
 */
export function retryAfterSeconds(ms: number | undefined): string {
  if (typeof ms !== 'number' || !(ms > 0)) return '1';
  return String(Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, Math.ceil(ms / 1_000))));
}

/**
 * Builds a problem response. A 503 gets a `Retry-After` header (from `retryAfterMs`, at least
 * one second).
 *
 * @example
 * const response = problem(409, 'IDEMPOTENCY_KEY_IN_USE', 'Conflict', 'A request with this key is in progress', { requestId });
 */
export function problem(
  status: number,
  code: string,
  title: string,
  detail: string,
  options: { requestId?: string | undefined; retryAfterMs?: number | undefined } = {},
): ProblemResponse {
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  if (status === 503 || options.retryAfterMs !== undefined) headers['retry-after'] = retryAfterSeconds(options.retryAfterMs);
  const body: ProblemDetails = { type: `urn:lifeline:problem:${code.toLowerCase().replaceAll('_', '-')}`, title, status, detail, code };
  if (options.requestId !== undefined) body.requestId = options.requestId;
  return { status, headers, body };
}

/**
 * Maps an error thrown while handling a request to its problem response:
 *
 * | error | status |
 * |---|---|
 * | `CIRCUIT_OPEN`, `BULKHEAD_REJECTED`, `NO_ENDPOINTS`, `RETRY_BUDGET_EXHAUSTED`, `THROTTLED` | 503 + `Retry-After` (from `retryAfterMs`, ≥ 1 s) |
 * | `DEADLINE_EXCEEDED`, `ATTEMPT_TIMEOUT` | 504 |
 * | `HTTP_STATUS`, `CONNECT`, `SOCKET` (a dependency failed) | 502 |
 * | `ABORTED` (the caller went away) | 499 |
 * | anything else | 500 `INTERNAL` |
 *
 * The detail is fixed per code and names no address, service or dependency response: an
 * error's message is never sent (log it, or read it on the trace, by the request id).
 *
 * @example
 * try { await handle(req, res); }
 * catch (error) { sendProblem(res, problemFor(error, requestContext(req)?.requestId)); }
 */
export function problemFor(error: unknown, requestId?: string): ProblemResponse {
  if (isLifelineError(error)) {
    const mapping = (ERROR_MAPPINGS as Partial<Record<ErrorCode, Mapping>>)[error.code];
    if (mapping !== undefined) {
      return problem(mapping.status, error.code, mapping.title, mapping.detail, { requestId, retryAfterMs: error.retryAfterMs });
    }
  }
  return problem(500, ProblemCode.INTERNAL, 'Internal Server Error', 'The server could not complete the request.', { requestId });
}

/**
 * Writes a problem response on a Node response. When the headers are already sent nothing
 * consistent can be written, so the response is destroyed instead: the caller sees a broken
 * response rather than a truncated one that looks complete.
 *
 * @example
 * sendProblem(res, problemFor(error, requestId));
 */
export function sendProblem(res: ServerResponse, response: ProblemResponse): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.destroy();
    return;
  }
  const body = JSON.stringify(response.body);
  res.statusCode = response.status;
  for (const name in response.headers) res.setHeader(name, response.headers[name]!);
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}

const encoder = new TextEncoder();

/** @internal Turns a problem into a response the adapters can send. */
export function problemToResponse(response: ProblemResponse): StoredResponse {
  return { status: response.status, headers: response.headers, body: encoder.encode(JSON.stringify(response.body)) };
}
