import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { StoredResponse } from './store.ts';

/**
 * Response headers never replayed: hop-by-hop headers (RFC 9110 §7.6.1) describe one
 * connection, `set-cookie` would hand one caller's session to whoever replays, `x-request-id`
 * belongs to the request being answered, and `date` is written fresh by Node.
 */
const NOT_REPLAYED = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'set-cookie',
  'x-request-id',
  'date',
]);

/** @internal The headers of a response as they are stored for replay. */
export function replayableHeaders(headers: OutgoingHttpHeaders): Record<string, string | string[]> {
  const kept: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || NOT_REPLAYED.has(name)) continue;
    kept[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return kept;
}

/** @internal What a claim reports to its owner when the handler's response is known. */
export interface ClaimOwner {
  complete(claim: Claim, response: StoredResponse): void;
  release(claim: Claim): void;
}

type Write = (this: ServerResponse, chunk: unknown, encoding?: unknown, callback?: unknown) => boolean;
type End = (this: ServerResponse, chunk?: unknown, encoding?: unknown, callback?: unknown) => ServerResponse;
type WriteHead = (this: ServerResponse, status: number, reason?: unknown, headers?: unknown) => ServerResponse;

/** Headers as `writeHead()` takes them (an object, `[name, value]` pairs, or a flat list), by lower-case name. */
function headHeaders(headers: unknown): OutgoingHttpHeaders {
  const found: OutgoingHttpHeaders = {};
  if (Array.isArray(headers)) {
    if (Array.isArray(headers[0])) for (const [name, value] of headers as [string, string][]) found[String(name).toLowerCase()] = value;
    else for (let i = 0; i + 1 < headers.length; i += 2) found[String(headers[i]).toLowerCase()] = headers[i + 1] as string;
  } else if (headers !== null && typeof headers === 'object') {
    for (const name in headers) found[name.toLowerCase()] = (headers as OutgoingHttpHeaders)[name];
  }
  return found;
}

function toBuffer(chunk: unknown, encoding: unknown): Buffer | undefined {
  if (typeof chunk === 'string') return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return undefined;
}

/**
 * One request's claim on an Idempotency-Key: it records the response the handler writes and
 * hands it to the store **when the handler calls `res.end()`**, before the last bytes are
 * passed to the socket, not when the socket reports them sent. A response lost on the wire
 * after the handler ran (connection reset, client timeout) is therefore still stored, and the
 * client's retry gets the replay instead of running the handler a second time. With the
 * memory and SQLite stores the write is synchronous, so the stored response exists before
 * any byte of the end of the response leaves the process.
 *
 * A 5xx response, or a handler that throws ({@link Claim.fail}), releases the key instead: the
 * work did not complete, and a retry must be able to run it again.
 *
 * @internal Made by the idempotency guard; adapters call `capture` and `fail`.
 */
export class Claim {
  readonly scope: string;
  readonly key: string;
  readonly token: string;
  readonly #owner: ClaimOwner;
  #chunks: Buffer[] = [];
  #settled = false;
  /** Headers given to `writeHead()`: Node keeps them out of `getHeaders()` when none were set before. */
  #head: OutgoingHttpHeaders | undefined;

  constructor(owner: ClaimOwner, scope: string, key: string, token: string) {
    this.#owner = owner;
    this.scope = scope;
    this.key = key;
    this.token = token;
  }

  /** Records what the handler writes on `res`, and settles the claim at `res.end()`. */
  capture(res: ServerResponse): void {
    // The methods in place now (a compression middleware may have wrapped them), restored at end().
    const write = Reflect.get(res, 'write') as Write;
    const end = Reflect.get(res, 'end') as End;
    const writeHead = Reflect.get(res, 'writeHead') as WriteHead;
    const heading: WriteHead = (status, reason, headers) => {
      const given = typeof reason === 'string' ? headers : reason;
      if (given !== undefined) this.#head = { ...this.#head, ...headHeaders(given) };
      return writeHead.call(res, status, reason, headers);
    };
    const capturing: Write = (chunk, encoding, callback) => {
      this.#collect(chunk, encoding);
      return write.call(res, chunk, encoding, callback);
    };
    const ending: End = (chunk, encoding, callback) => {
      Reflect.set(res, 'write', write);
      Reflect.set(res, 'end', end);
      Reflect.set(res, 'writeHead', writeHead);
      if (typeof chunk !== 'function') this.#collect(chunk, encoding);
      this.#settle(res);
      return end.call(res, chunk, encoding, callback);
    };
    Reflect.set(res, 'write', capturing);
    Reflect.set(res, 'end', ending);
    Reflect.set(res, 'writeHead', heading);
  }

  /** The handler failed: the key is released now, and nothing written later is stored. */
  fail(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#chunks = [];
    this.#owner.release(this);
  }

  #collect(chunk: unknown, encoding: unknown): void {
    if (this.#settled) return;
    const buffer = toBuffer(chunk, encoding);
    if (buffer !== undefined && buffer.byteLength > 0) this.#chunks.push(Buffer.from(buffer));
  }

  #settle(res: ServerResponse): void {
    if (this.#settled) return;
    this.#settled = true;
    const status = res.statusCode;
    if (status >= 500) {
      this.#chunks = [];
      this.#owner.release(this);
      return;
    }
    const body = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    this.#chunks = [];
    const headers = this.#head === undefined ? res.getHeaders() : { ...res.getHeaders(), ...this.#head };
    this.#owner.complete(this, { status, headers: replayableHeaders(headers), body });
  }
}
