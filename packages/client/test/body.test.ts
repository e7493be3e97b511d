import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type LifelineClient } from '../src/index.ts';
import { quickBackoff, startServer, type TestServer } from './servers.ts';

let server: TestServer | undefined;
let client: LifelineClient | undefined;
afterEach(async () => {
  await client?.destroy();
  await server?.close();
  client = server = undefined;
});

describe('response bodies', () => {
  it('streams a large body with backpressure, intact', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'a');
    server = await startServer((_req, res) => {
      res.writeHead(200);
      let sent = 0;
      const write = (): void => {
        while (sent < 64) {
          sent++;
          if (!res.write(chunk)) return void res.once('drain', write);
        }
        res.end();
      };
      write();
    });
    client = createClient({ name: 'dep', baseUrl: server.url });
    const res = await client.get('/big');
    let total = 0;
    for await (const part of res.body.stream()) {
      total += (part as Buffer).length;
      await new Promise((r) => setImmediate(r)); // a slow consumer
    }
    expect(total).toBe(64 * 64 * 1024);
  });

  it('reads bytes and json, and refuses a second read', async () => {
    server = await startServer((_req, res) => res.writeHead(200).end('{"a":[1,2]}'));
    client = createClient({ name: 'dep', baseUrl: server.url });
    const res = await client.get('/');
    expect(Buffer.from(await res.body.bytes()).toString()).toBe('{"a":[1,2]}');
    expect(res.body.bodyUsed).toBe(true);
    await expect(res.body.json()).rejects.toThrow(/already read/);
    expect(await (await client.get('/')).body.json()).toEqual({ a: [1, 2] });
  });

  it('dump() discards a body and frees its connection for the next call', async () => {
    server = await startServer((_req, res) => res.writeHead(200).end('x'.repeat(100_000)));
    client = createClient({ name: 'dep', baseUrl: server.url, connections: 1 });
    await (await client.get('/')).body.dump();
    expect(await (await client.get('/')).body.text()).toHaveLength(100_000);
    expect(server.connections()).toBe(1);
  });

  it('a stream created after the body ended still yields all of it', async () => {
    server = await startServer((_req, res) => res.writeHead(200).end('late reader'));
    client = createClient({ name: 'dep', baseUrl: server.url });
    const res = await client.get('/');
    await new Promise((r) => setTimeout(r, 30));
    const parts: Buffer[] = [];
    for await (const part of res.body.stream()) parts.push(part as Buffer);
    expect(Buffer.concat(parts).toString()).toBe('late reader');
  });
});

describe('malformed headers from the server never throw on the request path', () => {
  it.each(['soon', '-5', '1.5', '', '1e3', 'Wed, 99 Foo 2015 07:28:00 GMT'])(
    'Retry-After: %j is ignored and the retry happens on the backoff',
    async (value) => {
      server = await startServer((_req, res, n) =>
        n === 1 ? res.writeHead(503, { 'retry-after': value, ratelimit: '"x";r=;t=' }).end() : res.writeHead(200).end('ok'),
      );
      client = createClient({ name: 'dep', baseUrl: server.url, retry: { backoff: quickBackoff } });
      const started = performance.now();
      const res = await client.get('/');
      expect(await res.body.text()).toBe('ok');
      expect(res.attempts).toBe(2);
      expect(performance.now() - started).toBeLessThan(1_000);
    },
  );

  it('an absurdly long Retry-After is not waited for: the 503 is the answer, with the wait', async () => {
    server = await startServer((_req, res) => res.writeHead(503, { 'retry-after': '99999999999999999999' }).end('later'));
    client = createClient({ name: 'dep', baseUrl: server.url, retry: { backoff: quickBackoff } });
    await expect(client.get('/')).rejects.toMatchObject({ status: 503, attempts: 1, retryAfterMs: 99999999999999999999 * 1000 });
    expect(server.seen).toHaveLength(1);
  });

  it('a RateLimit with r=0 is honoured like Retry-After', async () => {
    server = await startServer((_req, res, n) =>
      n === 1 ? res.writeHead(429, { ratelimit: '"default";r=0;t=1' }).end() : res.writeHead(200).end('ok'),
    );
    client = createClient({ name: 'dep', baseUrl: server.url, retry: { backoff: quickBackoff } });
    const started = performance.now();
    expect(await (await client.get('/')).body.text()).toBe('ok');
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
  });
});
