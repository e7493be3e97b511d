import type { ServerResponse } from 'node:http';
import type { HealthResponse } from './health.ts';
import type { StoredResponse } from './idempotency/store.ts';

/** @internal Writes a complete response (a replay, a problem, a refusal) on a Node response. */
export function sendResponse(res: ServerResponse, response: StoredResponse): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.destroy();
    return;
  }
  res.statusCode = response.status;
  for (const name in response.headers) res.setHeader(name, response.headers[name]!);
  res.setHeader('content-length', response.body.byteLength);
  res.end(response.body);
}

/** @internal The body of a health answer. */
export function healthBody(health: HealthResponse): string {
  return JSON.stringify(health.body);
}

/** @internal Writes a health answer (`application/health+json`, never cached) on a Node response. */
export function sendHealth(res: ServerResponse, health: HealthResponse, head: boolean): void {
  const body = healthBody(health);
  res.writeHead(health.status, {
    'content-type': 'application/health+json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
  });
  res.end(head ? undefined : body);
}
