import { REQUEST_ID, REQUEST_PRIORITY } from '@lifeline/trace';
import type { Dispatcher } from 'undici';
import { firstValue, isHeaderName } from './header-value.ts';

/** @internal */
export const IDEMPOTENCY_KEY = 'idempotency-key';
const CONTENT_LENGTH = 'content-length';
// Four different lengths: a name's length says which of the four it can be.
const REQUEST_ID_LENGTH = REQUEST_ID.length;
const REQUEST_PRIORITY_LENGTH = REQUEST_PRIORITY.length;
const IDEMPOTENCY_KEY_LENGTH = IDEMPOTENCY_KEY.length;
const CONTENT_LENGTH_LENGTH = CONTENT_LENGTH.length;

/**
 * What the call stage reads from the headers of a request from fetch() or undici.request():
 * the first string value of each, or `undefined`.
 *
 * @internal
 */
export class CallHeaders {
  /** `x-request-id`: the id the caller chose for the call. */
  requestId: string | undefined = undefined;
  /** `idempotency-key`: it makes an unsafe method safe to repeat. */
  idempotencyKey: string | undefined = undefined;
  /** `content-length`: a body of known length can be read once and sent again. */
  contentLength: string | undefined = undefined;
  /** `x-request-priority`: the priority the caller gave the call. */
  priority: string | undefined = undefined;
}

/** Read right after each scan: the scan is synchronous, so one object serves every call. */
const found = new CallHeaders();

/**
 * The request id, the Idempotency-Key, the content length and the priority of `headers`, found in one pass
 * over them, in any form undici accepts (a record, a flat `[name, value, …]` array, an
 * iterable of pairs) and any case of their names. A name is compared in place, after its
 * length: the pass makes no lower-cased copy of each name (fetch() hands over the names as
 * its caller wrote them, so a record's exact key cannot be trusted to find them).
 *
 * Returns one shared object, valid until the next call: read it at once.
 *
 * @example
 * const { requestId } = readCallHeaders({ 'X-Request-Id': 'r-1', accept: '*\/*' }); // 'r-1'
 * @internal
 */
export function readCallHeaders(headers: Dispatcher.DispatchOptions['headers']): CallHeaders {
  found.requestId = found.idempotencyKey = found.contentLength = found.priority = undefined;
  if (headers === undefined || headers === null) return found;
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) note(String(headers[i]), headers[i + 1]);
  } else if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [key, value] of headers as Iterable<[string, string | string[]]>) note(key, value);
  } else {
    const record = headers as Record<string, unknown>;
    for (const key in record) note(key, record[key]);
  }
  return found;
}

/** Keeps `value` when `key` is one of the four names and the first of its name. */
function note(key: string, value: unknown): void {
  switch (key.length) {
    case REQUEST_ID_LENGTH:
      if (found.requestId === undefined && isHeaderName(key, REQUEST_ID)) found.requestId = firstValue(value);
      return;
    case IDEMPOTENCY_KEY_LENGTH:
      if (found.idempotencyKey === undefined && isHeaderName(key, IDEMPOTENCY_KEY)) found.idempotencyKey = firstValue(value);
      return;
    case CONTENT_LENGTH_LENGTH:
      if (found.contentLength === undefined && isHeaderName(key, CONTENT_LENGTH)) found.contentLength = firstValue(value);
      return;
    case REQUEST_PRIORITY_LENGTH:
      if (found.priority === undefined && isHeaderName(key, REQUEST_PRIORITY)) found.priority = firstValue(value);
      return;
  }
}
