// Client-side adaptive throttling, the Google SRE book's experiment ("Handling Overload"):
// a client offers three times what its backend can take; the backend accepts at most C
// requests per second and rejects the rest. With @lifeline/breaker's AdaptiveThrottle in
// front of it (the real class, on simulated time), the requests that still reach the
// backend settle near K × what it accepts; the rest are rejected locally, at no cost to it.
//
//   pnpm -r --filter './packages/*' build && node bench/throttle.ts [--seed 1]
//
// Deterministic: simulated time (a ManualClock), Poisson arrivals and the throttle's draws
// from one seeded PRNG, so a seed gives the same figures on any machine. Second part: a total
// outage — the backend refuses everything for 60 s, then takes all of the load again: how
// soon the throttle rejects ≥ 90 % of the attempts, what still reaches the dead backend, and
// how soon after it is back nothing is rejected, with a 10 s window and no cap (the SRE
// book's formula as it is) and with a 5 s window and the rejection probability capped at 0.9,
// and around them.
// Third: the cost per attempt on the real clock.
import { AdaptiveThrottle } from '@lifeline/breaker';
import { ManualClock, seededRandom } from '@lifeline/core';

const CAPACITY = 100; // accepted per second
const OFFERED = 3 * CAPACITY; // offered per second
const WARMUP_S = 20;
const MEASURE_S = 100;
const seedArg = process.argv.indexOf('--seed');
const SEED = seedArg > 0 ? Number(process.argv[seedArg + 1]) : 1;

/** The throttle's settings a row compares. */
interface Settings {
  windowMs: number;
  buckets: number;
  minRequests: number;
  maxRejectionProbability: number;
}
const OLD: Settings = { windowMs: 10_000, buckets: 10, minRequests: 20, maxRejectionProbability: 1 };
const NEW: Settings = { windowMs: 5_000, buckets: 10, minRequests: 10, maxRejectionProbability: 0.9 };
const OLD_LABEL = '10 s, minRequests 20, no cap';
const NEW_LABEL = '5 s, minRequests 10, cap 0.9';

/** A backend that accepts at most `perSecond` requests per second (a token bucket holding 100 ms of them) and rejects the rest. */
class Backend {
  perSecond: number;
  #tokens: number;
  #at = 0;
  constructor(perSecond: number) {
    this.perSecond = perSecond;
    this.#tokens = perSecond / 10;
  }
  offer(now: number): boolean {
    this.#tokens = Math.min(this.perSecond / 10, this.#tokens + ((now - this.#at) * this.perSecond) / 1_000);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }
}

interface Counts {
  offered: number;
  reached: number;
  accepted: number;
  rejectedLocally: number;
}

/** Offers Poisson arrivals at `OFFERED`/s for `WARMUP_S + MEASURE_S` simulated seconds; counts the measured part. */
function steady(k: number | undefined, settings: Settings): Counts {
  const random = seededRandom(SEED);
  const clock = new ManualClock(0);
  const throttle = k === undefined ? undefined : new AdaptiveThrottle({ k, ...settings, clock, random });
  const backend = new Backend(CAPACITY);
  const counts: Counts = { offered: 0, reached: 0, accepted: 0, rejectedLocally: 0 };
  const end = (WARMUP_S + MEASURE_S) * 1_000;
  let now = 0;
  for (;;) {
    now += (-Math.log(1 - random()) * 1_000) / OFFERED;
    if (now >= end) break;
    clock.advance(now - clock.now());
    const measured = now >= WARMUP_S * 1_000;
    if (measured) counts.offered++;
    if (throttle !== undefined && !throttle.tryAcquire()) {
      if (measured) counts.rejectedLocally++;
      continue;
    }
    const ok = backend.offer(now);
    throttle?.record(ok);
    if (measured) {
      counts.reached++;
      if (ok) counts.accepted++;
    }
  }
  return counts;
}

interface Outage {
  /** From the outage starting until the rejection probability is ≥ 0.9 (or at the cap, when that is lower), ms. */
  detect: number;
  /** The share of the offered attempts that still reached the dead backend over the last 30 s of the outage. */
  leak: number;
  /** From the backend recovering until the rejection probability is ≤ 0.05 — ≥ 95 % of the attempts sent — ms. */
  most: number;
  /** From the backend recovering until the rejection probability is 0, ms. */
  all: number;
}

/**
 * Healthy for 30 s, then the backend refuses everything for 60 s (a total outage), then it
 * accepts everything again; Poisson arrivals at `perSecond`, K = 2. The probability is read
 * before each attempt: it is the share of the attempts rejected, in expectation.
 */
function outage(settings: Settings, perSecond: number, seed: number): Outage {
  const random = seededRandom(seed);
  const clock = new ManualClock(0);
  const throttle = new AdaptiveThrottle({ k: 2, ...settings, clock, random });
  const down = 30_000;
  const up = down + 60_000;
  const detected = Math.min(0.9, settings.maxRejectionProbability);
  const result: Outage = { detect: Infinity, leak: 0, most: Infinity, all: Infinity };
  let offered = 0;
  let reached = 0;
  let now = 0;
  while (now < up + 600_000) {
    now += (-Math.log(1 - random()) * 1_000) / perSecond;
    clock.advance(now - clock.now());
    const p = throttle.rejectionProbability;
    if (now >= down && now < up && result.detect === Infinity && p >= detected) result.detect = now - down;
    if (now >= up) {
      if (result.most === Infinity && p <= 0.05) result.most = now - up;
      if (p === 0) {
        result.all = now - up;
        break;
      }
    }
    const late = now >= up - 30_000 && now < up;
    if (late) offered++;
    if (!throttle.tryAcquire()) continue;
    if (late) reached++;
    throttle.record(now < down || now >= up);
  }
  result.leak = reached / offered;
  return result;
}

const SEEDS = 40;
const median = (values: number[]): number => [...values].sort((x, y) => x - y)[values.length >> 1]!;
const pct = (n: number, d: number): string => `${((100 * n) / d).toFixed(1)} %`;
const seconds = (ms: number): string => (ms === Infinity ? 'never' : `${(ms / 1_000).toFixed(1)} s`);

function outageRow(label: string, settings: Settings, perSecond: number): string {
  const runs = Array.from({ length: SEEDS }, (_, i) => outage(settings, perSecond, SEED + i));
  const pick = (f: (o: Outage) => number): string => {
    const values = runs.map(f);
    const sorted = values.sort((x, y) => x - y);
    return `${seconds(sorted[sorted.length >> 1]!)} (${seconds(sorted[Math.floor(sorted.length * 0.9)]!)}, ${seconds(sorted[sorted.length - 1]!)})`;
  };
  return `| ${label} | ${perSecond} | ${pick((r) => r.detect)} | ${pct(median(runs.map((r) => r.leak)), 1)} | ${pick((r) => r.most)} | ${pick((r) => r.all)} |`;
}

console.log(`# throttle: offered ${OFFERED}/s (Poisson), backend accepts ≤ ${CAPACITY}/s; ${WARMUP_S} s warm-up, ${MEASURE_S} s measured; seed ${SEED}; Node ${process.version}`);
console.log('| client | reached / s | accepted / s | reached ÷ accepted | rejected locally | target | within 15 % |');
console.log('|---|---|---|---|---|---|---|');
let ok = true;
for (const [label, settings] of [[OLD_LABEL, OLD], [NEW_LABEL, NEW]] as const) {
  for (const k of [undefined, 2, 1.1]) {
    if (k === undefined && settings === NEW) continue;
    const c = steady(k, settings);
    const ratio = c.reached / c.accepted;
    const target = k ?? OFFERED / CAPACITY;
    const within = Math.abs(ratio / target - 1) <= 0.15;
    if (k !== undefined) ok &&= within;
    console.log(
      `| ${k === undefined ? 'no throttle' : `K = ${k}, ${label}`} | ${(c.reached / MEASURE_S).toFixed(1)} | ${(c.accepted / MEASURE_S).toFixed(1)} | ${ratio.toFixed(3)} | ${pct(c.rejectedLocally, c.offered)} | ${target} | ${k === undefined ? '—' : within ? 'yes' : 'NO'} |`,
    );
  }
}

const OUTAGE_HEADER =
  '| throttle | offered / s | (a) outage → ≥ 90 % rejected | reaching the dead backend | (b) back → ≥ 95 % sent | (b) back → nothing rejected |\n|---|---|---|---|---|---|';
console.log('');
console.log(`# total outage: healthy for 30 s, the backend refuses everything for 60 s, then takes all of it; K = 2; median (90th percentile, worst) of seeds ${SEED}–${SEED + SEEDS - 1}`);
console.log(OUTAGE_HEADER);
for (const perSecond of [20, 200]) {
  console.log(outageRow(OLD_LABEL, OLD, perSecond));
  console.log(outageRow(NEW_LABEL, NEW, perSecond));
}
console.log('');
console.log('# around 5 s, minRequests 10, cap 0.9: one setting changed at a time (below a cap of 0.9, (a) is until the probability reaches the cap)');
console.log(OUTAGE_HEADER);
for (const perSecond of [20, 200]) {
  for (const cap of [1, 0.95, 0.8]) console.log(outageRow(`cap ${cap}`, { ...NEW, maxRejectionProbability: cap }, perSecond));
  for (const windowMs of [2_000, 10_000]) console.log(outageRow(`${windowMs / 1_000} s window`, { ...NEW, windowMs }, perSecond));
}
for (const perSecond of [2, 5]) {
  console.log(outageRow(OLD_LABEL, OLD, perSecond));
  console.log(outageRow(NEW_LABEL, NEW, perSecond));
  console.log(outageRow('minRequests 20', { ...NEW, minRequests: 20 }, perSecond));
}

// The cost per attempt on the real clock (performance.now()): what every client pays per
// attempt while its dependency is healthy (the probability is 0), and while it throttles.
// Wall-clock, so unlike the figures above it depends on the machine and its load.
function cost(label: string, accept: boolean): void {
  const throttle = new AdaptiveThrottle({ random: seededRandom(SEED) });
  const n = 5_000_000;
  const runs: number[] = [];
  for (let round = 0; round < 5; round++) {
    const start = performance.now();
    for (let i = 0; i < n; i++) if (throttle.tryAcquire()) throttle.record(accept || (i & 3) === 0);
    runs.push(((performance.now() - start) * 1e6) / n);
  }
  console.log(`| ${label} | ${median(runs).toFixed(1)} ns | ${Math.min(...runs).toFixed(1)} ns |`);
}
console.log('');
console.log('# cost per attempt: tryAcquire() + record() on the system clock, 5 × 5M attempts');
console.log('| dependency | median | best |');
console.log('|---|---|---|');
cost('healthy (probability 0)', true);
cost('accepting 1 in 4 (throttling)', false);

if (!ok) process.exitCode = 1;
