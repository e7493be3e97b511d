import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Answer } from './problem.ts';

/** @internal Writes a complete answer. */
export function writeAnswer(res: ServerResponse, answer: Answer): void {
  res.statusCode = answer.status;
  for (const name in answer.headers) res.setHeader(name, answer.headers[name]!);
  res.setHeader('content-length', Buffer.byteLength(answer.body));
  res.end(answer.body);
}

/**
 * Never answers: the connection is destroyed after `hangMs`, or the timer is dropped as soon
 * as the client goes away first.
 *
 * @internal
 */
export function hang(req: IncomingMessage, hangMs: number): void {
  const socket = req.socket;
  const timer = setTimeout(() => socket.destroy(), hangMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/** @internal The path of a request target, without its query. */
export function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** @internal Which part of the admin endpoint a path is: `''` for `adminPath` itself, the id after `adminPath/`, or undefined. */
export function adminTarget(adminPath: string, path: string): string | undefined {
  if (!path.startsWith(adminPath)) return undefined;
  if (path.length === adminPath.length) return '';
  if (path.charCodeAt(adminPath.length) !== 47 /* / */) return undefined;
  return path.slice(adminPath.length + 1);
}
