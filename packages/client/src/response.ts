import type { Dispatcher } from 'undici';
import { ResponseBody } from './response-body.ts';

/** Response headers: lower-case names, repeated headers as arrays. */
export type Headers = Record<string, string | string[] | undefined>;

/**
 * What a call answered: status, headers and a body to read once.
 *
 * @example
 * const res = await client.get('/orders/42');
 * if (res.status === 200) console.log(await res.body.json());
 */
export class LifelineResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: Headers;
  readonly body: ResponseBody;
  /** Attempts the call took (1 when the first one answered). */
  attempts = 1;

  /** @internal */
  constructor(status: number, statusText: string, headers: Headers, body: ResponseBody) {
    this.status = status;
    this.statusText = statusText;
    this.headers = headers;
    this.body = body;
  }

  /** True for a 2xx status. */
  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }
}

/**
 * The client's downstream handler: turns the call's single outcome into a promise of a
 * response (at headers) and feeds the body.
 *
 * @internal
 */
export class ResponseCollector implements Dispatcher.DispatchHandler {
  readonly promise: Promise<LifelineResponse>;
  #resolve!: (response: LifelineResponse) => void;
  #reject!: (error: unknown) => void;
  #body: ResponseBody | null = null;

  constructor() {
    this.promise = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: Headers, statusText?: string): void {
    const body = new ResponseBody(controller);
    this.#body = body;
    const response = new LifelineResponse(status, statusText ?? '', headers, body);
    // The pipeline's controller knows how many attempts the call took.
    response.attempts = (controller as { attempts?: number }).attempts ?? 1;
    this.#resolve(response);
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#body!.push(chunk);
  }

  onResponseEnd(): void {
    this.#body!.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#body === null) this.#reject(error);
    else this.#body.fail(error);
  }
}
