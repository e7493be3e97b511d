export {
  REQUEST_ID,
  REQUEST_TIMEOUT,
  REQUEST_ATTEMPT,
  REQUEST_PRIORITY,
  GRPC_TIMEOUT,
  ENVOY_TIMEOUT,
  TRACEPARENT,
  TRACESTATE,
  BAGGAGE,
  type HeaderRecord,
} from './headers.ts';
export {
  MAX_DEADLINE_MS,
  type DeadlineHeaders,
  parseDeadlineHeaders,
  readDeadlineMs,
  parseGrpcTimeout,
  formatDeadlineHeader,
} from './deadline-header.ts';
export { MAX_REQUEST_ID_LENGTH, MAX_ATTEMPT, readRequestId, newRequestId, readAttempt, readPriority } from './request-id.ts';
export {
  MAX_BAGGAGE_ENTRIES,
  MAX_BAGGAGE_BYTES,
  type ExtractOptions,
  extractContext,
  injectContext,
  truncateBaggage,
} from './propagation.ts';
export { newTraceId, newSpanId } from './trace-ids.ts';
export { startTrace } from './start-trace.ts';
export { OutgoingTraceHeaders } from './outgoing-trace.ts';
export { REDACT_PATHS, redactOptions } from './redact.ts';
export { type RequestContext, type RequestWatcher, runWithRequestContext, currentRequestContext, parentContext } from './request-context.ts';
export { type LogCorrelation, logCorrelation, requestLogger } from './logging.ts';
export { type UndiciRequestLike, isLifelineRequest } from './undici-hook.ts';
export { registeredTracer } from './tracer.ts';
