import { randomBytes } from 'node:crypto';
import type { Priority } from '@lifeline/core';
import { soleValue } from './headers.ts';

/** Longest accepted request id. */
export const MAX_REQUEST_ID_LENGTH = 128;
/** Highest accepted attempt number. */
export const MAX_ATTEMPT = 100;

/**
 * Visible ASCII (0x21-0x7E) except `"` (0x22), `'` (0x27), `,` (0x2C) and `\` (0x5C):
 * no spaces, no quotes, no list separator, nothing that needs escaping in a log line.
 */
const REQUEST_ID_PATTERN = /^[\x21\x23-\x26\x28-\x2B\x2D-\x5B\x5D-\x7E]{1,128}$/;
const ATTEMPT_PATTERN = /^[1-9]\d{0,2}$/;

function single(value: unknown): string | undefined {
  if (typeof value === 'string') return soleValue([value], false) ?? undefined;
  if (Array.isArray(value)) {
    const strings = (value as unknown[]).filter((item): item is string => typeof item === 'string');
    if (strings.length !== value.length) return undefined;
    return soleValue(strings, false) ?? undefined;
  }
  return undefined;
}

/**
 * Validates an inbound `x-request-id`. Accepts 1 to 128 characters of visible ASCII
 * (0x21-0x7E) other than `"`, `'`, `,` and `\`, after trimming surrounding spaces and tabs;
 * an array counts when all its values are identical. Anything else returns `undefined`,
 * meaning the header is ignored and a new id should be generated. Never throws.
 *
 * @example
 * const requestId = readRequestId(req.headers[REQUEST_ID]) ?? newRequestId();
 */
export function readRequestId(value: string | string[] | undefined): string | undefined {
  const id = single(value);
  return id !== undefined && REQUEST_ID_PATTERN.test(id) ? id : undefined;
}

/**
 * Why not a UUID per id: `randomUUID()` was the largest single cost of Lifeline's own code on
 * a client's request path (it refills a random pool and formats 36 characters per call). An
 * id only has to be unique and hard to forge across processes for log correlation, so it is
 * a prefix of 128 random bits drawn once per process (22 base64url characters) and a counter
 * in base 36: `Vx3…9Qg-1a`, `Vx3…9Qg-1b`… Two processes share a prefix with negligible
 * probability (2^-64 among 2^32 processes); within one process the counter never repeats
 * (2^53 ids). Ids of one process are sequential, so an id is not a secret: do not use it as
 * a token or an idempotency key (`newIdempotencyKey()` is random per key).
 */
const PREFIX = `${randomBytes(16).toString('base64url')}-`;
let counter = 0;

/**
 * A new request id, unique across processes: a per-process random prefix and a counter
 * (at most 34 characters, accepted by {@link readRequestId}).
 *
 * @example
 * res.setHeader(REQUEST_ID, newRequestId());
 */
export function newRequestId(): string {
  return PREFIX + (++counter).toString(36);
}

/**
 * Validates an inbound `x-request-attempt`: a positive decimal integer up to 100 without
 * sign or leading zeros. Anything else returns `undefined`. Never throws.
 *
 * @example
 * readAttempt('2'); // 2
 * readAttempt('0'); // undefined
 */
export function readAttempt(value: string | string[] | undefined): number | undefined {
  const text = single(value);
  if (text === undefined || !ATTEMPT_PATTERN.test(text)) return undefined;
  const attempt = Number(text);
  return attempt <= MAX_ATTEMPT ? attempt : undefined;
}

/**
 * Validates an inbound `x-request-priority`: `critical`, `normal` or `sheddable` (any case,
 * surrounding whitespace ignored). Anything else, or several values, returns `undefined`.
 * Never throws.
 *
 * @example
 * readPriority('critical'); // 'critical'
 * readPriority('urgent'); // undefined
 */
export function readPriority(value: string | string[] | undefined): Priority | undefined {
  const text = single(value)?.toLowerCase();
  return text === 'critical' || text === 'normal' || text === 'sheddable' ? text : undefined;
}
