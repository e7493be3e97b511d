import type { ServerResponse } from 'node:http';

type Write = (chunk: unknown, encoding?: unknown, callback?: unknown) => boolean;

/**
 * Makes one response "processed but lost": the handler runs and ends its response as usual —
 * whatever wraps `res.write`/`res.end` (an idempotency store capturing the response) sees it
 * all — but no byte of it reaches the client, and once it is finished the connection is
 * destroyed. The client sees the connection close with no answer, exactly as when a response
 * is lost on the wire after the work was done.
 *
 * Node writes a response through the socket's own `write` (`OutgoingMessage#_writeRaw` →
 * `conn.write`, also when it flushes buffered output or uncorks), so replacing `write` and
 * `end` on this socket instance catches every byte, headers included, before it enters the
 * socket's buffer. Write callbacks still run, so the response emits `finish` as if sent.
 * A client that pipelines loses the responses queued after this one on the same
 * connection too, as it would when a connection drops.
 *
 * @internal
 */
export function loseResponse(res: ServerResponse): void {
  const socket = res.socket;
  // A response queued behind another one on the same connection gets its socket later.
  if (socket === null) {
    res.once('socket', () => loseResponse(res));
    return;
  }
  const discard: Write = (_chunk, encoding, callback) => {
    const done = typeof encoding === 'function' ? encoding : callback;
    if (typeof done === 'function') process.nextTick(done);
    return true;
  };
  Reflect.set(socket, 'write', discard);
  Reflect.set(socket, 'end', () => socket.destroy());
  res.once('finish', () => socket.destroy());
}
