import { type SpanContext, TraceFlags } from '@opentelemetry/api';

/**
 * @internal The random-trace-id flag of W3C Trace Context Level 2 (bit 1): the right-most 7 bytes of the
 * trace id are random. `TraceFlags` of `@opentelemetry/api` names only the sampled bit.
 */
export const RANDOM_TRACE_ID_FLAG = 0x02;

/**
 * The flags this version of the specification defines. The others are reserved: a receiver
 * ignores them and a sender sets them to zero, so they are masked off in both directions.
 */
const KNOWN_FLAGS = TraceFlags.SAMPLED | RANDOM_TRACE_ID_FLAG;

/** Length of a version `00` header, and the least length of any later version. */
const VERSION_00_LENGTH = 55;

/** The four fields every version shares: version, trace id, parent id, flags (lowercase hex). */
const FIELDS = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const LOWER_HEX_32 = /^[0-9a-f]{32}$/;
const LOWER_HEX_16 = /^[0-9a-f]{16}$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

/**
 * @internal Parses a W3C `traceparent` value (already trimmed of surrounding whitespace) into a
 * remote span context, or `undefined` when it is not valid. Never throws.
 *
 * Version `00` is exactly 55 characters. A later version (`01` to `fe`) is read by the fields it
 * shares with `00`, as the specification's versioning rules ask: at least 55 characters, and
 * anything after the flags must start with `-`. Version `ff`, upper-case hex and all-zero ids are
 * invalid. Flags other than sampled and random are dropped.
 *
 * @example
 * parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
 * // { traceId: '4bf9…', spanId: '00f0…', traceFlags: 1, isRemote: true }
 */
export function parseTraceparent(value: string): SpanContext | undefined {
  if (typeof value !== 'string' || value.length < VERSION_00_LENGTH) return undefined;
  const match = FIELDS.exec(value.length === VERSION_00_LENGTH ? value : value.slice(0, VERSION_00_LENGTH));
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags] = match as unknown as [string, string, string, string, string];
  if (version === 'ff') return undefined;
  if (value.length > VERSION_00_LENGTH && (version === '00' || value[VERSION_00_LENGTH] !== '-')) return undefined;
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return undefined;
  return { traceId, spanId, traceFlags: Number.parseInt(flags, 16) & KNOWN_FLAGS, isRemote: true };
}

/**
 * @internal Formats a span context as a version `00` `traceparent`, or `undefined` when its ids
 * are not lowercase hex of the right length or are all zeros (the api's own check accepts upper
 * case, which the wire format does not). `flags` (default: the span context's) are written with
 * the reserved ones as zero. Never throws.
 *
 * @example
 * formatTraceparent({ traceId: '4bf9…4736', spanId: '00f0…02b7', traceFlags: TraceFlags.SAMPLED });
 * // '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
 */
export function formatTraceparent(spanContext: SpanContext, flags: number = spanContext.traceFlags): string | undefined {
  const { traceId, spanId } = spanContext;
  if (typeof traceId !== 'string' || !LOWER_HEX_32.test(traceId) || traceId === ZERO_TRACE_ID) return undefined;
  if (typeof spanId !== 'string' || !LOWER_HEX_16.test(spanId) || spanId === ZERO_SPAN_ID) return undefined;
  return `00-${traceId}-${spanId}-0${(Number(flags) & KNOWN_FLAGS).toString(16)}`;
}

/** @internal Where the parent-id starts and ends in a version `00` `traceparent`. */
export const PARENT_ID_START = 36;
/** @internal See {@link PARENT_ID_START}. */
export const PARENT_ID_END = 52;
