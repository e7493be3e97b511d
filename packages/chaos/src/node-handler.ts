import type { IncomingMessage, ServerResponse } from 'node:http';
import { answerAdmin, MAX_ADMIN_BODY } from './admin.ts';
import { Chaos } from './chaos.ts';
import { adminTarget, hang, pathOf, writeAnswer } from './faults.ts';
import { loseResponse } from './lose-response.ts';
import { faultAnswer, problemAnswer } from './problem.ts';

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

function serveAdmin(chaos: Chaos, req: IncomingMessage, res: ServerResponse, target: string): void {
  let id: string | undefined;
  if (target !== '') {
    try {
      id = decodeURIComponent(target);
    } catch {
      id = target;
    }
  }
  const method = req.method ?? 'GET';
  if (!chaos.enabled || (method !== 'PUT' && method !== 'POST')) {
    req.resume();
    writeAnswer(res, answerAdmin(chaos, method, id, undefined));
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_ADMIN_BODY) {
      req.removeAllListeners('data');
      req.resume();
      res.setHeader('connection', 'close');
      writeAnswer(res, problemAnswer(413, 'CHAOS_INVALID', 'Invalid chaos configuration', `body: larger than ${MAX_ADMIN_BODY} bytes`));
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (res.headersSent) return;
    writeAnswer(res, answerAdmin(chaos, method, id, Buffer.concat(chunks).toString('utf8')));
  });
}

/**
 * Wraps a node:http request listener with fault injection. Each request is offered to
 * `chaos.pick` (method, URL path without the query); when a rule fires:
 *
 * - `latency`: the listener runs after the drawn delay;
 * - `error`: answered with the status and a `CHAOS` problem body; the listener never runs;
 * - `reset`: the connection is destroyed; the listener never runs;
 * - `hang`: never answered; the connection is destroyed after `hangMs` (or when the client leaves);
 * - `lose-response`: the listener runs to `res.end()`, but its response never reaches the client,
 *   whose connection is then destroyed.
 *
 * Requests to `chaos.adminPath` are answered here (never faulted): `GET` the snapshot, `PUT`
 * `{ rules, enabled? }`, `POST` one rule, `DELETE` all, `DELETE adminPath/:id` one. While chaos
 * is disabled they get 404, like any unknown path.
 *
 * @example
 * const chaos = createChaos({ enabled: true, rules: [{ path: '/charges', percent: 10, fault: { type: 'reset' } }] });
 * http.createServer(chaosHandler(chaos, (req, res) => res.end('ok'))).listen(8080);
 */
export function chaosHandler(chaos: Chaos, listener: Listener): Listener {
  if (!(chaos instanceof Chaos)) throw new TypeError(`lifeline: chaosHandler needs a Chaos (from createChaos()), got ${typeof chaos}`);
  if (typeof listener !== 'function') throw new TypeError(`lifeline: chaosHandler needs a request listener, got ${typeof listener}`);
  const adminPath = chaos.adminPath;
  return function chaosRequest(req, res) {
    const path = pathOf(req.url);
    const target = adminTarget(adminPath, path);
    if (target !== undefined) return serveAdmin(chaos, req, res, target);
    const picked = chaos.pick(req.method ?? 'GET', path);
    if (picked === undefined) return listener(req, res);
    const fault = picked.fault;
    switch (fault.type) {
      case 'latency':
        setTimeout(listener, chaos.delayFor(fault), req, res).unref();
        return;
      case 'error':
        writeAnswer(res, faultAnswer(picked.rule.id!, fault.status, fault.retryAfterMs));
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'hang':
        hang(req, chaos.hangMs);
        return;
      case 'lose-response':
        loseResponse(res);
        return listener(req, res);
    }
  };
}
