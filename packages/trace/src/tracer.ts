import { trace, type Tracer, type TracerProvider } from '@opentelemetry/api';

/** The global provider as `@opentelemetry/api` returns it: a proxy to the registered SDK. */
interface ProxyProvider extends TracerProvider {
  getDelegate?(): TracerProvider;
  getDelegateTracer?(name: string): Tracer | undefined;
}

const cache = new Map<string, { delegate: TracerProvider; tracer: Tracer | undefined }>();

/**
 * The tracer `name` of the registered OpenTelemetry SDK, or `undefined` when none is
 * registered. Without an SDK every span would be a no-op; knowing it up front spares the
 * request path the span, its attributes and a context per request. The answer is cached per
 * registered provider, so an SDK registered after startup is picked up.
 *
 * @example
 * const tracer = registeredTracer('@lifeline/server');
 * const span = tracer?.startSpan('GET');
 */
export function registeredTracer(name: string): Tracer | undefined {
  const provider = trace.getTracerProvider() as ProxyProvider;
  if (typeof provider.getDelegate !== 'function' || typeof provider.getDelegateTracer !== 'function') {
    return provider.getTracer(name);
  }
  const delegate = provider.getDelegate();
  let entry = cache.get(name);
  if (entry === undefined || entry.delegate !== delegate) {
    entry = { delegate, tracer: provider.getDelegateTracer(name) };
    cache.set(name, entry);
  }
  return entry.tracer;
}
