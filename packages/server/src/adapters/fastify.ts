import { checkOptionNames, isLifelineError, optionNames } from '@lifeline/core';
import { runWithRequestContext, type RequestContext } from '@lifeline/trace';
import type {
  DoneFuncWithErrOrRes,
  FastifyError,
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  onErrorHookHandler,
  preHandlerAsyncHookHandler,
  RegisterOptions,
  RouteOptions,
} from 'fastify';
import type { Adapter } from '../engine.ts';
import { reportFailure } from '../failure-report.ts';
import type { HealthResponse } from '../health.ts';
import type { IdempotencyGuard, IdempotencyOptions } from '../idempotency/guard.ts';
import type { StoredResponse } from '../idempotency/store.ts';
import type { InboundRequest } from '../inbound-request.ts';
import { Lifeline, lifelineEngine } from '../lifeline.ts';
import { problemFor } from '../problem.ts';
import { healthBody } from '../respond.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's Lifeline context: id, deadline, signal, attempt, trace. Set for every request but the health probes. */
    lifeline: RequestContext;
  }
  interface FastifyInstance {
    /** The Lifeline the plugin was registered with. */
    lifeline: Lifeline;
  }
  interface FastifyContextConfig {
    /** Opts the route into Idempotency-Key handling (`true` for the Lifeline's defaults). */
    idempotency?: IdempotencyOptions<FastifyRequest> | true;
  }
}

/** Options of {@link lifelinePlugin}. */
export interface LifelineFastifyOptions {
  /** The Lifeline to serve requests with (`createLifeline(…)`). */
  lifeline: Lifeline;
  /**
   * Installs {@link lifelineErrorHandler} as the root error handler: Lifeline errors and
   * unexpected 5xx errors become problem responses; client errors (4xx: validation, not
   * found) are left to Fastify's own handler. Default `true`; set `false` when you have your
   * own and call `lifelineErrorHandler` from it.
   */
  errorHandler?: boolean;
  /** Registers `fastify.server` with the Lifeline, so its shutdown stops and drains it. Default `true`. */
  attach?: boolean;
}

// Fastify's own register() options come in the same object.
const PLUGIN_OPTIONS: readonly string[] = [
  ...optionNames<LifelineFastifyOptions>({ lifeline: true, errorHandler: true, attach: true }),
  ...optionNames<RegisterOptions>({ prefix: true, logLevel: true, logSerializers: true }),
];

function send(reply: FastifyReply, response: StoredResponse): FastifyReply {
  const { body } = response;
  return reply
    .code(response.status)
    .headers(response.headers)
    .send(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
}

function sendHealth(reply: FastifyReply, health: HealthResponse): void {
  void reply
    .code(health.status)
    .header('content-type', 'application/health+json')
    .header('cache-control', 'no-store')
    .send(Buffer.from(healthBody(health)));
}

/**
 * The Fastify adapter. The rest of the lifecycle (body parsing, preHandler, handler) runs inside
 * the request's context: Fastify binds its body parser's callbacks to the async context it was
 * started in.
 */
const FASTIFY: Adapter<FastifyReply, DoneFuncWithErrOrRes> = {
  run(inbound, reply, next) {
    reply.request.lifeline = inbound;
    runWithRequestContext<[], void>(inbound, next);
  },
  refuse(inbound, response, reply) {
    reply.request.lifeline = inbound;
    send(reply, response);
  },
  health(answer, reply) {
    sendHealth(reply, answer);
  },
  route: (reply) => reply.request.routeOptions.url,
  header(name, value, reply) {
    reply.header(name, value);
  },
};

/**
 * The Fastify error handler of Lifeline: a Lifeline error, or any error with a 5xx status,
 * is answered with its RFC 9457 problem response (see `problemFor`: 503 + Retry-After for an
 * open circuit, 504 for a deadline, 502 for a failed dependency; 500 without the message
 * otherwise), and an unexpected one is logged. A client error (4xx) is thrown on to Fastify's
 * default handler, which answers it as usual.
 *
 * @example
 * app.setErrorHandler((error, request, reply) => {
 *   if (error instanceof MyDomainError) return reply.code(409).send({ message: error.message });
 *   return lifelineErrorHandler(error, request, reply);
 * });
 */
export function lifelineErrorHandler(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const status = (error as FastifyError).statusCode;
  if (!isLifelineError(error) && typeof status === 'number' && status < 500) throw error;
  const inbound = request.lifeline as InboundRequest | null;
  const problem = problemFor(error, inbound?.requestId);
  // Fastify's logger when it logs (a disabled one has no level), else the Lifeline's, else stderr.
  const requestLog = typeof request.log.level === 'string' ? request.log : undefined;
  const lifeline = (request.server as Partial<FastifyInstance>).lifeline;
  if (lifeline !== undefined) lifelineEngine('lifelineErrorHandler()', lifeline).reportError(error, inbound ?? undefined, problem, requestLog);
  else reportFailure(error, problem, inbound?.requestId, inbound?.span, requestLog);
  // A Buffer, so that Fastify sends the content-type as it is (it adds a charset to strings).
  return reply.code(problem.status).headers(problem.headers).send(Buffer.from(JSON.stringify(problem.body)));
}

function idempotencyHook(guard: IdempotencyGuard<FastifyRequest>): preHandlerAsyncHookHandler {
  return async function lifelineIdempotency(request, reply) {
    const inbound = request.lifeline as InboundRequest | null;
    const decision = await guard.check({
      method: request.method,
      url: request.url,
      headers: request.headers,
      body: request.body,
      scope: guard.scopeOf(request),
      requestId: inbound?.requestId,
    });
    if (decision.response !== undefined) return send(reply, decision.response);
    if (decision.claim !== undefined) {
      decision.claim.capture(reply.raw);
      if (inbound !== null) inbound.claim = decision.claim;
    }
  };
}

function plugin(fastify: FastifyInstance, options: LifelineFastifyOptions, done: (error?: Error) => void): void {
  const lifeline = options?.lifeline;
  if (!(lifeline instanceof Lifeline)) {
    done(new TypeError('lifeline: the Fastify plugin needs option `lifeline` (from createLifeline()), got ' + typeof lifeline));
    return;
  }
  const engine = lifelineEngine('the Fastify plugin', lifeline);
  try {
    checkOptionNames('', options, PLUGIN_OPTIONS);
    for (const name of ['errorHandler', 'attach'] as const) {
      const value: unknown = options[name];
      if (value !== undefined && typeof value !== 'boolean') {
        throw new TypeError(`lifeline: option \`${name}\` of the Fastify plugin must be a boolean, got ${typeof value}`);
      }
    }
  } catch (error) {
    done(error as Error);
    return;
  }
  fastify.decorate('lifeline', lifeline);
  fastify.decorateRequest('lifeline', null as unknown as RequestContext);
  if (options.attach !== false) lifeline.attach(fastify.server);

  fastify.addHook('onRequest', function lifelineOnRequest(request, reply, next) {
    engine.enter(request.raw, reply.raw, FASTIFY, reply, next);
  });

  const onError: onErrorHookHandler = function lifelineOnError(request, _reply, _error, next) {
    // The handler failed: its Idempotency-Key is released, so a retry runs again.
    (request.lifeline as InboundRequest | null)?.claim?.fail();
    next();
  };

  fastify.addHook('onError', onError);
  fastify.addHook('onRoute', (route: RouteOptions) => {
    const idempotency = route.config?.idempotency;
    if (idempotency === undefined || (idempotency as unknown) === false) return;
    // Resolved once per route; bad options throw when the route is declared.
    const hook = idempotencyHook(engine.guard<FastifyRequest>(idempotency));
    const existing = route.preHandler === undefined ? [] : Array.isArray(route.preHandler) ? route.preHandler : [route.preHandler];
    // Last, after the route's own preHandlers (authentication usually), so that `scope` can use their result.
    route.preHandler = [...existing, hook];
  });
  if (options.errorHandler !== false) fastify.setErrorHandler(lifelineErrorHandler);
  done();
}

// What fastify-plugin does: the hooks, decorators and error handler apply to the whole
// application, not to an encapsulated child context.
Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@lifeline/server',
  [Symbol.for('plugin-meta')]: { name: '@lifeline/server', fastify: '5.x' },
});

/**
 * The Fastify plugin of Lifeline. Every request gets its context (`request.lifeline`, and
 * `currentRequestContext()` anywhere in the handler, awaits included) and passes the
 * concurrency limit in `onRequest`, before its body is read; the health probes are answered
 * there too. A route opts into Idempotency-Key handling with `config: { idempotency }`. The
 * plugin also registers `fastify.server` for the Lifeline's graceful shutdown.
 *
 * @example
 * const lifeline = createLifeline({ timeout: 10_000 });
 * const app = Fastify();
 * await app.register(lifelinePlugin, { lifeline });
 * app.post('/charges', { config: { idempotency: { required: true } } }, async (request, reply) => {
 *   return reply.code(201).send(await charges.create(request.body, { signal: request.lifeline.signal }));
 * });
 * lifeline.installSignalHandlers();
 * await app.listen({ port: 8080 });
 */
export const lifelinePlugin: FastifyPluginCallback<LifelineFastifyOptions> = plugin;
