import { BAGGAGE, REQUEST_ATTEMPT, REQUEST_ID, REQUEST_TIMEOUT, TRACEPARENT, TRACESTATE } from '@lifeline/trace';
import type { Dispatcher } from 'undici';

type DispatchHeaders = Dispatcher.DispatchOptions['headers'];
type HeaderRecord = Record<string, string | string[] | undefined>;

/**
 * The headers of one attempt of a call whose headers the client built itself (a record with
 * lower-case names, its default headers already in): the attempt number, the time the
 * attempt has left, and the trace headers, set over the caller's. A caller's `tracestate` goes
 * when a `traceparent` of ours replaces the caller's and brings none: it belonged to the other.
 *
 * @internal
 */
export function ownAttemptHeaders(headers: HeaderRecord, attempt: string, timeout: string | undefined, tracing: Record<string, string> | undefined): HeaderRecord {
  const out: HeaderRecord = { ...headers, [REQUEST_ATTEMPT]: attempt, [REQUEST_TIMEOUT]: timeout, ...tracing };
  if (out[TRACESTATE] !== undefined && tracing !== undefined && TRACEPARENT in tracing && !(TRACESTATE in tracing)) out[TRACESTATE] = undefined;
  return out;
}

/**
 * `headers` (a request that came through fetch() or undici.request()) with the attempt and
 * remaining-time headers set (any other spelling of them replaced), the trace headers, and
 * the pipeline's default headers where the request has none of that name — in whichever form
 * undici was given them: a record, a flat `[name, value, …]` array, or an iterable of pairs.
 *
 * @example
 * attemptHeaders({ accept: '*\/*' }, '2', '1500', undefined, {}); // { accept: '*\/*', 'x-request-attempt': '2', 'x-request-timeout-ms': '1500' }
 * @internal
 */
export function attemptHeaders(
  headers: DispatchHeaders,
  attempt: string,
  timeout: string | undefined,
  tracing: Record<string, string> | undefined,
  defaults: Record<string, string> | undefined,
): DispatchHeaders {
  const set: Record<string, string> = { ...tracing, [REQUEST_ATTEMPT]: attempt };
  if (timeout !== undefined) set[REQUEST_TIMEOUT] = timeout;
  // Names we set replace any spelling of theirs, and so does the timeout even when we send
  // none, and a tracestate when we send a traceparent (it belonged to another parent).
  // A length check first: most names are none of ours, and lower-casing each would cost more.
  const replaced = (name: string): boolean =>
    name in set || name === REQUEST_TIMEOUT || (name === TRACESTATE && TRACEPARENT in set);
  const ours = (key: string): boolean => OUR_NAME_LENGTHS.has(key.length) && replaced(key.toLowerCase());
  let missing = defaults;
  const seen = (key: string): void => {
    if (missing !== undefined && key.toLowerCase() in missing) {
      missing = { ...missing };
      delete missing[key.toLowerCase()];
    }
  };
  if (Array.isArray(headers)) {
    const out: string[] = [];
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const key = String(headers[i]);
      seen(key);
      if (!ours(key)) out.push(headers[i] as string, headers[i + 1] as string);
    }
    for (const name in missing) out.push(name, missing[name]!);
    for (const name in set) out.push(name, set[name]!);
    return out;
  }
  const out: HeaderRecord = {};
  if (headers !== undefined && headers !== null) {
    if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
      for (const [key, v] of headers as Iterable<[string, string | string[]]>) {
        seen(key);
        if (!ours(key)) out[key] = v;
      }
    } else {
      const record = headers as HeaderRecord;
      for (const key in record) {
        seen(key);
        if (!ours(key)) out[key] = record[key];
      }
    }
  }
  for (const name in missing) out[name] = missing[name];
  for (const name in set) out[name] = set[name];
  return out;
}

/** The lengths of the header names the pipeline sets. */
const OUR_NAME_LENGTHS = new Set(
  [REQUEST_ATTEMPT, REQUEST_TIMEOUT, REQUEST_ID, TRACEPARENT, TRACESTATE, BAGGAGE].map((name) => name.length),
);
