import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { isLifelineError } from '@lifeline/core';
import { fetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, createDispatcher, type AttemptMessage, type RefusedMessage, type RetryMessage } from '../src/index.ts';
import { catchError, quickBackoff, startServer, type TestServer } from './servers.ts';

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** Every message published on `name` while the test runs. */
function listen<T>(name: string): T[] {
  const messages: T[] = [];
  const listener = (message: unknown): void => void messages.push(message as T);
  subscribe(name, listener);
  cleanup.push(() => void unsubscribe(name, listener));
  return messages;
}

async function unavailableOnce(): Promise<TestServer> {
  const server = await startServer((_req, res, n) => (n === 1 ? res.writeHead(503).end() : res.writeHead(200).end('ok')));
  cleanup.push(() => server.close());
  return server;
}

describe('diagnostics channels', () => {
  it.each(['client', 'fetch'] as const)('through the %s: each attempt and each retry, on lifeline:client:attempt and :retry', async (face) => {
    const server = await unavailableOnce();
    const attempts = listen<AttemptMessage>('lifeline:client:attempt');
    const retries = listen<RetryMessage>('lifeline:client:retry');
    const options = { name: 'users', baseUrl: server.url, retry: { backoff: quickBackoff } };
    if (face === 'client') {
      const client = createClient(options);
      cleanup.push(() => client.close());
      await (await client.get('/users/1')).body.dump();
    } else {
      const dispatcher = createDispatcher(options);
      cleanup.push(() => dispatcher.close());
      await (await fetch(`${server.url}/users/1`, { dispatcher })).arrayBuffer();
    }
    expect(attempts.map((m) => [m.service, m.method, m.origin, m.path, m.attempt, m.status])).toEqual([
      ['users', 'GET', server.url, '/users/1', 1, 503],
      ['users', 'GET', server.url, '/users/1', 2, 200],
    ]);
    expect(attempts[0]!.durationMs).toBeGreaterThanOrEqual(0);
    expect(retries).toEqual([{ service: 'users', attempt: 1, delayMs: 5, status: 503, error: undefined }]);
  });

  it('an open breaker: lifeline:client:refused, nothing on :attempt', async () => {
    const server = await startServer((_req, res) => res.writeHead(500).end());
    cleanup.push(() => server.close());
    const client = createClient({ name: 'users', baseUrl: server.url, retry: false, breaker: { consecutiveFailures: 1 }, throwOnHttpError: false });
    cleanup.push(() => client.close());
    await (await client.get('/')).body.dump();
    const attempts = listen<AttemptMessage>('lifeline:client:attempt');
    const refused = listen<RefusedMessage>('lifeline:client:refused');
    await catchError(client.get('/'));
    expect(attempts).toHaveLength(0);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.service).toBe('users');
    expect(isLifelineError(refused[0]!.error, 'CIRCUIT_OPEN')).toBe(true);
  });
});
