import { LifelineError, type LifelineErrorOptions } from './errors.ts';

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
