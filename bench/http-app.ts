// One server of the HTTP benchmark: `http-load.ts` starts a fresh one per run, pinned to a core
// of its own, and loads it with wrk from the other core.
//
//   node http-app.ts --variant node|node-lifeline|fastify|fastify-lifeline|express|express-lifeline
//                    --handler hello|1ms
//
// node:http, Fastify 5 or Express 5, bare or with @lifeline/server set up as its README shows
// (createLifeline() with its defaults). `GET /` answers `hello` at once, or after a 1 ms timer.
// It listens on 127.0.0.1, port 0, tells the parent its port over IPC, reports its CPU time
// and how many requests reached the handler when asked, and exits when the parent goes away.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import express from 'express';
import Fastify from 'fastify';
import { createLifeline } from '@lifeline/server';
import { lifelineErrorHandler, lifelineMiddleware } from '@lifeline/server/express';
import { lifelinePlugin } from '@lifeline/server/fastify';

export type AppMessage =
  | { type: 'listening'; port: number }
  | { type: 'usage'; id: number; cpuUs: number; requests: number; shed: number; inFlight: number };

export type DriverMessage = { type: 'usage'; id: number };

if (process.send === undefined) {
  console.error('bench/http-app.ts: run me through http-load.ts (I report to it over IPC)');
  process.exit(1);
}
const send = process.send.bind(process);
// The parent going away (normally or not) closes the IPC channel: stop at once.
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));

const { values } = parseArgs({ options: { variant: { type: 'string' }, handler: { type: 'string', default: 'hello' } } });
const variant = values.variant ?? '';
const framework = variant.replace(/-lifeline$/, '');
const withLifeline = framework !== variant;
const slow = values.handler === '1ms';
if (!['node', 'fastify', 'express'].includes(framework) || !['hello', '1ms'].includes(values.handler)) {
  console.error(`bench/http-app.ts: unknown --variant ${values.variant} or --handler ${values.handler}`);
  process.exit(64);
}

// Counted in the handler, the same in every variant: the driver divides the CPU by it.
let requests = 0;
// Signal handlers are left out of the setup: they are not on the request path, and the
// driver ends this process with SIGKILL.
const lifeline = withLifeline ? createLifeline() : undefined;

async function listen(): Promise<Server> {
  if (framework === 'fastify') {
    const app = Fastify();
    if (lifeline !== undefined) await app.register(lifelinePlugin, { lifeline });
    app.get(
      '/',
      slow
        ? async () => {
            requests++;
            await sleep(1);
            return 'hello';
          }
        : () => {
            requests++;
            return 'hello';
          },
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    return app.server;
  }
  if (framework === 'express') {
    const app = express();
    if (lifeline !== undefined) app.use(lifelineMiddleware(lifeline));
    app.get('/', (_req, res) => {
      requests++;
      if (slow) setTimeout(() => res.send('hello'), 1);
      else res.send('hello');
    });
    if (lifeline !== undefined) app.use(lifelineErrorHandler(lifeline));
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    lifeline?.attach(server);
    return server;
  }
  const listener = (_req: IncomingMessage, res: ServerResponse): void => {
    requests++;
    if (slow) setTimeout(() => res.end('hello'), 1);
    else res.end('hello');
  };
  const server = createServer(lifeline === undefined ? listener : lifeline.handler(listener));
  lifeline?.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

const server = await listen();
process.on('message', (message: DriverMessage) => {
  if (message.type !== 'usage') return;
  const { user, system } = process.cpuUsage();
  // Lifeline's own count of shed and unfinished requests: a response that never came shows here.
  const snapshot = lifeline?.snapshot();
  const shed = snapshot?.shedding === null || snapshot === undefined ? 0 : Object.values(snapshot.shedding.shed).reduce((a, b) => a + b, 0);
  const inFlight = snapshot?.requests.inFlight ?? 0;
  send({ type: 'usage', id: message.id, cpuUs: user + system, requests, shed, inFlight } satisfies AppMessage);
});
send({ type: 'listening', port: (server.address() as AddressInfo).port } satisfies AppMessage);
