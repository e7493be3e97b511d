import { errorHasInstance, LifelineError, type LifelineErrorOptions } from './errors.ts';

/** Response headers as undici parses them: lower-case names. */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

/**
 * The server answered with an error status (>= 400) and the policy did not turn it into
 * a success. Carries the status, the headers and the start of the body.
 *
 * @example
 * if (isLifelineError(error, 'HTTP_STATUS')) { // narrows to HttpStatusError
 *   console.log(error.status, error.body);
 * }
 */
export class HttpStatusError extends LifelineError {
  /**
   * True for an `HTTP_STATUS` error from any copy of the package, and for no other code
   * (the `Symbol.for` marker, as `isHttpStatusError` checks).
   *
   * @example if (error instanceof HttpStatusError && error.status === 404) return null;
   */
  static override [Symbol.hasInstance](instance: unknown): boolean {
    return errorHasInstance(HttpStatusError, this, instance, 'HTTP_STATUS');
  }

  readonly status: number;
  readonly headers: ResponseHeaders;
  /** The first bytes of the response body, decoded as UTF-8 (at most a few KiB). */
  readonly body: string;

  constructor(
    status: number,
    headers: ResponseHeaders,
    body: string,
    options: LifelineErrorOptions & { service?: string } = {},
  ) {
    const who = options.service === undefined ? 'server' : options.service;
    super('HTTP_STATUS', `${who} answered ${status}`, options);
    this.status = status;
    this.headers = headers;
    this.body = body;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), status: this.status, body: this.body };
  }
}
