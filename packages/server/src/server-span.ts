import { SpanKind, SpanStatusCode, type Context, type Span, type Tracer } from '@opentelemetry/api';

/** The instrumentation scope of the SERVER spans. */
export const TRACER_NAME = '@lifeline/server';

/** @internal Starts the SERVER span of a request (stable HTTP semantic conventions). */
export function startServerSpan(tracer: Tracer, method: string, url: string, route: string | undefined, parent: Context): Span {
  const query = url.indexOf('?');
  const attributes: Record<string, string> = {
    'http.request.method': method,
    'url.path': query === -1 ? url : url.slice(0, query),
  };
  if (route !== undefined) attributes['http.route'] = route;
  return tracer.startSpan(route === undefined ? method : `${method} ${route}`, { kind: SpanKind.SERVER, attributes }, parent);
}

/**
 * @internal Ends the SERVER span: the response status, and `error.type` with an error status
 * on a 5xx (a 4xx is the caller's error, not the server's). `completed` is false when the
 * connection closed before the response was complete.
 */
export function endServerSpan(span: Span, method: string, status: number, route: string | undefined, completed: boolean): void {
  if (route !== undefined) {
    span.updateName(`${method} ${route}`);
    span.setAttribute('http.route', route);
  }
  span.setAttribute('http.response.status_code', status);
  if (status >= 500) {
    span.setAttribute('error.type', String(status));
    span.setStatus({ code: SpanStatusCode.ERROR });
  } else if (!completed) {
    span.setAttribute('error.type', 'aborted');
  }
  span.end();
}
