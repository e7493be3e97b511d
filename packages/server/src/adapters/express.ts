import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { isLifelineError } from '@lifeline/core';
import { runWithRequestContext, type RequestContext } from '@lifeline/trace';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import type { Adapter } from '../engine.ts';
import type { HealthResponse } from '../health.ts';
import type { IdempotencyOptions } from '../idempotency/guard.ts';
import type { StoredResponse } from '../idempotency/store.ts';
import type { InboundRequest } from '../inbound-request.ts';
import { lifelineEngine, type Lifeline } from '../lifeline.ts';
import { problem, problemFor, problemToResponse, type ProblemResponse } from '../problem.ts';
import { sendHealth, sendResponse } from '../respond.ts';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Express's own way to extend its Request type.
  namespace Express {
    interface Request {
      /** The request's Lifeline context: id, deadline, signal, attempt, trace. Set by `lifelineMiddleware`. */
      lifeline: RequestContext;
    }
  }
}

/** The route template of a request Express has routed: the router's mount path and the route's path. */
function expressRoute(req: IncomingMessage): string | undefined {
  const routed = req as { route?: { path?: unknown }; baseUrl?: string };
  const path = routed.route?.path;
  return typeof path === 'string' ? `${routed.baseUrl ?? ''}${path}` : undefined;
}

/** The Express adapter: the rest of the chain runs in the request's context, after admission. */
const EXPRESS: Adapter<Request, NextFunction> = {
  run(inbound, req, next) {
    req.lifeline = inbound;
    runWithRequestContext<[], void>(inbound, next);
  },
  refuse(inbound, response: StoredResponse, req) {
    req.lifeline = inbound;
    sendResponse(req.res as ServerResponse, response);
  },
  health(answer: HealthResponse, req) {
    sendHealth(req.res as ServerResponse, answer, req.method === 'HEAD');
  },
  routeOf: expressRoute,
};

/**
 * The Express middleware of Lifeline; `app.use()` it first. Health probes are answered;
 * every other request gets its context (`req.lifeline`, and `currentRequestContext()` in
 * every later middleware and handler, awaits included) and passes the concurrency limit
 * before any later middleware runs.
 *
 * @example
 * const app = express();
 * app.use(lifelineMiddleware(lifeline));
 * app.get('/users/:id', async (req, res) => {
 *   res.json(await users.get(`/users/${req.params.id}`)); // inherits the deadline, the signal, the id and the trace
 * });
 * app.use(lifelineErrorHandler(lifeline));
 * lifeline.attach(app.listen(8080));
 */
export function lifelineMiddleware(lifeline: Lifeline): RequestHandler {
  const engine = lifelineEngine('lifelineMiddleware()', lifeline);
  return function lifelineContext(req: Request, res: Response, next: NextFunction) {
    engine.enter(req, res, EXPRESS, req, next);
  };
}

/** Whether a request carries a body (type-is's test: a transfer-encoding, or a non-zero content-length). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function unreadBody(): Error {
  return new Error(
    'lifeline: idempotent() got a request body that no body parser read (req.body is undefined), so two requests ' +
      'with the same Idempotency-Key and different bodies would look alike: put a body parser that accepts this ' +
      'content type (express.json(), express.text(), express.raw()) before idempotent() on this route',
  );
}

/**
 * Makes a route idempotent under the `Idempotency-Key` header. Put it after the body parser
 * (the body is part of the request's fingerprint) and after authentication (when `scope`
 * reads the caller from it). A keyed request whose body no parser read (none on the route, or
 * none for its content type) is refused as a server error, logged with what to fix: it cannot
 * be fingerprinted, and taking it as bodiless would replay one request's response to another.
 *
 * @example
 * app.post('/charges', express.json(), idempotent(lifeline, { required: true, scope: (req) => req.get('x-api-key') ?? '' }),
 *   async (req, res) => {
 *     res.status(201).json(await charges.create(req.body));
 *   });
 */
export function idempotent(lifeline: Lifeline, options: IdempotencyOptions<Request> | true = true): RequestHandler {
  const guard = lifelineEngine('idempotent()', lifeline).guard<Request>(options);
  return function lifelineIdempotency(req, res, next) {
    const inbound = req.lifeline as InboundRequest | undefined;
    if (req.body === undefined && req.headers['idempotency-key'] !== undefined && hasBody(req)) {
      next(unreadBody());
      return;
    }
    let scope: string;
    try {
      scope = guard.scopeOf(req);
    } catch (error) {
      next(error);
      return;
    }
    guard
      .check({ method: req.method, url: req.originalUrl, headers: req.headers, body: req.body, scope, requestId: inbound?.requestId })
      .then((decision) => {
        if (decision.response !== undefined) {
          sendResponse(res, decision.response);
          return;
        }
        if (decision.claim !== undefined) {
          decision.claim.capture(res);
          if (inbound !== undefined) inbound.claim = decision.claim;
        }
        next();
      }, next);
  };
}

/** A client error from a body parser or `http-errors`: its status, and whether its message is meant for the client. */
function clientError(error: unknown): { status: number; expose: boolean; message: string } | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const { status, statusCode, expose, message } = error as { status?: unknown; statusCode?: unknown; expose?: unknown; message?: unknown };
  const code = typeof status === 'number' ? status : statusCode;
  if (typeof code !== 'number' || code < 400 || code >= 500) return undefined;
  return { status: code, expose: expose === true, message: typeof message === 'string' ? message : '' };
}

/** The problem response of an error raised while handling an Express request. */
function expressProblem(error: unknown, requestId: string | undefined): ProblemResponse {
  const client = isLifelineError(error) ? undefined : clientError(error);
  if (client === undefined) return problemFor(error, requestId);
  const title = STATUS_CODES[client.status] ?? 'Client Error';
  const code = title.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
  return problem(client.status, code, title, client.expose && client.message !== '' ? client.message : title, { requestId });
}

/**
 * The Express error middleware of Lifeline; `app.use()` it last. Errors become RFC 9457
 * problem responses (see `problemFor`: 503 + Retry-After for an open circuit, 504 for a
 * deadline, 502 for a failed dependency, 500 without the message otherwise); a client error
 * with a 4xx `status` (a body parser's, `http-errors`') keeps its status, and its message when
 * it is marked `expose`. A failed handler releases its Idempotency-Key, so a retry runs again.
 *
 * @example
 * app.use(lifelineErrorHandler(lifeline));
 */
export function lifelineErrorHandler(lifeline: Lifeline): ErrorRequestHandler {
  const engine = lifelineEngine('lifelineErrorHandler()', lifeline);
  return function lifelineErrors(error: unknown, req, res, next) {
    const inbound = req.lifeline as InboundRequest | undefined;
    inbound?.claim?.fail();
    if (res.headersSent) {
      next(error);
      return;
    }
    const response = expressProblem(error, inbound?.requestId);
    engine.reportError(error, inbound, response);
    sendResponse(res, problemToResponse(response));
  };
}
