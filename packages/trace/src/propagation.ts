import { type Context, defaultTextMapGetter, defaultTextMapSetter, ROOT_CONTEXT } from '@opentelemetry/api';
import { W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BAGGAGE,
  deleteHeader,
  type HeaderRecord,
  headerValues,
  setHeader,
  soleValue,
  TRACEPARENT,
  TRACESTATE,
} from './headers.ts';

/** Most baggage list-members propagated (W3C Baggage limits). */
export const MAX_BAGGAGE_ENTRIES = 64;
/** Largest baggage header propagated, in bytes (W3C Baggage limits). */
export const MAX_BAGGAGE_BYTES = 8192;

/** Longest single baggage entry the OpenTelemetry propagator keeps. */
const MAX_BAGGAGE_ENTRY_LENGTH = 4096;

/** Options of {@link extractContext}. */
export interface ExtractOptions {
  /**
   * `false` for an untrusted edge: inbound `traceparent`, `tracestate` and `baggage` are
   * ignored, so the request starts a new trace and carries no inbound baggage. Default `true`.
   */
  trusted?: boolean;
}

const traceContextPropagator = new W3CTraceContextPropagator();
const baggagePropagator = new W3CBaggagePropagator();

function isValidBaggageEntry(entry: string): boolean {
  if (entry.length > MAX_BAGGAGE_ENTRY_LENGTH) return false;
  const semicolon = entry.indexOf(';');
  const pair = semicolon === -1 ? entry : entry.slice(0, semicolon);
  const equals = pair.indexOf('=');
  if (equals <= 0) return false;
  const key = pair.slice(0, equals).trim();
  const value = pair.slice(equals + 1).trim();
  if (key === '' || value === '') return false;
  try {
    decodeURIComponent(key);
    decodeURIComponent(value);
  } catch {
    return false;
  }
  return true;
}

function truncateEntries(value: string, validOnly: boolean): string {
  let result = '';
  let count = 0;
  let bytes = 0;
  for (const raw of value.split(',')) {
    if (count >= MAX_BAGGAGE_ENTRIES) break;
    const entry = raw.trim();
    if (entry === '' || (validOnly && !isValidBaggageEntry(entry))) continue;
    const size = Buffer.byteLength(entry, 'utf8') + (count === 0 ? 0 : 1);
    if (bytes + size > MAX_BAGGAGE_BYTES) break;
    result = count === 0 ? entry : `${result},${entry}`;
    bytes += size;
    count++;
  }
  return result;
}

/**
 * Cuts a `baggage` header value to the W3C limits, {@link MAX_BAGGAGE_ENTRIES} list-members
 * and {@link MAX_BAGGAGE_BYTES} bytes, by whole entries: the longest prefix of list-members
 * that fits is kept, and no entry is ever cut. Empty members are dropped. Never throws.
 *
 * @example
 * truncateBaggage(Array.from({ length: 100 }, (_, i) => `k${i}=v`).join(',')); // the first 64 entries
 */
export function truncateBaggage(value: string): string {
  return typeof value === 'string' ? truncateEntries(value, false) : '';
}

function sole(headers: unknown, name: string): string | undefined {
  const value = soleValue(headerValues(headers, name), false);
  return typeof value === 'string' ? value : undefined;
}

/**
 * Extracts the inbound W3C trace context (`traceparent`, `tracestate`) and baggage from a
 * plain header object into a new context derived from `base`, with the OpenTelemetry W3C
 * propagators used directly, so it works without any registered SDK or global propagator.
 *
 * Follows the W3C processing model and never throws: an invalid or repeated `traceparent`
 * gives no remote parent (a new trace starts) and its `tracestate` is dropped; invalid
 * `tracestate` members are dropped; baggage beyond 64 valid entries or 8192 bytes is cut by
 * whole entries. With `{ trusted: false }` nothing inbound is read and `base` is returned.
 *
 * @example
 * const ctx = extractContext(req.headers);
 * await context.with(ctx, () => handle(req, res));
 */
export function extractContext(
  headers: Record<string, string | string[] | undefined>,
  base: Context = ROOT_CONTEXT,
  options: ExtractOptions = {},
): Context {
  if (options.trusted === false) return base;
  const carrier: Record<string, string> = {};
  const traceparent = sole(headers, TRACEPARENT);
  if (traceparent !== undefined) {
    carrier[TRACEPARENT] = traceparent;
    const tracestate = headerValues(headers, TRACESTATE);
    if (tracestate.length > 0) carrier[TRACESTATE] = tracestate.join(',');
  }
  const baggage = headerValues(headers, BAGGAGE);
  if (baggage.length > 0) {
    const kept = truncateEntries(baggage.join(','), true);
    if (kept !== '') carrier[BAGGAGE] = kept;
  }
  let ctx = traceContextPropagator.extract(base, carrier, defaultTextMapGetter);
  ctx = baggagePropagator.extract(ctx, carrier, defaultTextMapGetter);
  return ctx;
}

/**
 * Writes the span context and baggage of `ctx` into a plain header object as `traceparent`,
 * `tracestate` and `baggage`, setting rather than appending: any existing spelling of these
 * headers (`Traceparent`, `TRACEPARENT`) is replaced, so exactly one of each remains. When a
 * `traceparent` is written, a stale `tracestate` is removed if `ctx` has none. Works with a
 * remote, non-recording span context alone (no SDK). Baggage is cut to the W3C limits by whole
 * entries. When `ctx` has no valid span context or no baggage, those headers are left as they are.
 *
 * @example
 * const headers: HeaderRecord = { accept: 'application/json' };
 * injectContext(context.active(), headers);
 */
export function injectContext(ctx: Context, headers: HeaderRecord): void {
  const carrier: Record<string, string> = {};
  traceContextPropagator.inject(ctx, carrier, defaultTextMapSetter);
  baggagePropagator.inject(ctx, carrier, defaultTextMapSetter);
  const traceparent = carrier[TRACEPARENT];
  if (traceparent !== undefined) {
    setHeader(headers, TRACEPARENT, traceparent);
    const tracestate = carrier[TRACESTATE];
    if (tracestate !== undefined && tracestate !== '') setHeader(headers, TRACESTATE, tracestate);
    else deleteHeader(headers, TRACESTATE);
  }
  const baggage = carrier[BAGGAGE];
  if (baggage !== undefined) {
    const kept = truncateEntries(baggage, false);
    if (kept !== '') setHeader(headers, BAGGAGE, kept);
  }
}
