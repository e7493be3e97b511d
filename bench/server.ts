// The load benchmark's server, in a process of its own so that its CPU is not counted
// against the client's. `load.ts` forks it; it listens on 127.0.0.1, on three ephemeral
// ports (three endpoints of one service for the discovery variant; the others use the
// first), and tells the parent the ports over IPC. It answers every request with the same small
// JSON body over keep-alive connections, reports its own CPU time when asked (so the
// benchmark can tell whether the server, not the client, was the bottleneck), and exits
// as soon as the parent disconnects — including when the parent dies.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ServerMessage =
  | { type: 'listening'; ports: number[] }
  | { type: 'cpu'; id: number; user: number; system: number; requests: number };

export type ParentMessage = { type: 'cpu'; id: number };

if (process.send === undefined) {
  console.error('bench/server.ts: run me through load.ts (I need an IPC channel to my parent)');
  process.exit(1);
}
const send = process.send.bind(process);

// ~100 bytes, the size of a small API answer; built once.
const BODY = Buffer.from(
  JSON.stringify({ id: 42, name: 'lifeline-bench', ok: true, items: [1, 2, 3], ts: '2025-01-01T00:00:00.000Z' }),
);
const HEADERS = { 'content-type': 'application/json', 'content-length': String(BODY.length) };

let requests = 0;
const handler = (req: IncomingMessage, res: ServerResponse): void => {
  requests++;
  // Drain any request body, then answer.
  req.resume();
  res.writeHead(200, HEADERS);
  res.end(BODY);
};

const servers = [0, 1, 2].map(() => {
  const server = createServer({ keepAlive: true }, handler);
  // Outlive the client's idle connections between runs (undici keeps them 4 s by default),
  // so no run starts by racing a server-side close.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.maxRequestsPerSocket = 0;
  return server;
});
const ports = await Promise.all(
  servers.map((server) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)))),
);
send({ type: 'listening', ports } satisfies ServerMessage);

process.on('message', (message: ParentMessage) => {
  if (message.type === 'cpu') {
    const { user, system } = process.cpuUsage();
    send({ type: 'cpu', id: message.id, user, system, requests } satisfies ServerMessage);
  }
});

// The parent going away (normally or not) closes the IPC channel: stop at once.
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
