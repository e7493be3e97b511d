import { problem, type ProblemResponse } from '@lifeline/server';
import { lifelineErrorHandler } from '@lifeline/server/fastify';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** The code of a request the service refuses to read: a body or a parameter that fails its schema. */
export const INVALID_REQUEST = 'INVALID_REQUEST';

/** Sends an RFC 9457 problem response from a Fastify handler. */
export function sendProblemReply(reply: FastifyReply, response: ProblemResponse): FastifyReply {
  return reply.code(response.status).headers(response.headers).send(Buffer.from(JSON.stringify(response.body)));
}

/** A problem response for the request being handled, carrying its request id. */
export function problemReply(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  code: string,
  title: string,
  detail: string,
): FastifyReply {
  return sendProblemReply(reply, problem(status, code, title, detail, { requestId: request.lifeline?.requestId }));
}

/**
 * Every error as a problem response: schema validation failures become 400
 * `INVALID_REQUEST` naming the field (`body/amount must be >= 1`), malformed JSON 400,
 * other client errors keep their status, and everything else goes to Lifeline's mapping
 * (503 for an open circuit, 504 for a deadline, 500 without the message).
 */
export function installProblemHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation !== undefined) {
      const where = error.validationContext ?? 'request';
      const detail = error.validation
        .map((v) => `${where}${v.instancePath === '' ? '' : v.instancePath} ${v.message ?? 'is invalid'}`)
        .join('; ');
      return problemReply(request, reply, 400, INVALID_REQUEST, 'The request is invalid', detail);
    }
    const status = error.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return problemReply(request, reply, status, error.code ?? INVALID_REQUEST, 'The request is invalid', error.message);
    }
    return lifelineErrorHandler(error, request, reply);
  });
  app.setNotFoundHandler((request, reply) =>
    problemReply(request, reply, 404, 'NOT_FOUND', 'Not found', `no route for ${request.method} ${request.url.split('?')[0]}`),
  );
}
