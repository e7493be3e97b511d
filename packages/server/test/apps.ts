import type { IncomingMessage } from 'node:http';
import express from 'express';
import Fastify, { type FastifyServerOptions } from 'fastify';
import { lifelineErrorHandler, lifelineMiddleware } from '../src/express.ts';
import { lifelinePlugin } from '../src/fastify.ts';
import { createLifeline, type Lifeline, type LifelineOptions } from '../src/index.ts';
import { closeServer, listen, startServer } from './helpers.ts';

/** What a test route does: answer a JSON value, or throw. It sees the raw Node request. */
export type Route = (req: IncomingMessage) => unknown;

export interface App {
  url: string;
  lifeline: Lifeline;
  close: () => Promise<void>;
}

/** Options of an app: the Lifeline's, and Fastify's own for the Fastify one. */
export interface AppOptions {
  lifeline?: LifelineOptions;
  fastify?: FastifyServerOptions;
}

/**
 * The same route served by each adapter the way an adopter wires it: `lifeline.handler()` on
 * node:http, the plugin on Fastify, the middleware and error handler on Express. Every path
 * goes to `route`.
 */
export const adapters: Record<'node:http' | 'fastify' | 'express', (route: Route, options?: AppOptions) => Promise<App>> = {
  'node:http': async (route, options = {}) => {
    const lifeline = createLifeline({ shedding: false, ...options.lifeline });
    const { url, close } = await startServer(
      lifeline.handler(async (req, res) => {
        const value = await route(req);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      }),
    );
    return { url, lifeline, close };
  },
  fastify: async (route, options = {}) => {
    const lifeline = createLifeline({ shedding: false, ...options.lifeline });
    const app = Fastify(options.fastify);
    await app.register(lifelinePlugin, { lifeline });
    app.all('/*', (request) => Promise.resolve().then(() => route(request.raw)));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return { url, lifeline, close: () => app.close() };
  },
  express: async (route, options = {}) => {
    const lifeline = createLifeline({ shedding: false, ...options.lifeline });
    const app = express();
    app.use(lifelineMiddleware(lifeline));
    app.all('/{*path}', async (req, res) => {
      res.json(await route(req));
    });
    app.use(lifelineErrorHandler(lifeline));
    const server = app.listen(0, '127.0.0.1');
    const url = await listen(server);
    return { url, lifeline, close: () => closeServer(server) };
  },
};
