import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';

/** Bytes buffered before anyone reads the body; past this the connection is paused. */
const HIGH_WATER = 1024 * 1024;

/**
 * A response body, read once: as JSON, text, bytes or a Node stream. Chunks are kept in
 * memory only until a reader takes them; a body nobody reads pauses its connection after
 * 1 MiB and is finally ended by the call's deadline. No stream object exists unless
 * `stream()` asks for one, which keeps the common `await res.body.json()` path cheap.
 *
 * @example
 * const res = await client.get('/users/1');
 * const user = await res.body.json<User>();
 */
export class ResponseBody {
  #controller: Dispatcher.DispatchController;
  #chunks: Buffer[] = [];
  #length = 0;
  #ended = false;
  #error: Error | null = null;
  #used = false;
  #waiter: { resolve: (body: Buffer) => void; reject: (error: unknown) => void } | null = null;
  #stream: Readable | null = null;
  /** While an excerpt is read: the bytes that satisfy it. */
  #excerptLimit = Infinity;
  /** Set by dump(): chunks are dropped as they come. */
  #discard = false;

  /** @internal */
  constructor(controller: Dispatcher.DispatchController) {
    this.#controller = controller;
  }

  /** True once a reader has been attached. */
  get bodyUsed(): boolean {
    return this.#used;
  }

  /** Reads the whole body as UTF-8 text. */
  async text(): Promise<string> {
    return (await this.#consume()).toString('utf8');
  }

  /** Reads the whole body and parses it as JSON. */
  async json<T = unknown>(): Promise<T> {
    return JSON.parse(await this.text()) as T;
  }

  /** Reads the whole body as bytes. */
  async bytes(): Promise<Uint8Array> {
    return new Uint8Array(await this.#consume());
  }

  /** Reads at most `limit` bytes (decoded as UTF-8), then drops the rest of the body. */
  async excerpt(limit = 4_096): Promise<string> {
    this.#take();
    const body = await new Promise<Buffer>((resolve, reject) => {
      if (this.#error !== null) return reject(this.#error);
      if (this.#ended || this.#length >= limit) return resolve(Buffer.concat(this.#chunks, this.#length));
      this.#waiter = { resolve, reject };
      this.#excerptLimit = limit;
      this.#controller.resume();
    });
    if (!this.#ended && this.#error === null) this.#controller.abort(new Error('response body excerpt taken; rest discarded'));
    return body.subarray(0, limit).toString('utf8');
  }

  /** Discards the body, letting its connection be reused. */
  async dump(): Promise<void> {
    try {
      await this.#consume(true);
    } catch {
      // A body that fails while being discarded has nothing left to lose.
    }
  }

  /** The body as a Node Readable, with backpressure on the connection. */
  stream(): Readable {
    this.#take();
    const stream = new Readable({ read: () => this.#controller.resume() });
    this.#stream = stream;
    for (const chunk of this.#chunks) stream.push(chunk);
    this.#chunks = [];
    this.#length = 0;
    if (this.#error !== null) stream.destroy(this.#error);
    else if (this.#ended) stream.push(null);
    return stream;
  }

  /** @internal */
  push(chunk: Buffer): void {
    if (this.#discard) return;
    const stream = this.#stream;
    if (stream !== null) {
      if (!stream.push(chunk)) this.#controller.pause();
      return;
    }
    this.#chunks.push(chunk);
    this.#length += chunk.length;
    if (this.#waiter === null) {
      if (this.#length > HIGH_WATER) this.#controller.pause();
    } else if (this.#length >= this.#excerptLimit) {
      const waiter = this.#waiter;
      this.#waiter = null;
      waiter.resolve(Buffer.concat(this.#chunks, this.#length));
    }
  }

  /** @internal */
  end(): void {
    this.#ended = true;
    if (this.#stream !== null) {
      this.#stream.push(null);
      return;
    }
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      const chunks = this.#chunks;
      waiter.resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.#length));
    }
  }

  /** @internal */
  fail(error: Error): void {
    this.#error = error;
    if (this.#stream !== null) {
      this.#stream.destroy(error);
      return;
    }
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      waiter.reject(error);
    }
  }

  #take(): void {
    if (this.#used) throw new TypeError('lifeline: the response body was already read');
    this.#used = true;
  }

  #consume(discard = false): Promise<Buffer> {
    this.#take();
    if (discard) {
      this.#discard = true;
      this.#chunks = [];
      this.#length = 0;
    }
    if (this.#error !== null) return Promise.reject(this.#error);
    if (this.#ended) {
      const chunks = this.#chunks;
      return Promise.resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.#length));
    }
    const { promise, resolve, reject } = Promise.withResolvers<Buffer>();
    this.#waiter = { resolve, reject };
    this.#controller.resume();
    return promise;
  }
}
