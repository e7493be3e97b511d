// A Lifeline client against a deliberately flaky local server. Run: ./dev start
//
// Each scenario prints what the client did: every attempt, the backoff before a retry,
// why it stopped, and how the call ended.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from '@lifeline/client';
import { isLifelineError } from '@lifeline/core';

type Behaviour = (req: IncomingMessage, res: ServerResponse, n: number) => void;
const routes = new Map<string, Behaviour>();
const hits = new Map<string, number>();
const charges = new Map<string, number>(); // idempotency key → times the charge ran

routes.set('/inventory', (_req, res, n) => {
  if (n === 1) res.writeHead(503, { 'retry-after': '0' }).end('warming up');
  else if (n === 2) res.socket?.destroy(); // connection reset
  else res.writeHead(200, { 'content-type': 'application/json' }).end('{"apples":12}');
});
routes.set('/charges', (req, res) => {
  const key = String(req.headers['idempotency-key'] ?? 'none');
  const times = (charges.get(key) ?? 0) + 1;
  charges.set(key, times);
  // The first time, the charge is made but the response is lost: the seeds' double charge.
  if (times === 1) return void res.socket?.destroy();
  res.writeHead(times === 1 ? 201 : 200, { 'content-type': 'application/json' }).end(`{"charged":true,"replay":${times > 1}}`);
});
routes.set('/rate-limited', (_req, res, n) => {
  if (n === 1) res.writeHead(429, { 'retry-after': '1' }).end('slow down');
  else res.writeHead(200).end('thanks for waiting');
});
routes.set('/hang', () => { /* never answers */ });
routes.set('/down', (_req, res) => res.writeHead(503).end('down for maintenance'));

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const n = (hits.get(path) ?? 0) + 1;
    hits.set(path, n);
    (routes.get(path) ?? ((_q, r) => r.writeHead(404).end()))(req, res, n);
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const client = createClient({ name: 'flaky', baseUrl, timeout: 3_000, attemptTimeout: 400 });
client.onRetry(({ attempt, delay, error }) =>
  console.log(`    attempt ${attempt} failed: ${describe(error)} → retrying in ${Math.round(delay)} ms`),
);
client.onGiveUp(({ attempt, reason, error }) =>
  console.log(`    attempt ${attempt} failed: ${describe(error)} → no retry (${reason})`),
);

async function scenario(title: string, run: () => Promise<string>): Promise<void> {
  console.log(`\n▸ ${title}`);
  const started = performance.now();
  let outcome: string;
  try {
    outcome = `ok: ${await run()}`;
  } catch (error) {
    outcome = `failed: ${describe(error)}${isLifelineError(error) ? ` after ${error.attempts} attempt(s)` : ''}`;
  }
  console.log(`  ${outcome}  [${Math.round(performance.now() - started)} ms]`);
}

function describe(error: unknown): string {
  if (isLifelineError(error)) return `${error.code} (${error.message})`;
  return error instanceof Error ? error.message : String(error);
}

console.log(`Lifeline client example — flaky server at ${baseUrl}`);
console.log('client: deadline 3 s, attempt timeout 400 ms, 3 attempts, full-jitter backoff, 20 % retry budget');

await scenario('GET /inventory — 503, then a reset connection, then 200', async () => {
  const res = await client.get('/inventory');
  return `${res.status} ${await res.body.text()} in ${res.attempts} attempts`;
});

await scenario('POST /charges without an Idempotency-Key — the response is lost, so no retry: was it charged?', async () => {
  const res = await client.post('/charges', { json: { amount: 42 } });
  return `${res.status} ${await res.body.text()}`;
});

await scenario('POST /charges with idempotent: true — lost response, retried with the same key', async () => {
  const res = await client.post('/charges', { json: { amount: 42 }, idempotent: true });
  const ranFor = [...charges].filter(([key]) => key !== 'none').map(([key, times]) => `${key} seen ${times}×`);
  return `${res.status} ${await res.body.text()} (server: ${ranFor.join(', ')}; the charge ran once, the retry got the stored result)`;
});

await scenario('GET /rate-limited — 429 with Retry-After: 1 is honoured', async () => {
  const res = await client.get('/rate-limited');
  return `${res.status} ${await res.body.text()}`;
});

await scenario('GET /hang — a server that never answers: attempt timeouts, then the deadline', async () => {
  await client.get('/hang');
  return 'unexpected';
});

console.log('\n▸ Retry storm — 200 calls to a service that is down, with the retry budget on');
// The breaker is off here to show the budget alone: with it on (the default), it opens after
// 5 failures in a row and the remaining calls fail fast with CIRCUIT_OPEN, sending nothing.
const storm = createClient({ name: 'down', baseUrl, retry: { backoff: { next: () => 1 } }, breaker: false });
let refused = 0;
storm.onGiveUp(({ reason }) => void (reason === 'budget' && refused++));
const before = hits.get('/down') ?? 0;
await Promise.allSettled(Array.from({ length: 200 }, () => storm.get('/down')));
const received = (hits.get('/down') ?? 0) - before;
console.log(`  200 calls → the server received ${received} requests (${(received / 200).toFixed(2)}× load; 3 attempts each without a budget: 3.00×)`);
console.log(`  budget: ${JSON.stringify(storm.retry.budget?.snapshot())}`);
console.log(`  retries refused by the budget: ${refused} (allowed = 20 % of requests + a floor of 10/s over the 10 s window)`);

await Promise.all([client.close(), storm.close()]);
await new Promise<void>((resolve) => server.close(() => resolve()));
server.closeAllConnections();
console.log('\nDone: every socket and timer released.');
