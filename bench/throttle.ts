// Client-side adaptive throttling, the Google SRE book's experiment ("Handling Overload"):
// a client offers three times what its backend can take; the backend accepts at most C
// requests per second and rejects the rest. With @lifeline/breaker's AdaptiveThrottle in
// front of it (the real class, on simulated time), the requests that still reach the
// backend settle near K × what it accepts; the rest are rejected locally, at no cost to it.
//
//   pnpm -r --filter './packages/*' build && node bench/throttle.ts [--seed 1]
//
// Deterministic: simulated time (a ManualClock), Poisson arrivals and the throttle's draws
// from one seeded PRNG, so a seed gives the same figures on any machine. Second part: the
// backend refuses everything for 60 s, then can take all of the load again — how long until
// the offered load reaches it again, per window length. Third: the cost per attempt on the
// real clock.
import { AdaptiveThrottle } from '@lifeline/breaker';
import { ManualClock, seededRandom } from '@lifeline/core';

const CAPACITY = 100; // accepted per second
const OFFERED = 3 * CAPACITY; // offered per second
const WARMUP_S = 20;
const MEASURE_S = 100;
const seedArg = process.argv.indexOf('--seed');
const SEED = seedArg > 0 ? Number(process.argv[seedArg + 1]) : 1;

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
function steady(k: number | undefined): Counts {
  const random = seededRandom(SEED);
  const clock = new ManualClock(0);
  const throttle = k === undefined ? undefined : new AdaptiveThrottle({ k, clock, random });
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

/**
 * The backend refuses everything for 60 s, then can take all of the offered load: the seconds
 * after that until half, and until 90 %, of a second's offered load reaches it again.
 */
function recovery(windowMs: number, seed: number): { half: number; most: number } {
  const random = seededRandom(seed);
  const clock = new ManualClock(0);
  const throttle = new AdaptiveThrottle({ k: 2, windowMs, clock, random });
  const downUntil = 60_000;
  const offered = CAPACITY / 2;
  const backend = new Backend(CAPACITY);
  let now = 0;
  let second = -1;
  let offeredInSecond = 0;
  let reachedInSecond = 0;
  let half = Infinity;
  while (now < downUntil + 600_000) {
    now += (-Math.log(1 - random()) * 1_000) / offered;
    clock.advance(now - clock.now());
    const s = Math.floor(now / 1_000);
    if (s !== second) {
      if (second * 1_000 >= downUntil && offeredInSecond > 0) {
        const share = reachedInSecond / offeredInSecond;
        if (share >= 0.5 && half === Infinity) half = second + 1 - downUntil / 1_000;
        if (share >= 0.9) return { half, most: second + 1 - downUntil / 1_000 };
      }
      second = s;
      offeredInSecond = reachedInSecond = 0;
    }
    offeredInSecond++;
    if (!throttle.tryAcquire()) continue;
    reachedInSecond++;
    throttle.record(now >= downUntil && backend.offer(now));
  }
  return { half, most: Infinity };
}

const median = (values: number[]): number => values.sort((x, y) => x - y)[values.length >> 1]!;

const pct = (n: number, d: number): string => `${((100 * n) / d).toFixed(1)} %`;
console.log(`# throttle: offered ${OFFERED}/s (Poisson), backend accepts ≤ ${CAPACITY}/s; ${WARMUP_S} s warm-up, ${MEASURE_S} s measured; seed ${SEED}; Node ${process.version}`);
console.log('| client | reached / s | accepted / s | reached ÷ accepted | rejected locally | target | within 15 % |');
console.log('|---|---|---|---|---|---|---|');
let ok = true;
for (const k of [undefined, 2, 1.1]) {
  const c = steady(k);
  const ratio = c.reached / c.accepted;
  const target = k ?? OFFERED / CAPACITY;
  const within = Math.abs(ratio / target - 1) <= 0.15;
  if (k !== undefined) ok &&= within;
  console.log(
    `| ${k === undefined ? 'no throttle' : `K = ${k}`} | ${(c.reached / MEASURE_S).toFixed(1)} | ${(c.accepted / MEASURE_S).toFixed(1)} | ${ratio.toFixed(3)} | ${pct(c.rejectedLocally, c.offered)} | ${target} | ${k === undefined ? '—' : within ? 'yes' : 'NO'} |`,
  );
}
console.log('');
console.log(`# recovery: ${CAPACITY / 2}/s offered, the backend refuses everything for 60 s, then takes all of it; K = 2, minRequests 20; median of seeds ${SEED}–${SEED + 4}`);
console.log("| windowMs | until ≥ 50 % of a second's offered load reaches it | until ≥ 90 % |");
console.log('|---|---|---|');
for (const windowMs of [2_000, 5_000, 10_000, 30_000]) {
  const runs = [0, 1, 2, 3, 4].map((i) => recovery(windowMs, SEED + i));
  console.log(`| ${windowMs} | ${median(runs.map((r) => r.half))} s | ${median(runs.map((r) => r.most))} s |`);
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
