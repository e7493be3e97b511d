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
    for (let i = 0; i + 1 < headers.length; i += 2) if (String(headers[i]).toLowerCase() === name) return first(headers[i + 1]);
    return undefined;
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [key, value] of headers as Iterable<[string, string | string[]]>) if (key.toLowerCase() === name) return first(value);
    return undefined;
  }
  const record = headers as Record<string, unknown>;
  // fetch() and the client hand over lower-case names: try the exact name before scanning.
  const exact = record[name];
  if (exact !== undefined) return first(exact);
  for (const key in record) if (key.toLowerCase() === name) return first(record[key]);
  return undefined;
}

function first(value: unknown): string | undefined {
  return typeof value === 'string' ? value : Array.isArray(value) && typeof value[0] === 'string' ? value[0] : undefined;
}
