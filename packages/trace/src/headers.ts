/** `x-request-id`: correlation id, generated at the edge when absent and echoed on responses. */
export const REQUEST_ID = 'x-request-id';
/** `x-request-timeout-ms`: remaining budget of the caller, in relative milliseconds. */
export const REQUEST_TIMEOUT = 'x-request-timeout-ms';
/** `x-request-attempt`: 1-based attempt number of the outgoing call. */
export const REQUEST_ATTEMPT = 'x-request-attempt';
/** `x-request-priority`: how much the request matters under overload: `critical`, `normal` or `sheddable`. */
export const REQUEST_PRIORITY = 'x-request-priority';
/** `grpc-timeout`: gRPC deadline (1-8 digits and a unit among H, M, S, m, u, n). */
export const GRPC_TIMEOUT = 'grpc-timeout';
/** `x-envoy-expected-rq-timeout-ms`: the timeout Envoy applies to this request, in milliseconds. */
export const ENVOY_TIMEOUT = 'x-envoy-expected-rq-timeout-ms';
/** W3C Trace Context `traceparent`. */
export const TRACEPARENT = 'traceparent';
/** W3C Trace Context `tracestate`. */
export const TRACESTATE = 'tracestate';
/** W3C Baggage `baggage`. */
export const BAGGAGE = 'baggage';

/**
 * A plain header object, as Node's `IncomingHttpHeaders` or `OutgoingHttpHeaders` (string values).
 *
 * @example
 * const headers: HeaderRecord = { 'x-request-id': 'abc', 'set-cookie': ['a=1', 'b=2'] };
 */
export type HeaderRecord = Record<string, string | string[] | undefined>;

/**
 * @internal Every value of header `name` (lower case) under any spelling of its name, in object
 * order. Non-string values and non-object inputs are skipped, so this never throws.
 */
export function headerValues(headers: unknown, name: string): string[] {
  const values: string[] = [];
  if (headers === null || typeof headers !== 'object') return values;
  const record = headers as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key.length !== name.length || key.toLowerCase() !== name) continue;
    const value = record[key];
    if (typeof value === 'string') values.push(value);
    else if (Array.isArray(value)) {
      for (const item of value as unknown[]) if (typeof item === 'string') values.push(item);
    }
  }
  return values;
}

/** @internal Removes header `name` (lower case) under every spelling of its name. */
export function deleteHeader(headers: HeaderRecord, name: string): void {
  for (const key of Object.keys(headers)) {
    if (key.length === name.length && key.toLowerCase() === name) delete headers[key];
  }
}

/** @internal Sets header `name` (lower case) to exactly one value, replacing every other spelling. */
export function setHeader(headers: HeaderRecord, name: string, value: string): void {
  deleteHeader(headers, name);
  headers[name] = value;
}

/**
 * @internal The single value carried by `values`, splitting comma-joined duplicates (as Node joins
 * repeated unknown headers) and trimming optional whitespace. `undefined` when there is no value,
 * and `null` when there are several different ones.
 */
export function soleValue(values: readonly string[], splitCommas: boolean): string | undefined | null {
  let found: string | undefined;
  for (const value of values) {
    const parts = splitCommas ? value.split(',') : [value];
    for (const part of parts) {
      const trimmed = trimOws(part);
      if (found === undefined) found = trimmed;
      else if (found !== trimmed) return null;
    }
  }
  return found;
}

/** @internal Trims HTTP optional whitespace (spaces and horizontal tabs) at both ends. */
export function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value[start] === ' ' || value[start] === '\t')) start++;
  while (end > start && (value[end - 1] === ' ' || value[end - 1] === '\t')) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}
