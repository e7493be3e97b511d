import type { Logger } from '@lifeline/core';

/** Inbound headers Lifeline reads, and ignores when malformed. */
export type IgnoredHeader =
  | 'x-request-id'
  | 'x-request-timeout-ms'
  | 'grpc-timeout'
  | 'x-envoy-expected-rq-timeout-ms'
  | 'x-request-attempt'
  | 'x-request-priority'
  | 'traceparent';

/**
 * @internal Counts malformed inbound headers, by name. A malformed header never fails a
 * request: it is ignored, counted here, and logged the first time each name is seen, so a
 * misbehaving caller shows up once in the logs and then in `snapshot()`.
 */
export class IgnoredHeaders {
  readonly #counts: Record<IgnoredHeader, number> = {
    'x-request-id': 0,
    'x-request-timeout-ms': 0,
    'grpc-timeout': 0,
    'x-envoy-expected-rq-timeout-ms': 0,
    'x-request-attempt': 0,
    'x-request-priority': 0,
    traceparent: 0,
  };
  readonly #logger: Logger | undefined;

  constructor(logger: Logger | undefined) {
    this.#logger = logger;
  }

  add(name: IgnoredHeader, requestId: string): void {
    if (this.#counts[name]++ === 0) {
      this.#logger?.info(
        { header: name, requestId },
        `lifeline: ignoring a malformed ${name} header (further ones are counted in snapshot().ignoredHeaders, not logged)`,
      );
    }
  }

  snapshot(): Record<IgnoredHeader, number> {
    return { ...this.#counts };
  }
}
