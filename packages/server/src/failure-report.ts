import { inspect } from 'node:util';
import type { Logger } from '@lifeline/core';
import type { Exception, Span } from '@opentelemetry/api';
import { ProblemCode, type ProblemResponse } from './problem.ts';

/** @internal A logger a failed request is reported to: the Lifeline's `logger`, or Fastify's request logger (which has `error`). */
export type FailureLogger = Logger & {
  error?: (object: object, message: string) => void;
  debug?: (object: object, message: string) => void;
};

/**
 * @internal Reports the error a request failed with, once, when its problem response is chosen.
 * Only 5xx answers are reported: a 4xx, and a 499 for a caller that went away, are the
 * caller's doing.
 *
 * - The SERVER span (when an SDK records one) gets the error as an exception event: the
 *   cause the response body no longer tells.
 * - An unexpected error (answered 500 `INTERNAL`) is a bug and must never vanish: it goes to
 *   `logger` (at `error` when it has one, else `warn`), or, with no logger at all, to stderr.
 * - A Lifeline error answered 5xx (a dependency refused, failed, timed out, or is open) is an
 *   expected outcome, and during an outage every request has one: it goes to `logger` at
 *   `debug` (pino's level, when the logger has it) with its cause, so the request id the
 *   caller quotes leads to the address and the reason without a line per request at the
 *   default level; the span always carries it. Nothing is written without a logger.
 */
export function reportFailure(
  error: unknown,
  response: ProblemResponse,
  requestId: string | undefined,
  span: Span | undefined,
  logger: FailureLogger | undefined,
): void {
  if (response.status < 500) return;
  span?.recordException(asException(error));
  const { code } = response.body;
  if (code !== ProblemCode.INTERNAL) {
    logger?.debug?.({ err: error, requestId, code }, `lifeline: request failed with ${code} (answered ${response.status})`);
    return;
  }
  if (logger === undefined) {
    // No logger configured: stderr, so that a handler's exception is never silently a 500.
    console.error(`lifeline: request ${requestId ?? '(no id)'} failed with an unexpected error, answered 500 (set createLifeline's \`logger\` to log it there instead):`, error);
  } else if (logger.error !== undefined) {
    logger.error({ err: error, requestId }, 'lifeline: request handler failed');
  } else {
    logger.warn({ err: error, requestId }, 'lifeline: request handler failed');
  }
}

function asException(error: unknown): Exception {
  if (error instanceof Error) return error;
  return typeof error === 'string' ? error : inspect(error, { depth: 2 });
}
