import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Dependencies } from '../src/dependencies.ts';
import { cockatielDependencies } from '../src/peers/cockatiel.ts';
import { handmadeDependencies } from '../src/peers/handmade.ts';
import { retryAgentDependencies } from '../src/peers/retry-agent.ts';

// Each peer against real node:http servers on loopback: a fake payment service that answers
// what the test tells it to, and a fake user service.

type Answer = { status: number; body?: unknown; headers?: Record<string, string> } | { hangMs: number };

interface Seen {
  method: string | undefined;
  url: string | undefined;
  idempotencyKey: string | string[] | undefined;
}

let payment: Server;
let users: Server;
let paymentHost: string;
let userUrl: string;
/** The payment service's answers, one per request in order; after they run out, 201. */
let script: Answer[] = [];
let seen: Seen[] = [];
const hanging = new Set<ServerResponse>();
/** Requests per payment server, for round-robin. */
const hits = new Map<string, number>();

function paid(res: ServerResponse, body: string): void {
  const { orderId } = JSON.parse(body) as { orderId: string };
  res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `ch_${orderId}`, instance: 'payment-test' }));
}

async function onPayment(req: IncomingMessage, res: ServerResponse, server = 'a'): Promise<void> {
  hits.set(server, (hits.get(server) ?? 0) + 1);
  let body = '';
  for await (const chunk of req) body += String(chunk);
  seen.push({ method: req.method, url: req.url, idempotencyKey: req.headers['idempotency-key'] });
  const answer = script.shift();
  if (answer === undefined) return paid(res, body);
  if ('hangMs' in answer) {
    hanging.add(res);
    const timer = setTimeout(() => {
      hanging.delete(res);
      if (!res.destroyed) paid(res, body);
    }, answer.hangMs);
    res.on('close', () => clearTimeout(timer));
    return;
  }
  res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers }).end(JSON.stringify(answer.body ?? {}));
}

function onUser(req: IncomingMessage, res: ServerResponse): void {
  if (req.url === '/users/u1') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'u1', name: 'Ada', email: 'ada@example.com', tier: 'gold' }));
    return;
  }
  res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'NOT_FOUND' }));
}

function connections(server: Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((error, count) => (error === null ? resolve(count) : reject(error))));
}

/** Waits (up to 3 s, well under the servers' 5 s keep-alive) for both servers to have no connection open. */
async function allConnectionsClosed(): Promise<number> {
  const until = performance.now() + 3_000;
  for (;;) {
    const open = (await connections(payment)) + (await connections(users));
    if (open === 0 || performance.now() > until) return open;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function listen(server: Server): Promise<number> {
  // Longer than any wait here, so that a connection a client leaves open stays open.
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  payment = createServer((req, res) => void onPayment(req, res));
  users = createServer(onUser);
  paymentHost = `127.0.0.1:${await listen(payment)}`;
  userUrl = `http://127.0.0.1:${await listen(users)}`;
});

afterEach(() => {
  script = [];
  seen = [];
  hits.clear();
  for (const res of hanging) res.destroy();
  hanging.clear();
});

afterAll(async () => {
  payment.closeAllConnections();
  users.closeAllConnections();
  await Promise.all([new Promise((resolve) => payment.close(resolve)), new Promise((resolve) => users.close(resolve))]);
});

interface Peer {
  kind: Dependencies['kind'];
  create: (options: { userUrl: string; payment: string[] }) => Dependencies;
  /** Where the peer is, for a child process that loads it on its own. */
  module: URL;
}

const peers: Peer[] = [
  { kind: 'handmade', create: handmadeDependencies, module: new URL('../src/peers/handmade.ts', import.meta.url) },
  { kind: 'cockatiel', create: cockatielDependencies, module: new URL('../src/peers/cockatiel.ts', import.meta.url) },
  { kind: 'retry-agent', create: retryAgentDependencies, module: new URL('../src/peers/retry-agent.ts', import.meta.url) },
];

/**
 * Runs a user lookup and a charge (with a 503 first, so a backoff timer runs) through the
 * peer in a child process, closes it, and reports the resources that keep an event loop
 * alive before the peer was made and after it was closed; then waits for the process to
 * exit by itself. undici unrefs idle sockets, so an unclosed pool would not stop the exit:
 * the resource list is what sees it.
 */
function runAndExit(peer: Peer): Promise<{ code: number | null; killed: boolean; stdout: string; stderr: string }> {
  const script = `
    void process.stdout, void process.stderr; // opens their pipes now, so that they are in both lists
    const before = process.getActiveResourcesInfo();
    const peer = await import(${JSON.stringify(peer.module.href)});
    const create = Object.values(peer).find((value) => typeof value === 'function');
    const deps = create({ userUrl: ${JSON.stringify(userUrl)}, payment: [${JSON.stringify(paymentHost)}] });
    const user = await deps.user('u1');
    const charge = await deps.charge({ orderId: 'child', amount: 1, currency: 'EUR', idempotencyKey: '"child"' });
    await deps.close();
    await new Promise((resolve) => setImmediate(resolve));
    console.log(JSON.stringify({ user: user.kind, charge: charge.kind, before, after: process.getActiveResourcesInfo() }));
  `;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '--no-warnings', '-e', script], { cwd: new URL('..', import.meta.url), timeout: 15_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : (typeof error.code === 'number' ? error.code : null), killed: error?.killed ?? false, stdout, stderr });
    });
  });
}

const order = { orderId: 'o1', amount: 1_250, currency: 'EUR', idempotencyKey: '"order-o1"' };

describe.each(peers)('$kind', (peer) => {
  const { kind, create } = peer;
  let deps: Dependencies;
  afterEach(async () => {
    await deps.close();
  });

  it('is the peer it says it is', () => {
    deps = create({ userUrl, payment: [paymentHost] });
    expect(deps.kind).toBe(kind);
  });

  it('charges once paid, with the same Idempotency-Key on the attempt a 503 failed and on its retry', async () => {
    deps = create({ userUrl, payment: [paymentHost] });
    script = [{ status: 503, body: { code: 'UNAVAILABLE' } }];
    const outcome = await deps.charge(order);
    expect(outcome).toEqual({ kind: 'paid', chargeId: 'ch_o1', instance: 'payment-test' });
    expect(seen).toEqual([
      { method: 'POST', url: '/charges', idempotencyKey: '"order-o1"' },
      { method: 'POST', url: '/charges', idempotencyKey: '"order-o1"' },
    ]);
  });

  it('ends unavailable within the budget when payment is slower than it', async () => {
    deps = create({ userUrl, payment: [paymentHost] });
    script = [{ hangMs: 10_000 }, { hangMs: 10_000 }, { hangMs: 10_000 }, { hangMs: 10_000 }];
    const started = performance.now();
    const outcome = await deps.charge(order);
    const elapsed = performance.now() - started;
    expect(outcome.kind).toBe('unavailable');
    expect(elapsed).toBeLessThan(5_000);
    expect(seen.length).toBeGreaterThanOrEqual(2); // every peer retries an attempt that timed out
    for (const attempt of seen) expect(attempt.idempotencyKey).toBe('"order-o1"');
  });

  it('ends unavailable with the status and the last Retry-After when every attempt answers 503', async () => {
    deps = create({ userUrl, payment: [paymentHost] });
    const unavailable = { status: 503, body: { code: 'UNAVAILABLE' } };
    // Retry-After on the last attempt only: a peer that honours it waits before a retry, and there is none left.
    script = [unavailable, unavailable, { ...unavailable, headers: { 'retry-after': '30' } }];
    const outcome = await deps.charge(order);
    expect(outcome).toEqual({ kind: 'unavailable', reason: 'payment answered 503 UNAVAILABLE', retryAfterMs: 30_000 });
    expect(seen.length).toBe(3);
  });

  it('is declined on a 402, without a retry', async () => {
    deps = create({ userUrl, payment: [paymentHost] });
    script = [{ status: 402, body: { detail: 'card declined' } }];
    expect(await deps.charge(order)).toEqual({ kind: 'declined', reason: 'card declined' });
    expect(seen).toHaveLength(1);
  });

  it('finds a user, and says when there is none', async () => {
    deps = create({ userUrl, payment: [paymentHost] });
    expect(await deps.user('u1')).toEqual({ kind: 'found', user: { id: 'u1', name: 'Ada', email: 'ada@example.com', tier: 'gold' } });
    expect(await deps.user('nobody')).toEqual({ kind: 'not-found' });
  });

  it('is unavailable when the user service cannot be reached', async () => {
    deps = create({ userUrl: 'http://127.0.0.1:1', payment: [paymentHost] });
    expect(await deps.user('u1')).toMatchObject({ kind: 'unavailable' });
  });

  it('round-robins charges over the payment endpoints', async () => {
    const second = createServer((req, res) => void onPayment(req, res, 'b'));
    const port = await listen(second);
    try {
      deps = create({ userUrl, payment: [paymentHost, `127.0.0.1:${port}`] });
      for (let i = 0; i < 4; i++) expect((await deps.charge({ ...order, orderId: `o${i}` })).kind).toBe('paid');
      expect(Object.fromEntries(hits)).toEqual({ a: 2, b: 2 });
    } finally {
      second.closeAllConnections();
      await new Promise((resolve) => second.close(resolve));
    }
  });

  it('closes its connections on close()', async () => {
    deps = create({ userUrl, payment: [paymentHost] });
    script = [{ status: 503 }];
    await deps.user('u1');
    await deps.charge(order);
    expect(await connections(payment)).toBeGreaterThan(0);
    await deps.close();
    expect(await allConnectionsClosed()).toBe(0);
  });

  it('closes everything it opened: a process that used it and closed it exits by itself', async () => {
    deps = create({ userUrl, payment: [paymentHost] });
    script = [{ status: 503 }];
    const child = await runAndExit(peer);
    expect(child.stderr).toBe('');
    expect(child).toMatchObject({ code: 0, killed: false });
    const report = JSON.parse(child.stdout) as { user: string; charge: string; before: string[]; after: string[] };
    expect(report).toMatchObject({ user: 'found', charge: 'paid' });
    expect(report.after).toEqual(report.before);
    expect(seen).toHaveLength(2);
  });
});
