// Server-side benchmark: what @lifeline/server costs a service compared with the bare
// framework — node:http, Fastify 5 and Express 5, each bare and with Lifeline in its documented
// setup — measured side by side in one run.
//
//   node http-load.ts [--rounds 5] [--seconds 5] [--warmup 1] [--connections 64] [--threads 1]
//                     [--variants node,node-lifeline,fastify,fastify-lifeline,express,express-lifeline]
//                     [--handler hello|1ms|both] [--json]
//
// The load generator is wrk (`apt-get install wrk`), a process of its own. Every run starts a
// fresh server process (http-app.ts) pinned with taskset to one core and wrk pinned to the
// other, so neither steals the other's CPU; checks one response, warms the server up with wrk,
// then loads it for `seconds` over `connections` keep-alive connections, sampling the server's
// CPU time (over IPC) just before and after, and kills it. A round runs every variant once,
// forward in odd rounds and backward in even ones, so slow drift of the machine hits bare and
// Lifeline alike. Each Lifeline variant is divided by its bare framework in the same round, and
// its figure is the median of those per-round ratios: the goal is ≥ 0.95×, a ratio measured
// here, never an absolute number (those depend on the machine). Each run also reads how long
// the server and wrk were runnable but waiting for their CPU (the scheduler's own accounting),
// which tells a quiet run from one that shared its cores with other work.
//
// Every wrk and every server is bounded in time, a watchdog ends the benchmark if it overruns,
// and every child is killed on every exit path (errors, Ctrl-C, SIGTERM).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { AppMessage, DriverMessage } from './http-app.ts';

const VARIANTS: Record<string, { label: string; bare: string }> = {
  node: { label: 'node:http', bare: 'node' },
  'node-lifeline': { label: 'node:http + lifeline.handler()', bare: 'node' },
  fastify: { label: 'Fastify', bare: 'fastify' },
  'fastify-lifeline': { label: 'Fastify + lifelinePlugin', bare: 'fastify' },
  express: { label: 'Express', bare: 'express' },
  'express-lifeline': { label: 'Express + lifelineMiddleware', bare: 'express' },
};
const GOAL = 0.95;

function fail(message: string, code = 1): never {
  console.error(`http-load.ts: ${message}`);
  process.exit(code);
}

// ---------------------------------------------------------------------------------------
// Options and preconditions

// `pnpm run bench:http -- --json` passes the `--` through; skip it.
const argv = process.argv.slice(2);
const { values: flags } = parseArgs({
  args: argv[0] === '--' ? argv.slice(1) : argv,
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    connections: { type: 'string', default: '64' },
    threads: { type: 'string', default: '1' },
    variants: { type: 'string', default: Object.keys(VARIANTS).join(',') },
    handler: { type: 'string', default: 'both' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});
if (flags.help) {
  console.log(`usage: node http-load.ts [--rounds 5] [--seconds 5] [--warmup 1] [--connections 64] [--threads 1]
                         [--variants ${Object.keys(VARIANTS).join(',')}]
                         [--handler hello|1ms|both] [--json]`);
  process.exit(0);
}

/** A whole number of seconds or connections (wrk takes whole seconds); `min` 0 allows none. */
function count(name: string, raw: string, min = 1): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`, 64);
  return n;
}
const rounds = count('rounds', flags.rounds);
const seconds = count('seconds', flags.seconds);
const warmup = count('warmup', flags.warmup, 0);
const connections = count('connections', flags.connections);
const threads = count('threads', flags.threads);
if (threads > connections) fail('--threads must not exceed --connections (each wrk thread needs a connection)', 64);
const variants = flags.variants.split(',').filter((v) => v !== '');
for (const v of variants) if (VARIANTS[v] === undefined) fail(`unknown variant ${JSON.stringify(v)}; known: ${Object.keys(VARIANTS).join(', ')}`, 64);
if (variants.length === 0) fail('--variants is empty', 64);
if (!['hello', '1ms', 'both'].includes(flags.handler)) fail(`--handler must be hello, 1ms or both, got ${JSON.stringify(flags.handler)}`, 64);
const handlers = flags.handler === 'both' ? ['hello', '1ms'] : [flags.handler];

function installed(command: string, args: string[]): string {
  const probe = spawnSync(command, args, { encoding: 'utf8' });
  if (probe.error !== undefined) return '';
  return `${probe.stdout}${probe.stderr}`.split('\n', 1)[0]!.trim() || command;
}
const wrkVersion = installed('wrk', ['-v']);
if (wrkVersion === '') fail('wrk, the load generator, is not installed. On Debian or Ubuntu: apt-get install -y wrk');
if (installed('taskset', ['-V']) === '') fail('taskset (util-linux) is not installed; it pins the server and wrk to their cores');

/** The CPUs this process may use, from /proc/self/status (`0-1`, `0,2-3`). */
function allowedCpus(): number[] {
  const line = readFileSync('/proc/self/status', 'utf8').match(/^Cpus_allowed_list:\s*(.+)$/m)?.[1] ?? '';
  return line.split(',').flatMap((part) => {
    const [from, to = from] = part.split('-').map(Number);
    return from === undefined || to === undefined ? [] : Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
}
const [serverCpu, wrkCpu] = allowedCpus();
if (serverCpu === undefined || wrkCpu === undefined) fail('needs two CPUs: one for the server, one for wrk');

// The server resolves @lifeline/server to its built dist/: refuse to measure a missing build.
for (const entry of ['@lifeline/server', '@lifeline/server/fastify', '@lifeline/server/express']) {
  const file = fileURLToPath(import.meta.resolve(entry));
  if (!existsSync(file)) fail(`${entry} is not built (${file} is missing). Run \`pnpm -r --filter './packages/*' build\` first.`);
}

/**
 * A fingerprint of the packages' builds (every packages/<name>/dist file's path, size and mtime).
 * The working tree is shared: a rebuild during the benchmark would change what later servers
 * load, so each run records the build it saw and the summary says when they differ.
 */
function distBuild(): { stamp: string; builtAtMs: number } {
  const hash = createHash('sha1');
  let builtAtMs = 0;
  const packages = fileURLToPath(new URL('../packages/', import.meta.url));
  for (const name of readdirSync(packages).sort()) {
    const dist = join(packages, name, 'dist');
    if (!existsSync(dist)) continue;
    for (const file of (readdirSync(dist, { recursive: true }) as string[]).sort()) {
      const stat = statSync(join(dist, file));
      hash.update(`${name}/${file} ${stat.size} ${stat.mtimeMs}\n`);
      builtAtMs = Math.max(builtAtMs, stat.mtimeMs);
    }
  }
  return { stamp: hash.digest('hex').slice(0, 12), builtAtMs };
}

// ---------------------------------------------------------------------------------------
// Children: every one is tracked and killed on exit, whatever the exit path.

const children = new Set<ChildProcess>();
function track<C extends ChildProcess>(child: C): C {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

// wrk reports through a `done` hook: one line of JSON, latencies in µs.
const tmp = mkdtempSync(join(os.tmpdir(), 'lifeline-http-bench-'));
const script = join(tmp, 'report.lua');
writeFileSync(
  script,
  `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('wrk-result {"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`,
);

process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});
process.on('SIGINT', () => fail('SIGINT: stopped', 130));
process.on('SIGTERM', () => fail('SIGTERM: stopped', 143));
// The benchmark's own length, doubled, plus a minute: past it, something hangs.
const expectedS = rounds * handlers.length * variants.length * (warmup + seconds + 2);
setTimeout(() => fail(`watchdog: still running after ${expectedS * 2 + 60} s; giving up`, 2), (expectedS * 2 + 60) * 1_000).unref();

// ---------------------------------------------------------------------------------------
// One run: a fresh server, a check, a warm-up, the measured window.

interface App {
  child: ChildProcess;
  port: number;
}

function startApp(variant: string, handler: string): Promise<App> {
  const app = fileURLToPath(new URL('./http-app.ts', import.meta.url));
  // taskset execs node, which keeps the IPC descriptor: the child is the server itself.
  const child = track(
    spawn('taskset', ['-c', String(serverCpu), process.execPath, app, '--variant', variant, '--handler', handler], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${variant}: the server did not start within 10 s`)), 10_000);
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`${variant}: the server exited (code ${code}, signal ${signal})`)));
    child.on('message', (message: AppMessage) => {
      if (message.type !== 'listening') return;
      clearTimeout(timer);
      resolve({ child, port: message.port });
    });
  });
}

async function stopApp(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

let usageId = 0;
/** The server's CPU time (user + system, µs), the requests its handler has seen, Lifeline's shed and unfinished ones. */
function usage(child: ChildProcess): Promise<{ cpuUs: number; requests: number; shed: number; inFlight: number }> {
  const id = ++usageId;
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.reject(new Error(`the server exited during the run (code ${child.exitCode}, signal ${child.signalCode})`));
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not report its CPU within 5 s')), 5_000);
    child.on('message', function onMessage(message: AppMessage) {
      if (message.type !== 'usage' || message.id !== id) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(message);
    });
    child.send({ type: 'usage', id } satisfies DriverMessage);
  });
}

/** One response, checked: 200, `hello`, and an `x-request-id` exactly when Lifeline is on the path. */
async function check(port: number, variant: string): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5_000) });
  const body = await res.text();
  const lifeline = variant.endsWith('-lifeline');
  if (res.status !== 200 || body !== 'hello' || res.headers.has('x-request-id') !== lifeline) {
    throw new Error(`${variant}: unexpected answer ${res.status} ${JSON.stringify(body)} (x-request-id: ${res.headers.get('x-request-id')})`);
  }
}

interface Wrk {
  requests: number;
  durationUs: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  /** wrk's CPU and its wait for CPU over most of the run (from 0.2 s in to 0.2 s before the end), in cores. */
  cores: number;
  waitCores: number;
}

async function wrk(port: number, durationS: number): Promise<Wrk> {
  const args = ['-c', String(wrkCpu), 'wrk', '-t', String(threads), '-c', String(connections), '-d', `${durationS}s`];
  const child = track(spawn('taskset', [...args, '-s', script, `http://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), (durationS + 10) * 1_000);
  const samples: { at: number; runNs: number; waitNs: number }[] = [];
  const sample = (): number => samples.push({ at: performance.now(), ...schedstat(child.pid!) });
  const sampleTimers = [setTimeout(sample, 200), setTimeout(sample, durationS * 1_000 - 200)];
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  sampleTimers.forEach(clearTimeout);
  const line = out.split('\n').find((l) => l.startsWith('wrk-result '));
  if (code !== 0 || line === undefined) throw new Error(`wrk failed (code ${code}, signal ${signal}): ${out.trim()}`);
  const [s0, s1] = samples;
  const share = (ns: 'runNs' | 'waitNs'): number => (s0 === undefined || s1 === undefined ? NaN : (s1[ns] - s0[ns]) / ((s1.at - s0.at) * 1e6));
  return { ...(JSON.parse(line.slice('wrk-result '.length)) as Omit<Wrk, 'cores' | 'waitCores'>), cores: share('runNs'), waitCores: share('waitNs') };
}

/**
 * A task's time on a CPU and time spent runnable but waiting for one (ns), from the scheduler's
 * own accounting (`/proc/<pid>/task/<tid>/schedstat`), summed over `tids` (all the threads when
 * omitted). Precise, unlike the tick-sampled /proc/stat: the wait says how much other work on
 * the same core held the process back, which on a shared machine is what makes a run noisy.
 */
function schedstat(pid: number, tids?: number[]): { runNs: number; waitNs: number } {
  let runNs = 0;
  let waitNs = 0;
  try {
    for (const tid of tids ?? readdirSync(`/proc/${pid}/task`).map(Number)) {
      const [run = 0, wait = 0] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number);
      runNs += run;
      waitNs += wait;
    }
  } catch {
    return { runNs: NaN, waitNs: NaN }; // the process is gone
  }
  return { runNs, waitNs };
}

interface Run {
  handler: string;
  variant: string;
  round: number;
  /** Which build of the packages the server loaded (see `distStamp`). */
  build: string;
  requests: number;
  rps: number;
  errors: number;
  errorsBy: Pick<Wrk, 'connect' | 'read' | 'write' | 'status' | 'timeout'>;
  /** Lifeline's counts after the window: requests shed (in it) and not finished (0 for bare). */
  shed: number;
  inFlightAfter: number;
  /** Requests the server's handler saw during the window (wrk counts completed ones). */
  served: number;
  serverCpuUsPerReq: number;
  /** The server's CPU over the window, in cores: 1.00 is its core saturated. */
  serverCores: number;
  /** Share of the window the server's main thread was runnable but waiting for its core (other work on it). */
  serverWait: number;
  /** wrk's CPU over the window, in cores (1.00: wrk is the bottleneck), and its wait for CPU. */
  wrkCores: number;
  wrkWait: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

async function run(handler: string, variant: string, round: number): Promise<Run> {
  const { child, port } = await startApp(variant, handler);
  try {
    await check(port, variant);
    if (warmup > 0) await wrk(port, warmup);
    const u0 = await usage(child);
    const [q0, t0] = [schedstat(child.pid!, [child.pid!]).waitNs, performance.now()];
    const w = await wrk(port, seconds);
    const [q1, t1] = [schedstat(child.pid!, [child.pid!]).waitNs, performance.now()];
    const u1 = await usage(child);
    const cpuUs = u1.cpuUs - u0.cpuUs;
    const served = u1.requests - u0.requests;
    const wallUs = (t1 - t0) * 1_000;
    return {
      handler,
      variant,
      round,
      build: distBuild().stamp,
      requests: w.requests,
      rps: w.requests / (w.durationUs / 1e6),
      errors: w.connect + w.read + w.write + w.status + w.timeout,
      errorsBy: { connect: w.connect, read: w.read, write: w.write, status: w.status, timeout: w.timeout },
      shed: u1.shed - u0.shed,
      inFlightAfter: u1.inFlight,
      served,
      serverCpuUsPerReq: cpuUs / Math.max(1, served),
      serverCores: cpuUs / wallUs,
      serverWait: (q1 - q0) / 1_000 / wallUs,
      wrkCores: w.cores,
      wrkWait: w.waitCores,
      p50Ms: w.p50Us / 1_000,
      p99Ms: w.p99Us / 1_000,
      maxMs: w.maxUs / 1_000,
    };
  } finally {
    await stopApp(child);
  }
}

// ---------------------------------------------------------------------------------------
// Summary

function median(values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function fmt(n: number, digits = 1): string {
  return Number.isNaN(n) ? '–' : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function signed(n: number, digits = 1): string {
  return Number.isNaN(n) ? '–' : (n >= 0 ? '+' : '') + fmt(n, digits);
}

interface Summary {
  handler: string;
  variant: string;
  label: string;
  rps: number;
  rpsMin: number;
  rpsMax: number;
  /** Per round: this variant's req/s over its bare framework's in the same round (NaN for a bare one). */
  roundRatios: number[];
  ratio: number;
  /** Median over rounds of (server CPU µs/req − the bare framework's in the same round). */
  cpuDeltaUs: number;
  serverCpuUsPerReq: number;
  serverCores: number;
  serverWait: number;
  wrkCores: number;
  wrkWait: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

function summarise(runs: Run[]): Summary[] {
  return handlers.flatMap((handler) =>
    variants.map((variant) => {
      const own = runs.filter((r) => r.handler === handler && r.variant === variant);
      const { bare, label } = VARIANTS[variant]!;
      const paired = variant === bare ? [] : own.map((r) => [r, runs.find((b) => b.handler === handler && b.variant === bare && b.round === r.round)] as const);
      const roundRatios = paired.map(([r, b]) => (b === undefined ? NaN : r.rps / b.rps));
      return {
        handler,
        variant,
        label,
        rps: median(own.map((r) => r.rps)),
        rpsMin: Math.min(...own.map((r) => r.rps)),
        rpsMax: Math.max(...own.map((r) => r.rps)),
        roundRatios,
        ratio: median(roundRatios),
        cpuDeltaUs: median(paired.map(([r, b]) => (b === undefined ? NaN : r.serverCpuUsPerReq - b.serverCpuUsPerReq))),
        serverCpuUsPerReq: median(own.map((r) => r.serverCpuUsPerReq)),
        serverCores: median(own.map((r) => r.serverCores)),
        serverWait: median(own.map((r) => r.serverWait)),
        wrkCores: median(own.map((r) => r.wrkCores)),
        wrkWait: median(own.map((r) => r.wrkWait)),
        p50Ms: median(own.map((r) => r.p50Ms)),
        p99Ms: median(own.map((r) => r.p99Ms)),
        errors: own.reduce((sum, r) => sum + r.errors, 0),
      };
    }),
  );
}

function ratioCell(s: Summary): string {
  if (s.variant === VARIANTS[s.variant]!.bare) return 'bare';
  const valid = s.roundRatios.filter((r) => !Number.isNaN(r));
  if (valid.length === 0) return '–';
  return `${fmt(s.ratio, 3)} (${fmt(Math.min(...valid), 3)}–${fmt(Math.max(...valid), 3)})`;
}

function table(summaries: Summary[], handler: string): string {
  const lines = [
    `handler: ${handler === 'hello' ? "hello world (res.end('hello'))" : "1 ms (answers 'hello' after setTimeout 1)"}`,
    '',
    '| variant | req/s (median) | req/s min–max | × bare (per-round range) | server CPU µs/req | Δ µs vs bare | server CPU (cores) | server waited for CPU | wrk CPU (cores) | p50 ms | p99 ms | errors |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const s of summaries.filter((x) => x.handler === handler)) {
    const bare = s.variant === VARIANTS[s.variant]!.bare;
    lines.push(
      `| ${s.label} | ${fmt(s.rps, 0)} | ${fmt(s.rpsMin, 0)}–${fmt(s.rpsMax, 0)} | ${ratioCell(s)} | ${fmt(s.serverCpuUsPerReq, 2)} | ` +
        `${bare ? '0' : signed(s.cpuDeltaUs, 2)} | ${fmt(s.serverCores, 2)} | ${fmt(s.serverWait * 100, 1)} % | ${fmt(s.wrkCores, 2)} | ${fmt(s.p50Ms, 2)} | ${fmt(s.p99Ms, 2)} | ${s.errors} |`,
    );
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------
// Main

const require = createRequire(import.meta.url);
/**
 * What was measured: HEAD, the uncommitted changes under packages/, and when the packages were
 * last built. The build comes from the working tree, which others may change: a commit to
 * packages/ newer than the build means the build may not be HEAD's.
 */
function git(...args: string[]): string {
  return spawnSync('git', args, { encoding: 'utf8', cwd: fileURLToPath(new URL('.', import.meta.url)) }).stdout?.trim() ?? '';
}
const env = {
  date: new Date().toISOString(),
  commit: git('rev-parse', 'HEAD'),
  packagesChanged: git('status', '--porcelain', '--', '../packages').split('\n').filter((l) => l !== ''),
  packagesCommittedAt: new Date(Number(git('log', '-1', '--format=%ct', '--', '../packages')) * 1_000).toISOString(),
  packagesBuiltAt: new Date(distBuild().builtAtMs).toISOString(),
  node: process.version,
  fastify: (require('fastify/package.json') as { version: string }).version,
  express: (require('express/package.json') as { version: string }).version,
  wrk: wrkVersion,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.availableParallelism(),
  serverCpu,
  wrkCpu,
  platform: `${os.type()} ${os.release()} ${os.arch()}`,
  loadavgStart: os.loadavg(),
  loadavgEnd: [] as number[],
};
const config = { rounds, seconds, warmup, connections, threads, variants, handlers };

console.log(
  `# http: ${variants.join(' / ')} × ${handlers.join(' / ')} — wrk -t${threads} -c${connections}, ` +
    `${rounds} rounds × (${warmup} s warm-up + ${seconds} s), a fresh server per run on CPU ${serverCpu}, wrk on CPU ${wrkCpu}`,
);
console.log(`# ${env.node}, fastify ${env.fastify}, express ${env.express}, ${env.wrk}, ${env.cores} cores (${env.cpu}), ${env.platform}`);
console.log(`# commit ${env.commit.slice(0, 12)}${env.packagesChanged.length > 0 ? ` (packages/ has ${env.packagesChanged.length} uncommitted changes)` : ''}`);
console.log(`# packages last built ${env.packagesBuiltAt}, last committed ${env.packagesCommittedAt}`);
if (env.packagesCommittedAt > env.packagesBuiltAt) console.log('# note: packages/ has a commit newer than its build: the build may not be HEAD\'s');
console.log(`# load average: ${env.loadavgStart.map((l) => fmt(l, 2)).join(' ')}`);
if (env.loadavgStart[0]! > 1) console.log('# note: the 1-minute load average is above 1: other work shares the machine, so runs are noisier');

const runs: Run[] = [];
const order = handlers.flatMap((handler) => variants.map((variant) => ({ handler, variant })));
try {
  for (let round = 1; round <= rounds; round++) {
    // Forward, then backward: each variant runs early and late in a round equally often.
    for (const { handler, variant } of round % 2 === 1 ? order : [...order].reverse()) {
      const r = await run(handler, variant, round);
      runs.push(r);
      console.log(
        `round ${round} ${handler.padEnd(5)} ${variant.padEnd(16)} ${fmt(r.rps, 0).padStart(8)} req/s  server ${fmt(r.serverCpuUsPerReq, 2).padStart(6)} µs/req ` +
          `${fmt(r.serverCores, 2)} cores, waited ${fmt(r.serverWait * 100, 1)} %; wrk ${fmt(r.wrkCores, 2)} cores, waited ${fmt(r.wrkWait * 100, 1)} %  p50 ${fmt(r.p50Ms, 2)} ms p99 ${fmt(r.p99Ms, 2)} ms` +
          (r.errors > 0 ? `  ERRORS ${JSON.stringify(r.errorsBy)}` : '') +
        (r.shed > 0 || r.inFlightAfter > 0 ? `  lifeline: ${r.shed} shed, ${r.inFlightAfter} unfinished` : ''),
      );
    }
  }
} catch (error) {
  fail(`failed: ${error instanceof Error ? error.message : String(error)}`);
}
env.loadavgEnd = os.loadavg();

const summaries = summarise(runs);
for (const handler of handlers) console.log(`\n${table(summaries, handler)}`);
console.log('');
for (const s of summaries) {
  if (s.variant === VARIANTS[s.variant]!.bare || Number.isNaN(s.ratio)) continue;
  console.log(
    `${s.handler} ${s.label}: ${fmt(s.ratio, 3)}× bare (per round ${s.roundRatios.map((r) => fmt(r, 3)).join(', ')}), ` +
      `${signed(s.cpuDeltaUs, 2)} µs server CPU/request — goal ≥ ${GOAL}×: ${s.ratio >= GOAL ? 'met' : 'NOT met'}`,
  );
}
console.log(`# load average at the end: ${env.loadavgEnd.map((l) => fmt(l, 2)).join(' ')}`);
const builds = [...new Set(runs.map((r) => r.build))];
if (builds.length > 1) console.log(`# note: packages/*/dist changed during the run (builds ${builds.join(', ')}): runs loaded different builds`);
const waits = runs.map((r) => Math.max(r.serverWait, r.wrkWait));
if (median(waits) > 0.05) {
  console.log(
    `# note: in half the runs the server or wrk waited for its CPU over ${fmt(median(waits) * 100, 0)} % of the window: ` +
      'other work shared the cores, so the figures are noisy',
  );
}
const failed = summaries.some((s) => s.errors > 0);
if (failed) console.error('http-load.ts: some requests failed (see the errors column); the figures are not comparable');

if (flags.json) {
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}http-${env.date.replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, JSON.stringify({ env, config, summaries, runs }, null, 2) + '\n');
  console.log(`wrote ${file}`);
}
process.exit(failed ? 1 : 0);
