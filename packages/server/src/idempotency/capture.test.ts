import { createServer, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Claim, type ClaimOwner } from './capture.ts';
import type { StoredResponse } from './store.ts';

/** Serves one request with `respond` under a claim, and returns what the claim stored. */
async function captured(respond: (res: ServerResponse) => void): Promise<StoredResponse | undefined> {
  let stored: StoredResponse | undefined;
  const owner: ClaimOwner = { complete: (_claim, response) => (stored = response), release: () => {} };
  const server = createServer((_req, res) => {
    new Claim(owner, '', 'k', 't').capture(res);
    respond(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await new Promise<void>((resolve, reject) => {
      const req = request({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', agent: false }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
  } finally {
    server.close();
  }
  return stored;
}

describe('Claim', () => {
  it.each([
    ['an object', (res: ServerResponse) => res.writeHead(201, { 'Content-Type': 'application/json', 'X-Charge': 'ch_1' })],
    ['a reason and an object', (res: ServerResponse) => res.writeHead(201, 'Created', { 'content-type': 'application/json', 'x-charge': 'ch_1' })],
    ['[name, value] pairs', (res: ServerResponse) => res.writeHead(201, [['content-type', 'application/json'], ['x-charge', 'ch_1']] as never)],
    ['a flat list', (res: ServerResponse) => res.writeHead(201, ['content-type', 'application/json', 'x-charge', 'ch_1'])],
  ])('stores the headers given to writeHead() as %s, with none set before', async (_form, head) => {
    const stored = await captured((res) => {
      head(res);
      res.end('{"id":"ch_1"}');
    });
    expect(stored?.status).toBe(201);
    expect(stored?.headers).toMatchObject({ 'content-type': 'application/json', 'x-charge': 'ch_1' });
    expect(Buffer.from(stored!.body).toString()).toBe('{"id":"ch_1"}');
  });

  it('merges setHeader() and writeHead() headers, and leaves out the ones never replayed', async () => {
    const stored = await captured((res) => {
      res.setHeader('x-request-id', 'req-1');
      res.setHeader('set-cookie', 'session=1');
      res.writeHead(200, { 'x-charge': 'ch_2' }).end('ok');
    });
    expect(stored?.headers).toEqual({ 'x-charge': 'ch_2' });
  });
});
