// The retry budget across a fleet: 1,000 client instances, each with its own RetryPolicy and
// RetryBudget from @lifeline/retry (the built dist), each sending 10 requests/s to one
// dependency, in simulated time (1 ms steps, seeded, deterministic: no network, no waiting).
//
//   pnpm --filter @lifeline/retry build && cd bench && node retry-fleet.ts
//
// Scenario 1: healthy for 10 s, down for 30 s (every attempt fails), healthy for 10 s. The
// load the dependency sees while down — attempts sent per request sent — over the 30 s and
// over its first 5 s, the retries per instance, and the load in the 10 s after recovery.
// Scenario 2: p % of attempts fail at random (no outage) for 40 s: the load, and the share
// of failed requests (first attempt failed) that a retry rescued.
//
// Clients: a naive one (4 attempts, no budget), the budget as it was (the window alone,
// 20 % + 10 retries/s over 10 s: `maxTokens: Infinity`), and the budget's defaults (the
// window gated by a success-fed token bucket: 10 tokens, 0.1 per success), and the same with
// 0.2 per success (the trade-off: retries kept up to a higher failure rate, for up to 20 %
// more load instead of 10 %). 3 attempts each but the naive client; full-jitter exponential
// backoff from 100 ms; a 10 s deadline.
import { seededRandom, type Clock } from '@lifeline/core';
import { ExponentialBackoff, RetryPolicy, type RetryBudgetOptions } from '@lifeline/retry';

const INSTANCES = Number(process.env.INSTANCES ?? 1_000);
const SEED = Number(process.env.SEED ?? 1);

interface Client {
  name: string;
  maxAttempts: number;
  budget: RetryBudgetOptions | false;
}

const CLIENTS: Client[] = [
  { name: 'naive (3 retries, no budget)', maxAttempts: 4, budget: false },
  { name: 'old defaults (window only)', maxAttempts: 3, budget: { maxTokens: Infinity } },
  { name: 'new defaults', maxAttempts: 3, budget: {} },
  { name: 'new, tokenRatio: 0.2', maxAttempts: 3, budget: { tokenRatio: 0.2 } },
];

interface Fleet {
  downFrom: number;
  downTo: number;
  failureRate: number;
  until: number;
}

interface Counts {
  requests: number;
  attempts: number;
}

interface Run {
  down: Counts;
  first5s: Counts;
  after: Counts;
  all: Counts;
  failed: number;
  rescued: number;
}

interface Call {
  policy: RetryPolicy;
  start: number;
  attempt: number;
  previousDelayMs: number;
  firstFailed: boolean;
}

function simulate(client: Client, fleet: Fleet): Run {
  const random = seededRandom(SEED);
  let now = 0;
  const clock: Clock = { now: () => now };
  const byPhase: RetryPolicy[][] = Array.from({ length: 100 }, () => []);
  for (let i = 0; i < INSTANCES; i++) {
    const budget = client.budget === false ? false : { ...client.budget, clock };
    const policy = new RetryPolicy({ maxAttempts: client.maxAttempts, backoff: new ExponentialBackoff({ random }), random, budget });
    byPhase[Math.floor(random() * 100)]!.push(policy);
  }
  const counts = (): Counts => ({ requests: 0, attempts: 0 });
  const run: Run = { down: counts(), first5s: counts(), after: counts(), all: counts(), failed: 0, rescued: 0 };
  const count = (c: Counts, first: boolean): void => {
    c.attempts++;
    if (first) c.requests++;
  };
  const due: (Call[] | undefined)[] = [];
  const input = { attempt: 1, status: 0, remainingMs: 0, previousDelayMs: 0 };
  const send = (call: Call): void => {
    const first = call.attempt === 1;
    const down = now >= fleet.downFrom && now < fleet.downTo;
    count(run.all, first);
    if (down) count(run.down, first);
    if (down && now < fleet.downFrom + 5_000) count(run.first5s, first);
    if (now >= fleet.downTo && now < fleet.downTo + 10_000) count(run.after, first);
    const failed = down || random() < fleet.failureRate;
    if (first && failed && !down) {
      call.firstFailed = true;
      run.failed++;
    }
    input.attempt = call.attempt;
    input.status = failed ? 503 : 200;
    input.remainingMs = 10_000 - (now - call.start);
    input.previousDelayMs = call.previousDelayMs;
    const decision = call.policy.decide(input);
    if (!failed) {
      if (call.firstFailed) run.rescued++;
      return;
    }
    if (!decision.retry) return;
    call.attempt++;
    call.previousDelayMs = decision.delayMs;
    const at = now + Math.max(1, Math.ceil(decision.delayMs));
    (due[at] ??= []).push(call);
  };
  for (; now < fleet.until; now++) {
    if (now < fleet.until - 5_000) {
      for (const policy of byPhase[now % 100]!) {
        policy.recordCall();
        send({ policy, start: now, attempt: 1, previousDelayMs: 0, firstFailed: false });
      }
    }
    const retries = due[now];
    if (retries !== undefined) {
      due[now] = undefined;
      for (const call of retries) send(call);
    }
  }
  return run;
}

const x = (c: Counts): string => `${(c.attempts / c.requests).toFixed(3)}×`;
const pad = (s: string, n: number): string => s.padEnd(n);

console.log(`retry budget across a fleet: ${INSTANCES} instances × 10 requests/s, simulated time, seed ${SEED}\n`);
console.log('Dependency down from 10 s to 40 s (every attempt fails):\n');
console.log('| client | amplification while down (30 s) | first 5 s | retries per instance while down | 10 s after recovery |');
console.log('|---|---|---|---|---|');
for (const client of CLIENTS) {
  const run = simulate(client, { downFrom: 10_000, downTo: 40_000, failureRate: 0, until: 55_000 });
  const retries = (run.down.attempts - run.down.requests) / INSTANCES;
  console.log(`| ${pad(client.name, 30)} | ${x(run.down)} | ${x(run.first5s)} | ${retries.toFixed(1)} | ${x(run.after)} |`);
}

console.log('\nAttempts failing at random, no outage (40 s of requests):\n');
console.log('| client | failures | amplification | failed requests | rescued by a retry |');
console.log('|---|---|---|---|---|');
for (const rate of [0.01, 0.05, 0.1, 0.2, 0.5]) {
  for (const client of CLIENTS) {
    const run = simulate(client, { downFrom: Infinity, downTo: Infinity, failureRate: rate, until: 45_000 });
    const rescued = `${((100 * run.rescued) / run.failed).toFixed(2)} %`;
    console.log(`| ${pad(client.name, 30)} | ${String(rate * 100).padStart(2)} % | ${x(run.all)} | ${run.failed} | ${rescued} |`);
  }
}
