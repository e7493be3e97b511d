import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { Agent, request, type Dispatcher } from 'undici';

/** A node:http server on a free loopback port; `sockets` resolves each connection's close. */
export async function startServer(listener: RequestListener): Promise<{ server: Server; url: string; closes: Promise<void>[] }> {
  const server = createServer(listener);
  const closes: Promise<void>[] = [];
  server.on('connection', (socket) => closes.push(new Promise((resolve) => socket.once('close', () => resolve()))));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, closes };
}

/** Closes a server and every connection it still has. */
export async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = once(server, 'close');
  server.close();
  server.closeAllConnections();
  await closed;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One undici request through `dispatcher` (a fresh Agent by default), read in full; bounded by a timeout. */
export async function send(
  url: string,
  options: { method?: Dispatcher.HttpMethod; body?: string; headers?: Record<string, string>; dispatcher?: Dispatcher; signal?: AbortSignal } = {},
): Promise<Reply> {
  const own = options.dispatcher === undefined ? new Agent() : undefined;
  try {
    const res = await request(url, {
      method: options.method ?? 'GET',
      body: options.body,
      headers: options.body !== undefined ? { 'content-type': 'application/json', ...options.headers } : options.headers,
      dispatcher: options.dispatcher ?? own,
      signal: options.signal ?? AbortSignal.timeout(10_000),
    });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  } finally {
    await own?.close();
  }
}

/** The error a request fails with (or an Error saying that it did not fail). */
export async function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  return new Error('the request did not fail');
}

/** Sends a request on a raw connection and returns every byte that came back before the server closed it. */
export async function rawExchange(url: string, head: string, body = ''): Promise<string> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  let data = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (data += chunk));
  socket.on('error', () => {});
  const closed = once(socket, 'close');
  socket.write(`${head}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  await closed;
  return data;
}

/** Resolves when `condition` holds, checking on each turn of the event loop; fails after `ms`. */
export async function waitFor(condition: () => boolean, ms = 5_000, what = 'the condition'): Promise<void> {
  const until = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
