/**
 * The largest request body of known length that is read into memory once so that a retry
 * can send it again. A larger one is streamed as it comes and never retried.
 */
const MAX_REPLAY_BYTES = 1024 * 1024;

/** A request body that can be sent again as it is (a stream can be read only once). @internal */
export function isReplayable(body: unknown): boolean {
  return body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
}

/**
 * The length of a body that fetch() handed over and that can be made replayable, else -1;
 * `declared` is the request's `content-length` header.
 *
 * fetch() gives every body to the dispatcher as an async generator over the body's stream,
 * whatever it was made from. For a string, bytes, `URLSearchParams`, `Blob` or `FormData`
 * without streams, fetch knows the length and sends it as `content-length`; a
 * `ReadableStream` has none and goes chunked. So a generator with a `content-length` is a
 * known source: read once into memory (up to {@link MAX_REPLAY_BYTES}), it can be sent again.
 * A stream you give a `content-length` yourself counts as one of known length too.
 *
 * @internal
 */
export function replayableLength(given: unknown, declared: string | undefined): number {
  const body = given as { [Symbol.toStringTag]?: unknown } | null | undefined;
  if (typeof body !== 'object' || body === null || body[Symbol.toStringTag] !== 'AsyncGenerator') return -1;
  if (declared === undefined || !/^\d{1,8}$/.test(declared)) return -1;
  const length = Number(declared);
  return length <= MAX_REPLAY_BYTES ? length : -1;
}

/**
 * Reads a body of declared `length` into one buffer. Rejects when the body holds more or
 * fewer bytes than declared: sending it would fail anyway, and a retry must not send a
 * different body.
 *
 * @internal
 */
export async function readBody(body: AsyncIterable<Uint8Array | string>, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    total += bytes.length;
    if (total > length) break;
    chunks.push(bytes);
  }
  if (total !== length) throw new RangeError(`lifeline: the request body has ${total > length ? 'more' : 'fewer'} bytes than its content-length ${length}`);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}
