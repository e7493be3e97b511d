import { createHash } from 'node:crypto';

/** The longest accepted key, in characters after unquoting. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** The outcome of {@link parseIdempotencyKey} for a request that sent the header. */
export type ParsedIdempotencyKey = { key: string } | { error: string };

function isVisible(code: number): boolean {
  return code >= 0x21 && code <= 0x7e;
}

function parseQuoted(value: string): ParsedIdempotencyKey {
  let key = '';
  for (let i = 1; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x22) {
      if (i !== value.length - 1) return { error: 'Idempotency-Key has characters after its closing quote' };
      return checkLength(key);
    }
    if (code === 0x5c) {
      const next = value.charCodeAt(i + 1);
      if (next !== 0x22 && next !== 0x5c) return { error: 'Idempotency-Key has a backslash not followed by `"` or `\\`' };
      key += value[i + 1];
      i++;
      continue;
    }
    if (code < 0x20 || code > 0x7e) return { error: 'Idempotency-Key must be printable ASCII' };
    key += value[i];
    if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) return { error: `Idempotency-Key must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters` };
  }
  return { error: 'Idempotency-Key has an unterminated quoted string' };
}

function checkLength(key: string): ParsedIdempotencyKey {
  if (key.length === 0) return { error: 'Idempotency-Key must not be empty' };
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) return { error: `Idempotency-Key must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters` };
  return { key };
}

function parseOne(raw: string): ParsedIdempotencyKey {
  const value = raw.replace(/^[ \t]+|[ \t]+$/g, '');
  if (value.length === 0) return { error: 'Idempotency-Key must not be empty' };
  if (value.charCodeAt(0) === 0x22) return parseQuoted(value);
  if (value.length > MAX_IDEMPOTENCY_KEY_LENGTH) return { error: `Idempotency-Key must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters` };
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x2c) return { error: 'Idempotency-Key must be sent once (it contains a comma: a repeated header?)' };
    if (code === 0x22 || code === 0x5c) return { error: 'Idempotency-Key must quote a key containing `"` or `\\`' };
    if (!isVisible(code)) return { error: 'Idempotency-Key must be printable ASCII without spaces (or a quoted string)' };
  }
  return { key: value };
}

/**
 * Reads an `Idempotency-Key` request header (IETF httpapi idempotency-key draft). The value
 * is an RFC 8941 sf-string (`"abc"`, printable ASCII including spaces, with `\"` and `\\`
 * escapes), or, as most clients send it, a bare token of visible ASCII without `"`, `\`,
 * `,` or spaces. Surrounding spaces and tabs are ignored; the key is 1 to 255 characters
 * after unquoting. A header sent more than once (an array of several values, or values
 * joined with a comma) is an error. Never throws.
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
