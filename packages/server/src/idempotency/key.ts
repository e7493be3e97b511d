import { createHash } from 'node:crypto';
import { parseItem, parseList } from 'structured-headers';

/** The longest accepted key, in characters after unquoting. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** The outcome of {@link parseIdempotencyKey} for a request that sent the header. */
export type ParsedIdempotencyKey = { key: string } | { error: string };

/**
 * The unquoted form most clients send: visible ASCII without `"`, `,` or `\`. Such a value is
 * taken as it is (DESIGN §4: the server accepts it); anything else must be a Structured
 * Fields String.
 */
const BARE_KEY = /^[\x21\x23-\x2b\x2d-\x5b\x5d-\x7e]+$/;

function tooLong(): ParsedIdempotencyKey {
  return { error: `Idempotency-Key must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters` };
}

function checkLength(key: string): ParsedIdempotencyKey {
  if (key.length === 0) return { error: 'Idempotency-Key must not be empty' };
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) return tooLong();
  return { key };
}

/** Why a value that is neither a bare key nor an sf-string was refused, for the 400 answer. */
function invalid(value: string): ParsedIdempotencyKey {
  if (value.charCodeAt(0) === 0x22) {
    // Most often the header sent twice, which Node joins with a comma.
    if (isListOfSeveral(value)) return { error: 'Idempotency-Key must be sent once' };
    return { error: 'Idempotency-Key must be one quoted string of printable ASCII, with `\\"` and `\\\\` as its only escapes' };
  }
  if (value.includes(',')) return { error: 'Idempotency-Key must be sent once (it contains a comma: a repeated header?)' };
  if (/["\\]/.test(value)) return { error: 'Idempotency-Key must quote a key containing `"` or `\\`' };
  return { error: 'Idempotency-Key must be printable ASCII without spaces (or a quoted string)' };
}

function isListOfSeveral(value: string): boolean {
  try {
    return parseList(value).length > 1;
  } catch {
    return false;
  }
}

function parseOne(raw: string): ParsedIdempotencyKey {
  // HTTP field values carry no surrounding whitespace (RFC 9110 §5.5); be lenient with it.
  const value = raw.replace(/^[ \t]+|[ \t]+$/g, '');
  if (value.length === 0) return { error: 'Idempotency-Key must not be empty' };
  if (BARE_KEY.test(value)) return value.length > MAX_IDEMPOTENCY_KEY_LENGTH ? tooLong() : { key: value };
  // Only whether it is a string matters: structured-headers' own item type names a DOM type
  // (BufferSource) outside this package's `lib`.
  let item: [unknown, Map<string, unknown>];
  try {
    item = parseItem(value) as [unknown, Map<string, unknown>];
  } catch {
    return invalid(value);
  }
  const [key, params] = item;
  // A Byte Sequence, Token, number or Display String is not a key; nor is a String with parameters.
  if (typeof key !== 'string' || params.size > 0) return invalid(value);
  return checkLength(key);
}

/**
 * Reads an `Idempotency-Key` request header (IETF httpapi idempotency-key draft). The value
 * is a Structured Fields String (RFC 9651: `"abc"`, printable ASCII including spaces, with
 * `\"` and `\\` escapes; parsed by `structured-headers`), or, as most clients send it, a bare
 * key of visible ASCII without `"`, `\`, `,` or spaces, taken as it is. Surrounding spaces
 * and tabs are ignored; the key is 1 to 255 characters after unquoting. A header sent more
 * than once (an array of several values, or values joined with a comma) is an error, as is
 * any other Structured Fields type or a String with parameters. Never throws.
 *
 * @returns `undefined` when the header is absent, `{ key }` when valid, `{ error }` (a message
 * fit for a 400 problem response) otherwise.
 *
 * @example
 * parseIdempotencyKey('"8e03978e-40d5-43e8-bc93-6894a57f9324"'); // { key: '8e03978e-…' }
 * parseIdempotencyKey(undefined); // undefined
 * parseIdempotencyKey(['a', 'b']); // { error: 'Idempotency-Key must be sent once' }
 */
export function parseIdempotencyKey(header: string | string[] | undefined): ParsedIdempotencyKey | undefined {
  try {
    if (header === undefined) return undefined;
    if (Array.isArray(header)) {
      if (header.length === 0) return undefined;
      if (header.length > 1) return { error: 'Idempotency-Key must be sent once' };
      header = header[0];
    }
    if (typeof header !== 'string') return { error: 'Idempotency-Key must be a string' };
    return parseOne(header);
  } catch {
    return { error: 'Idempotency-Key could not be read' };
  }
}

/**
 * The request fingerprint a key is bound to: SHA-256 (hex) over the method, the path (with
 * its query) and the body bytes, each part separated so that no two requests share an input.
 * A key reused with a different fingerprint is answered 422.
 *
 * @example
 * fingerprint('POST', '/v1/charges', JSON.stringify({ amount: 100 })); // '3f1c…' (64 hex chars)
 */
export function fingerprint(method: string, path: string, body: Uint8Array | string): string {
  const hash = createHash('sha256');
  hash.update(`${method.length}:${method}\n${Buffer.byteLength(path)}:`);
  hash.update(path);
  hash.update('\n');
  hash.update(body);
  return hash.digest('hex');
}
