import { randomUUID } from 'node:crypto';
import { parseItem, serializeItem } from 'structured-headers';

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
  // A UUID is hex digits and hyphens: as an sf-string it needs no escaping, only quotes.
  return `"${randomUUID()}"`;
}

/**
 * The `Idempotency-Key` value for a caller's `idempotencyKey`: the key serialised as a
 * Structured Fields String (RFC 9651, by `structured-headers`), so `"` and `\` are escaped.
 * A key that already is one sf-string (`"order-17"`) is sent as it is. Called where the
 * caller gives the key, so a key that cannot be sent fails that call, not an attempt.
 *
 * @throws TypeError naming `idempotencyKey` when the key is not a string, is empty, or holds
 * what an sf-string cannot carry (non-ASCII or control characters).
 * @example quoteIdempotencyKey('order-17'); // '"order-17"'
 * @internal
 */
export function quoteIdempotencyKey(key: string): string {
  if (typeof key !== 'string') throw badKey(key, 'must be a string');
  if (key.charCodeAt(0) === 0x22) {
    const inner = asOneString(key);
    if (inner === '') throw badKey(key, 'must not be empty');
    if (inner !== undefined) return key;
  }
  if (key.length === 0) throw badKey(key, 'must not be empty');
  try {
    return serializeItem(key);
  } catch {
    throw badKey(key, 'must be printable ASCII (a Structured Fields String)');
  }
}

/** The String a value that is exactly one sf-string (no parameters) holds; otherwise undefined. */
function asOneString(value: string): string | undefined {
  try {
    // Typed loosely: structured-headers' item type names a DOM type (BufferSource) outside our `lib`.
    const [bare, params] = parseItem(value) as [unknown, Map<string, unknown>];
    return typeof bare === 'string' && params.size === 0 ? bare : undefined;
  } catch {
    return undefined;
  }
}

function badKey(key: unknown, rule: string): TypeError {
  return new TypeError(`lifeline: option \`idempotencyKey\` ${rule}, got ${JSON.stringify(key)}`);
}
