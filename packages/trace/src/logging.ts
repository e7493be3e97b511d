import { isSpanContextValid, trace } from '@opentelemetry/api';
import { currentRequestContext, parentContext } from './request-context.ts';

/** The correlation fields of a log line: the trace and span of the work in progress, and its request id. */
export interface LogCorrelation {
  trace_id?: string;
  span_id?: string;
  request_id?: string;
}

/**
 * The correlation fields of the work in progress: `trace_id` and `span_id` of the active span
 * (or of the inbound trace when no OpenTelemetry SDK is registered), and `request_id` of the
 * request being handled. Fields that are unknown are left out; outside any request and trace
 * the object is empty.
 *
 * Use it as pino's `mixin`, so every line carries them without passing a logger around, or
 * with `logger.child(...)` to bind them once.
 *
 * @example
 * import pino from 'pino';
 * const logger = pino({ mixin: logCorrelation, redact: redactOptions });
 * logger.info('charging'); // {"trace_id":"0af7…","span_id":"b7ad…","request_id":"4f1c…","msg":"charging",…}
 */
export function logCorrelation(): LogCorrelation {
  const request = currentRequestContext();
  const fields: LogCorrelation = {};
  const spanContext = trace.getSpanContext(parentContext(request));
  if (spanContext !== undefined && isSpanContextValid(spanContext)) {
    fields.trace_id = spanContext.traceId;
    fields.span_id = spanContext.spanId;
  }
  if (request !== undefined) fields.request_id = request.requestId;
  return fields;
}

/**
 * A child of `logger` bound to the correlation fields of the work in progress
 * ({@link logCorrelation}), for code that logs many lines for one request.
 *
 * @example
 * const log = requestLogger(logger);
 * log.info({ amount }, 'charge accepted');
 */
export function requestLogger<L extends { child(bindings: Record<string, unknown>): L }>(logger: L): L {
  return logger.child({ ...logCorrelation() });
}
