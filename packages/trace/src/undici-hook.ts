import { REQUEST_ATTEMPT } from './headers.ts';

/** The part of a request `@opentelemetry/instrumentation-undici` hands to its `ignoreRequestHook`. */
export interface UndiciRequestLike {
  /** `name: value\r\n` lines (undici 5) or a flat `[name, value, …]` array (undici 6 and later). */
  headers?: string | readonly (string | readonly string[])[] | undefined;
}

/**
 * True for a request sent by a Lifeline client or interceptor (it carries `x-request-attempt`),
 * which already has its CLIENT span per attempt and its trace headers. Pass it as
 * `ignoreRequestHook` of `@opentelemetry/instrumentation-undici`, so that instrumentation
 * neither opens a second CLIENT span for it nor appends a second `traceparent`. Never throws.
 *
 * @example
 * new UndiciInstrumentation({ ignoreRequestHook: isLifelineRequest });
 * // with a hook of your own:
 * new UndiciInstrumentation({ ignoreRequestHook: (req) => isLifelineRequest(req) || req.path === '/health' });
 */
export function isLifelineRequest(request: UndiciRequestLike | null | undefined): boolean {
  const headers = request?.headers;
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) {
      const name: unknown = (headers as readonly unknown[])[i];
      if (typeof name === 'string' && name.length === REQUEST_ATTEMPT.length && name.toLowerCase() === REQUEST_ATTEMPT) return true;
    }
    return false;
  }
  if (typeof headers === 'string') {
    for (const line of headers.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon !== -1 && line.slice(0, colon).trim().toLowerCase() === REQUEST_ATTEMPT) return true;
    }
  }
  return false;
}
