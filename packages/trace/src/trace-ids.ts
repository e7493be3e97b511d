import { randomFillSync } from 'node:crypto';

/**
 * Why a pool: a trace id or a span id is drawn per request and per outgoing attempt when no
 * SDK is registered, so the draw sits on the request path. One `randomFillSync` of 8 KiB from
 * the operating system's CSPRNG serves 1,024 span ids (or 512 trace ids), and an id is then
 * one hex encoding of 8 or 16 bytes of it — no `randomUUID()` or `randomBytes()` per id. Every
 * byte is used once. Unlike the request id's counter (`newRequestId`), every bit is random:
 * a trace id sent with the W3C random flag must be, and the specification asks for random
 * span ids too.
 */
const POOL_BYTES = 8192;
const pool = Buffer.allocUnsafeSlow(POOL_BYTES);
let offset = POOL_BYTES;

const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

function draw(bytes: number): string {
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return id;
}

/**
 * A new W3C trace id: 16 random bytes as 32 lowercase hex digits, never all zeros (the one
 * invalid value, drawn again in the 2^-128 case). Every byte is random, so a `traceparent`
 * carrying it may set the Level 2 random-trace-id flag.
 *
 * @example
 * newTraceId(); // '4bf92f3577b34da6a3ce929d0e0e4736'
 */
export function newTraceId(): string {
  let id = draw(16);
  while (id === ZERO_TRACE_ID) id = draw(16);
  return id;
}

/**
 * A new W3C span id (the `parent-id` of an outgoing request): 8 random bytes as 16 lowercase
 * hex digits, never all zeros.
 *
 * @example
 * newSpanId(); // '00f067aa0ba902b7'
 */
export function newSpanId(): string {
  let id = draw(8);
  while (id === ZERO_SPAN_ID) id = draw(8);
  return id;
}
