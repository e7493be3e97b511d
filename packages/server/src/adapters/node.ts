import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkInteger, optionNames } from '@lifeline/core';
import { runWithRequestContext } from '@lifeline/trace';
import type { Adapter, Engine } from '../engine.ts';
import type { HealthResponse } from '../health.ts';
import { IDEMPOTENCY_OPTIONS, type IdempotencyOptions } from '../idempotency/guard.ts';
import type { StoredResponse } from '../idempotency/store.ts';
import { kInbound, type InboundRequest } from '../inbound-request.ts';
import { problem, problemFor, ProblemCode, problemToResponse } from '../problem.ts';
import { sendHealth, sendResponse } from '../respond.ts';

/** A `node:http` request listener, possibly async. */
export type NodeRequestHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

/** A `node:http` handler of an idempotent route: it gets the request body, already read. */
export type NodeIdempotentHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => unknown;

/** Idempotency options of a `node:http` route. */
export interface NodeIdempotencyOptions extends IdempotencyOptions<IncomingMessage> {
  /** The largest request body read, bytes; a larger one is answered 413. Default 1 MiB. */
  maxBodyBytes?: number;
}

const NODE_IDEMPOTENCY_OPTIONS: readonly string[] = [
  ...IDEMPOTENCY_OPTIONS,
  ...optionNames<Omit<NodeIdempotencyOptions, keyof IdempotencyOptions>>({ maxBodyBytes: true }),
];

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

function fail(engine: Engine, inbound: InboundRequest, res: ServerResponse, error: unknown): void {
  const response = problemFor(error, inbound.requestId);
  engine.reportError(error, inbound, response);
  sendResponse(res, problemToResponse(response));
}

/** Calls the listener; an error it throws or rejects with becomes a problem response. */
function callListener(engine: Engine, listener: NodeRequestHandler, inbound: InboundRequest, req: IncomingMessage, res: ServerResponse): void {
  let result: unknown;
  try {
    result = listener(req, res);
  } catch (error) {
    fail(engine, inbound, res, error);
    return;
  }
  if (isThenable(result)) result.then(undefined, (error: unknown) => fail(engine, inbound, res, error));
}

/** The `node:http` adapter: the listener runs in the request's context; an error it throws or rejects with becomes a problem response. */
class NodeAdapter implements Adapter<IncomingMessage, ServerResponse> {
  readonly #engine: Engine;
  readonly #listener: NodeRequestHandler;

  constructor(engine: Engine, listener: NodeRequestHandler) {
    this.#engine = engine;
    this.#listener = listener;
  }

  run(inbound: InboundRequest, req: IncomingMessage, res: ServerResponse): void {
    runWithRequestContext(inbound, callListener, this.#engine, this.#listener, inbound, req, res);
  }

  refuse(_inbound: InboundRequest, response: StoredResponse, _req: IncomingMessage, res: ServerResponse): void {
    sendResponse(res, response);
  }

  health(answer: HealthResponse, req: IncomingMessage, res: ServerResponse): void {
    sendHealth(res, answer, req.method === 'HEAD');
  }
}

/** @internal See {@link Lifeline.handler}. */
export function nodeHandler(engine: Engine, listener: NodeRequestHandler): (req: IncomingMessage, res: ServerResponse) => void {
  if (typeof listener !== 'function') throw new TypeError(`lifeline: handler() needs a request listener function, got ${typeof listener}`);
  const adapter = new NodeAdapter(engine, listener);
  return function lifelineHandler(req, res) {
    engine.enter(req, res, adapter, req, res);
  };
}

/** Reads a request body up to `limit` bytes; `undefined` when it is larger. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

/** @internal See {@link Lifeline.idempotent}. */
export function nodeIdempotent(
  engine: Engine,
  options: NodeIdempotencyOptions | true,
  handler: NodeIdempotentHandler,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  if (typeof handler !== 'function') throw new TypeError(`lifeline: idempotent() needs a handler function, got ${typeof handler}`);
  const guard = engine.guard<IncomingMessage>(options, NODE_IDEMPOTENCY_OPTIONS);
  const maxBodyBytes = checkInteger('idempotency.maxBodyBytes', (options === true ? undefined : options.maxBodyBytes) ?? 1_048_576, 0);
  return async function idempotentRoute(req, res) {
    const requestId = (req as unknown as Record<symbol, InboundRequest | undefined>)[kInbound]?.requestId;
    const body = await readBody(req, maxBodyBytes);
    if (body === undefined) {
      const tooLarge = problemToResponse(
        problem(413, ProblemCode.PAYLOAD_TOO_LARGE, 'Content Too Large', `The request body is larger than ${maxBodyBytes} bytes.`, { requestId }),
      );
      // The rest of the body is not read: the connection cannot carry another request.
      tooLarge.headers.connection = 'close';
      sendResponse(res, tooLarge);
      return;
    }
    const decision = await guard.check({
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers,
      body,
      scope: guard.scopeOf(req),
      requestId,
    });
    if (decision.response !== undefined) {
      sendResponse(res, decision.response);
      return;
    }
    const claim = decision.claim;
    claim?.capture(res);
    try {
      await handler(req, res, body);
    } catch (error) {
      claim?.fail();
      throw error;
    }
  };
}
