import { randomUUID } from 'node:crypto';

const SAFE_OR_IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE', 'QUERY']);

/** RFC 9110 §9.2.2: methods whose repetition has the same effect as one request. @internal */
export function isIdempotentMethod(method: string): boolean {
  return SAFE_OR_IDEMPOTENT.has(method);
}

/**
 * A new Idempotency-Key value in the IETF draft's form: a Structured Fields string, so
 * quoted. One per logical call; every attempt of the call sends the same one.
 *
 * @example newIdempotencyKey(); // '"8e03978e-40d5-43e8-bc93-6894a57f9324"'
 */
export function newIdempotencyKey(): string {
  return `"${randomUUID()}"`;
}

/** Quotes a caller-supplied key unless it already is a quoted string. @internal */
export function quoteIdempotencyKey(key: string): string {
  if (key.length >= 2 && key.startsWith('"') && key.endsWith('"')) return key;
  if (!/^[\x20-\x7e]+$/.test(key) || /["\\]/.test(key)) {
    throw new TypeError(`lifeline: option \`idempotencyKey\` must be printable ASCII without quotes or backslashes, got ${JSON.stringify(key)}`);
  }
  return `"${key}"`;
}
