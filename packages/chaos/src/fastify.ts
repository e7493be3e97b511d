// `@lifeline/chaos/fastify`: the Fastify plugin, apart from the main entry so that a service
// without Fastify never loads it (install `fastify` to use it).
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { checkOptionNames } from '@lifeline/core';
import { answerAdmin, MAX_ADMIN_BODY } from './admin.ts';
import { Chaos } from './chaos.ts';
import { adminTarget, hang, pathOf } from './faults.ts';
import { loseResponse } from './lose-response.ts';
import { faultAnswer } from './problem.ts';

/** Options of {@link chaosPlugin}. */
export interface ChaosFastifyOptions {
  /** The chaos instance whose rules apply (`createChaos(…)`). */
  chaos: Chaos;
  /** Registers the admin routes at `chaos.adminPath`. Default `true`. */
  admin?: boolean;
}

// Fastify's own register options are allowed too: they mean nothing to a plugin that applies to the whole app.
const PLUGIN_OPTIONS = ['chaos', 'admin', 'prefix', 'logLevel', 'logSerializers'];

function send(reply: FastifyReply, answer: { status: number; headers: Record<string, string>; body: string }): FastifyReply {
  // A Buffer, so that Fastify sends the content-type as it is (it adds a charset to strings).
  return reply.code(answer.status).headers(answer.headers).send(Buffer.from(answer.body));
}

async function registerAdmin(fastify: FastifyInstance, chaos: Chaos): Promise<void> {
  // In a child context of its own, so that its body parser (the raw text, validated by the
  // admin code into a CHAOS_INVALID problem) does not replace the application's.
  await fastify.register(function chaosAdmin(admin, _options, done) {
    admin.removeAllContentTypeParsers();
    admin.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_ADMIN_BODY }, (_request, body, done) => done(null, body));
    const handle = (request: FastifyRequest<{ Params: { id?: string } }>, reply: FastifyReply): FastifyReply => {
      if (!chaos.enabled) return reply.callNotFound() as unknown as FastifyReply;
      const body = typeof request.body === 'string' ? request.body : undefined;
      return send(reply, answerAdmin(chaos, request.method, request.params.id, body));
    };
    const path = chaos.adminPath;
    admin.get(path, handle);
    admin.put(path, handle);
    admin.post(path, handle);
    admin.delete(path, handle);
    admin.delete(`${path}/:id`, handle);
    done();
  });
}

async function plugin(fastify: FastifyInstance, options: ChaosFastifyOptions): Promise<void> {
  const chaos = options?.chaos;
  if (!(chaos instanceof Chaos)) {
    throw new TypeError(`lifeline: the chaos Fastify plugin needs option \`chaos\` (from createChaos()), got ${typeof chaos}`);
  }
  checkOptionNames('chaosPlugin', options, PLUGIN_OPTIONS);
  if (options.admin !== undefined && typeof options.admin !== 'boolean') {
    throw new TypeError(`lifeline: option \`chaosPlugin.admin\` must be true or false, got ${typeof options.admin}`);
  }
  const adminPath = chaos.adminPath;

  // onRequest, before the body is read: an error, reset or hang never costs the body parse,
  // and a latency delays the request while it holds its place in any limiter registered
  // earlier (the Lifeline plugin's), as a slow server would.
  const onRequest: onRequestHookHandler = function chaosOnRequest(request, reply, done) {
    if (!chaos.enabled) return done();
    const req = request.raw;
    const path = pathOf(req.url);
    if (adminTarget(adminPath, path) !== undefined) return done();
    const picked = chaos.pick(req.method ?? 'GET', path, request.routeOptions.url);
    if (picked === undefined) return done();
    const fault = picked.fault;
    switch (fault.type) {
      case 'latency':
        setTimeout(done, chaos.delayFor(fault)).unref();
        return;
      case 'error':
        void send(reply, faultAnswer(picked.rule.id!, fault.status, fault.retryAfterMs));
        return;
      case 'reset':
        void reply.hijack();
        req.socket.destroy();
        return;
      case 'hang':
        void reply.hijack();
        hang(req, chaos.hangMs);
        return;
      case 'lose-response':
        loseResponse(reply.raw);
        return done();
    }
  };
  fastify.addHook('onRequest', onRequest);
  if (options.admin !== false) await registerAdmin(fastify, chaos);
}

// What fastify-plugin does: the hook applies to the whole application, not to an
// encapsulated child context.
Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@lifeline/chaos',
  [Symbol.for('plugin-meta')]: { name: '@lifeline/chaos', fastify: '5.x' },
});

/**
 * Fault injection for a Fastify application. An `onRequest` hook offers every request to
 * `chaos.pick` — the rule's path may match the URL path (`/users/42`) or the route pattern
 * (`/users/:id`) — and applies the fault; the admin routes (`GET`/`PUT`/`POST`/`DELETE`
 * `adminPath`, `DELETE adminPath/:id`) are registered unless `admin: false`, and answer 404
 * while chaos is disabled. Register it after `@lifeline/server/fastify`'s plugin, so that a
 * delayed request holds its place in the server's concurrency limit and a lost response is
 * still stored for Idempotency-Key replay.
 *
 * @example
 * const chaos = createChaos({ enabled: process.env.CHAOS === '1', seed: 7 });
 * const app = Fastify();
 * await app.register(lifelinePlugin, { lifeline });
 * await app.register(chaosPlugin, { chaos });
 * // curl -X POST localhost:8080/admin/chaos -H 'content-type: application/json' \
 * //   -d '{"method":"POST","path":"/charges","percent":50,"fault":{"type":"lose-response"}}'
 */
export const chaosPlugin: FastifyPluginAsync<ChaosFastifyOptions> = plugin;
