import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface TestServer {
  url: string;
  port: number;
  /** Every request the server received, in order — but discovery's health checks (`GET /health/ready`). */
  seen: Seen[];
  /** Discovery's health checks the server received (`GET /health/ready`, while a breaker of it was open). */
  healthChecks: () => number;
  /** Connections accepted so far. */
  connections: () => number;
  close: () => Promise<void>;
}

/**
 * A real HTTP server on 127.0.0.1, port 0, for one test. The handler gets the request
 * number (1-based) so it can misbehave on purpose for the first N.
 */
export async function startServer(
  handler: (req: IncomingMessage, res: ServerResponse, n: number) => void,
): Promise<TestServer> {
  const seen: Seen[] = [];
  let healthChecks = 0;
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      // Discovery checks an open endpoint's health route in the background: not a call of the test's.
      if (req.method === 'GET' && req.url === '/health/ready') healthChecks++;
      else seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
      handler(req, res, seen.length);
    });
  });
  server.on('connection', (socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    healthChecks: () => healthChecks,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Fast, deterministic backoff for tests: 5 ms. */
export const quickBackoff = { next: (): number => 5 };

/** The rejection of `promise`; fails the test if it resolves instead. */
export function catchError(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

/**
 * Runs `call` `total` times, `concurrency` at a time, and returns how many times it
 * answered `true` (a call that rejects counts as `false`).
 */
export async function countConcurrently(total: number, concurrency: number, call: () => Promise<boolean>): Promise<number> {
  let next = 0;
  let ok = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      next++;
      if (await call().catch(() => false)) ok++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return ok;
}
