import { checkNumber, Deadline } from '@lifeline/core';
import { ENVOY_TIMEOUT, GRPC_TIMEOUT, headerValues, REQUEST_TIMEOUT, trimOws } from './headers.ts';

/** Largest budget accepted or written, in milliseconds (2^31-1, about 24.8 days, the range of Node timers). */
export const MAX_DEADLINE_MS = 2_147_483_647;

/** Result of {@link parseDeadlineHeaders}. */
export interface DeadlineHeaders {
  /** Smallest valid remaining budget in milliseconds among the deadline headers, or `undefined`. */
  ms: number | undefined;
  /** Names (lower case) of deadline headers with a value ignored as malformed or oversized. */
  ignored: string[];
}

const MS_PATTERN = /^\d{1,10}$/;
const GRPC_PATTERN = /^(\d{1,8})([HMSmun])$/;

function parseMs(value: string): number | undefined {
  if (!MS_PATTERN.test(value)) return undefined;
  const ms = Number(value);
  return ms <= MAX_DEADLINE_MS ? ms : undefined;
}

/**
 * Parses a `grpc-timeout` value (1-8 digits and a unit: H hours, M minutes, S seconds,
 * m milliseconds, u microseconds, n nanoseconds) into milliseconds, rounded up.
 * Returns `undefined` when malformed or above {@link MAX_DEADLINE_MS}; never throws.
 *
 * @example
 * parseGrpcTimeout('1500u'); // 2
 * parseGrpcTimeout('2S'); // 2000
 */
export function parseGrpcTimeout(value: string): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = GRPC_PATTERN.exec(value);
  if (match === null) return undefined;
  const amount = Number(match[1]);
  let ms: number;
  switch (match[2]) {
    case 'H':
      ms = amount * 3_600_000;
      break;
    case 'M':
      ms = amount * 60_000;
      break;
    case 'S':
      ms = amount * 1_000;
      break;
    case 'm':
      ms = amount;
      break;
    case 'u':
      ms = Math.ceil(amount / 1_000);
      break;
    default:
      ms = Math.ceil(amount / 1_000_000);
  }
  return ms <= MAX_DEADLINE_MS ? ms : undefined;
}

const SOURCES: readonly (readonly [string, (value: string) => number | undefined])[] = [
  [REQUEST_TIMEOUT, parseMs],
  [GRPC_TIMEOUT, parseGrpcTimeout],
  [ENVOY_TIMEOUT, parseMs],
];

/**
 * Reads the caller's remaining budget from `x-request-timeout-ms`, `grpc-timeout` and
 * `x-envoy-expected-rq-timeout-ms`, under any spelling of their names, and returns the
 * smallest valid one. A header repeated (an array, or Node's comma-joined form) counts by its
 * smallest valid value: an inbound deadline only ever shortens, so when two hops disagree the
 * tighter one is right, and ignoring both would let the server's longer limit apply. A value
 * that is malformed, negative or above {@link MAX_DEADLINE_MS} is ignored, and its header
 * listed in `ignored`. Never throws.
 *
 * `x-request-timeout-ms` and `x-envoy-expected-rq-timeout-ms` take 1-10 decimal digits.
 *
 * @example
 * parseDeadlineHeaders({ 'x-request-timeout-ms': '250', 'grpc-timeout': '1S' }); // { ms: 250, ignored: [] }
 * parseDeadlineHeaders({ 'x-request-timeout-ms': '900, 300' }); // { ms: 300, ignored: [] }
 * parseDeadlineHeaders({ 'x-request-timeout-ms': '-5' }); // { ms: undefined, ignored: ['x-request-timeout-ms'] }
 */
export function parseDeadlineHeaders(headers: Record<string, string | string[] | undefined>): DeadlineHeaders {
  let ms: number | undefined;
  const ignored: string[] = [];
  for (const [name, parse] of SOURCES) {
    const values = headerValues(headers, name);
    if (values.length === 0) continue;
    let malformed = false;
    for (const value of values) {
      for (const part of value.split(',')) {
        const parsed = parse(trimOws(part));
        if (parsed === undefined) malformed = true;
        else if (ms === undefined || parsed < ms) ms = parsed;
      }
    }
    if (malformed) ignored.push(name);
  }
  return { ms, ignored };
}

/**
 * The smallest valid remaining budget in milliseconds among the deadline headers, or
 * `undefined` when none is present and valid. See {@link parseDeadlineHeaders}.
 *
 * @example
 * const ms = readDeadlineMs(req.headers);
 * const deadline = ms === undefined ? undefined : Deadline.after(ms);
 */
export function readDeadlineMs(headers: Record<string, string | string[] | undefined>): number | undefined {
  return parseDeadlineHeaders(headers).ms;
}

/**
 * Formats a remaining budget for `x-request-timeout-ms`: whole milliseconds (rounded down),
 * clamped to `[0, MAX_DEADLINE_MS]`. Accepts a number of milliseconds or a {@link Deadline}.
 * Throws a `TypeError` for `NaN` or a non-number.
 *
 * @example
 * headers[REQUEST_TIMEOUT] = formatDeadlineHeader(deadline); // e.g. '742'
 * formatDeadlineHeader(12.9); // '12'
 */
export function formatDeadlineHeader(remainingMs: number | Deadline): string {
  const ms = remainingMs instanceof Deadline ? remainingMs.remaining() : checkNumber('remainingMs', remainingMs, -Infinity);
  return String(Math.min(MAX_DEADLINE_MS, Math.max(0, Math.floor(ms))));
}
