import { type Context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { newSpanId, newTraceId } from './trace-ids.ts';
import { RANDOM_TRACE_ID_FLAG } from './traceparent.ts';

/**
 * A context derived from `base` that carries a new trace: a random trace id and span id, the
 * W3C Level 2 random-trace-id flag set (every byte of the id is random), the sampled flag
 * unset. For a request that brought no valid `traceparent` into a service that records no
 * spans (no OpenTelemetry SDK), so that its outgoing calls still share one trace, as the W3C
 * processing model asks ("the vendor creates a new trace-id and parent-id that represents the
 * current request").
 *
 * Why not sampled: with no SDK nothing of this trace is recorded here, and the sampled flag
 * says whether the caller may have recorded trace data. The specification's advice for a
 * component that makes no recording decision of its own is to pass the inbound flag on
 * unchanged and to leave it at 0 when the trace starts with it; a downstream service with a
 * sampler then decides for itself. With an SDK, the SDK starts the trace instead, with its own
 * sampler's decision.
 *
 * @example
 * const ctx = trace.getSpanContext(extracted) === undefined ? startTrace(extracted) : extracted;
 * formatted: '00-<32 random hex>-<16 random hex>-02'
 */
export function startTrace(base: Context = ROOT_CONTEXT): Context {
  return trace.setSpanContext(base, { traceId: newTraceId(), spanId: newSpanId(), traceFlags: RANDOM_TRACE_ID_FLAG, isRemote: false });
}
