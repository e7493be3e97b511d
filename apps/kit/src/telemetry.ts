import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace';

export interface Telemetry {
  /** Flushes the spans still buffered and unregisters nothing (the process is ending). */
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry Node SDK for one service process. Spans go to `otlpUrl`
 * (OTLP/HTTP JSON, e.g. the demo's `http://127.0.0.1:4000/v1/traces`) in batches every
 * 250 ms; without a URL the SDK is still registered, so the trace context flows through
 * the process and into the logs, and nothing is exported. No auto-instrumentation: the
 * Lifeline server and client make the SERVER, INTERNAL and CLIENT spans themselves.
 *
 * Call it before creating clients: metrics and tracers bind to the SDK registered then.
 */
export function startTelemetry(options: { service: string; instance: string; otlpUrl?: string | undefined }): Telemetry {
  const spanProcessors =
    options.otlpUrl === undefined
      ? []
      : [
          new BatchSpanProcessor({
            exporter: new OTLPTraceExporter({ url: options.otlpUrl, timeoutMillis: 2_000 }),
            scheduledDelayMillis: 250,
            maxExportBatchSize: 512,
            maxQueueSize: 4_096,
          }),
        ];
  const sdk = new NodeSDK({
    serviceName: options.service,
    resource: resourceFromAttributes({ 'service.instance.id': options.instance }),
    resourceDetectors: [],
    instrumentations: [],
    metricReaders: [],
    logRecordProcessors: [],
    spanProcessors,
  });
  // With no processor the SDK registers no tracer provider; an always-on provider with no
  // processor would cost a span per request for nothing.
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}
