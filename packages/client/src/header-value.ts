import type { Dispatcher } from 'undici';

/**
 * The first string value of header `name` (lower case), in any form undici accepts headers:
 * a record, a flat `[name, value, …]` array, or an iterable of pairs.
 *
 * @example headerValue({ 'Idempotency-Key': '"k1"' }, 'idempotency-key'); // '"k1"'
 * @internal
 */
export function headerValue(headers: Dispatcher.DispatchOptions['headers'], name: string): string | undefined {
  if (headers === undefined || headers === null) return undefined;
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) if (isHeaderName(String(headers[i]), name)) return firstValue(headers[i + 1]);
    return undefined;
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [key, value] of headers as Iterable<[string, string | string[]]>) if (isHeaderName(key, name)) return firstValue(value);
    return undefined;
  }
  const record = headers as Record<string, unknown>;
  // fetch() and the client hand over lower-case names: try the exact name before scanning.
  const exact = record[name];
  if (exact !== undefined) return firstValue(exact);
  for (const key in record) if (isHeaderName(key, name)) return firstValue(record[key]);
  return undefined;
}

/**
 * Whether header name `key`, in any case, is `name` (in lower case). Compared in place, a
 * length first: no lower-cased copy of the name is made, as `toLowerCase()` would.
 *
 * @example isHeaderName('X-Request-Id', 'x-request-id'); // true
 * @internal
 */
export function isHeaderName(key: string, name: string): boolean {
  const length = key.length;
  if (length !== name.length) return false;
  for (let i = 0; i < length; i++) {
    const c = key.charCodeAt(i);
    // Only A-Z have a lower case in a header name (a token: ASCII).
    if ((c >= 65 && c <= 90 ? c + 32 : c) !== name.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * A header's value as one string: the value itself, or the first of several.
 *
 * @example firstValue(['a', 'b']); // 'a'
 * @internal
 */
export function firstValue(value: unknown): string | undefined {
  return typeof value === 'string' ? value : Array.isArray(value) && typeof value[0] === 'string' ? value[0] : undefined;
}
