import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../src/index.ts';
import { startServer, type TestServer } from './servers.ts';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Resources of this process, as counts by kind. */
function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

describe('close() and destroy()', () => {
  it('after close(), no socket or timer of the client remains', async () => {
    server = await startServer((_req, res, n) => (n <= 4 ? res.writeHead(503).end() : res.writeHead(200).end('ok')));
    await settle();
    const before = resources();
    const client = createClient({ name: 'dep', baseUrl: server.url, retry: { backoff: { next: () => 5 } } });
    const calls = Array.from({ length: 8 }, () => client.get('/').then((r) => r.body.text()));
    expect(client.inFlight).toBe(8);
    await Promise.all(calls);
    await client.close();
    await server.close();
    server = undefined;
    await settle();
    const after = resources();
    expect(after.TCPSocketWrap ?? 0).toBe(0);
    expect(after.Timeout ?? 0).toBeLessThanOrEqual(before.Timeout ?? 0);
    expect(client.inFlight).toBe(0);
    await expect(client.get('/')).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('close() waits for calls in flight; destroy() aborts them', async () => {
    server = await startServer((_req, res, n) => (n === 1 ? setTimeout(() => res.writeHead(200).end('late'), 150) : undefined));
    const client = createClient({ name: 'dep', baseUrl: server.url, timeout: 5_000, attemptTimeout: 5_000 });
    const slow = client.get('/slow').then((r) => r.body.text());
    await new Promise((r) => setTimeout(r, 20));
    await client.close();
    await expect(slow).resolves.toBe('late');

    const other = createClient({ name: 'dep', baseUrl: server.url, timeout: 5_000, attemptTimeout: 5_000 });
    const hanging = other.get('/hang').catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    const started = performance.now();
    await other.destroy();
    expect(await hanging).toMatchObject({ code: 'ABORTED' });
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('destroy() aborts every call in flight and leaves none tracked', async () => {
    server = await startServer(() => {});
    const client = createClient({ name: 'dep', baseUrl: server.url, timeout: 5_000, attemptTimeout: 5_000 });
    const calls = Array.from({ length: 5 }, (_, i) => client.get(`/hang/${i}`).catch((e: unknown) => e));
    await new Promise((r) => setTimeout(r, 20));
    expect(client.inFlight).toBe(5);
    await client.destroy();
    for (const result of await Promise.all(calls)) expect(result).toMatchObject({ code: 'ABORTED' });
    expect(client.inFlight).toBe(0);
  });
});
