import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closedPort, startServer, type TestServer } from './servers.ts';

// Bare scripts, run as a user would run a CLI or a cron job: a fresh Node process with
// nothing alive in it but the Lifeline call. The package is installed into the scripts'
// folder as a symlink to this package, and loaded from its sources (Node strips the types).
// A call in flight must keep the process up exactly as its socket would; an idle client
// must keep nothing up.

const PACKAGE = resolve(import.meta.dirname, '..');
/** Longest a script may live; past it, it is killed and the test fails. */
const CHILD_LIMIT_MS = 15_000;
/**
 * Appended to a script whose call is done: after one more turn of the event loop, it reports
 * on stderr what still holds the process (`process.getActiveResourcesInfo()`, less the stdio
 * pipes the test reads). Anything a done call could hold by mistake — the coarse timer's
 * interval, a retry or deadline timer, a socket — shows up there, without timing the exit.
 */
const REPORT_HOLDERS = `
await new Promise((resolve) => setImmediate(resolve));
console.error('holding ' + JSON.stringify(process.getActiveResourcesInfo().filter((kind) => kind !== 'PipeWrap' && kind !== 'TTYWrap')));
`;
/** What a script whose call is done must report: nothing holds it. */
const HOLDING_NOTHING = 'holding []';

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

let dir: string;
const children = new Set<ChildProcess>();
const servers: TestServer[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lifeline-lifetime-'));
  await mkdir(join(dir, 'node_modules', '@lifeline'), { recursive: true });
  await symlink(PACKAGE, join(dir, 'node_modules', '@lifeline', 'client'), 'dir');
});

afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `source` to `name` in the scripts' folder and runs it with only `env` set. */
async function run(name: string, source: string, env: Record<string, string>): Promise<Run> {
  const file = join(dir, name);
  await writeFile(file, source);
  const child = spawn(process.execPath, ['--no-warnings', '--conditions=@lifeline/source', file], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const limit = setTimeout(() => child.kill('SIGKILL'), CHILD_LIMIT_MS);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((done) =>
    child.on('exit', (exitCode, exitSignal) => done([exitCode, exitSignal])),
  );
  clearTimeout(limit);
  children.delete(child);
  return { code, signal, stdout, stderr };
}

/** A server that answers 503 with `Retry-After: 1` to the first request and 200 "hello" after. */
async function unavailableOnce(): Promise<TestServer> {
  const server = await startServer((_req, res, n) => {
    if (n === 1) res.writeHead(503, { 'retry-after': '1' }).end('busy');
    else res.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
  });
  servers.push(server);
  return server;
}

describe('a bare script whose call must wait to retry', { timeout: CHILD_LIMIT_MS + 5_000 }, () => {
  it('ESM with top-level await gets its answer and exits 0', async () => {
    const server = await unavailableOnce();
    const result = await run(
      'retry-after.mjs',
      `import { createClient } from '@lifeline/client';
const client = createClient({ name: 'orders', baseUrl: process.env.SERVER_URL });
const res = await client.get('/');
console.log(res.status, await res.body.text(), res.attempts);
${REPORT_HOLDERS}`,
      { SERVER_URL: server.url },
    );
    expect(result).toMatchObject({ code: 0, stdout: '200 hello 2\n' });
    expect(server.seen).toHaveLength(2);
    // Done waiting, done holding: nothing of the retried call is left to keep the process up.
    expect(result.stderr).toContain(HOLDING_NOTHING);
  });

  it('CommonJS (require) gets its answer and exits 0', async () => {
    const server = await unavailableOnce();
    const result = await run(
      'retry-after.cjs',
      `const { createClient } = require('@lifeline/client');
const client = createClient({ name: 'orders', baseUrl: process.env.SERVER_URL });
client.get('/').then(
  async (res) => console.log(res.status, await res.body.text()),
  (error) => console.log('failed', error.code),
);
`,
      { SERVER_URL: server.url },
    );
    expect(result).toMatchObject({ code: 0, stdout: '200 hello\n' });
  });

  it('a Retry-After wait longer than the attempt timeout still holds the process (the wait alone)', async () => {
    const server = await unavailableOnce();
    // With a 200 ms attempt timeout nothing of the first attempt is left during the ~1 s wait.
    const result = await run(
      'wait-alone.mjs',
      `import { createClient } from '@lifeline/client';
const client = createClient({ name: 'orders', baseUrl: process.env.SERVER_URL, attemptTimeout: 200 });
const res = await client.get('/');
console.log(res.status);
`,
      { SERVER_URL: server.url },
    );
    expect(result).toMatchObject({ code: 0, stdout: '200\n' });
  });

  it('the interceptor face (a Dispatcher for fetch / undici.request) holds the process the same way', async () => {
    const server = await unavailableOnce();
    const result = await run(
      'dispatcher.mjs',
      `import { createDispatcher } from '@lifeline/client';
const dispatcher = createDispatcher();
const res = await dispatcher.request({ origin: process.env.SERVER_URL, path: '/', method: 'GET' });
console.log(res.statusCode, await res.body.text());
${REPORT_HOLDERS}`,
      { SERVER_URL: server.url },
    );
    expect(result).toMatchObject({ code: 0, stdout: '200 hello\n' });
    expect(result.stderr).toContain(HOLDING_NOTHING);
  });

  it('a call that fails after its retries reports the typed error', async () => {
    const port = await closedPort();
    const result = await run(
      'refused.mjs',
      `import { createClient } from '@lifeline/client';
createClient({ name: 'orders', baseUrl: 'http://127.0.0.1:' + process.env.PORT }).get('/').then(
  (res) => console.log('answered', res.status),
  (error) => console.log('failed', error.name, error.code, error.attempts),
);
`,
      { PORT: String(port) },
    );
    expect(result).toMatchObject({ code: 0, stdout: 'failed LifelineError CONNECT 3\n' });
  });
});

describe('an idle client', { timeout: CHILD_LIMIT_MS + 5_000 }, () => {
  it('keeps nothing alive: a script that got its answer and never calls close() exits by itself at once', async () => {
    const server = await startServer((_req, res) => res.writeHead(200).end('hello'));
    servers.push(server);
    const result = await run(
      'idle.mjs',
      `import { createClient } from '@lifeline/client';
const client = createClient({ name: 'orders', baseUrl: process.env.SERVER_URL });
const res = await client.get('/');
console.log(res.status, await res.body.text());
${REPORT_HOLDERS}`,
      { SERVER_URL: server.url },
    );
    expect(result).toMatchObject({ code: 0, stdout: '200 hello\n' });
    // The keep-alive socket (undici unrefs an idle one), the deadline timer and the retry
    // state hold nothing once the call is done.
    expect(result.stderr).toContain(HOLDING_NOTHING);
  });
});
