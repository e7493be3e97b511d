import type { Mode, ScenarioName } from './types.ts';

// The order service's Lifeline client for payment, as apps/order-service configures it: a 2 s
// deadline, 600 ms per attempt, 3 attempts with a jittered exponential backoff (100 ms base)
// inside a retry budget (20 % of calls, at least 10/s, while its token bucket — drained by
// failures, refilled by successes — stays above half), an adaptive throttle (K = 2 over 5 s),
// and a breaker per payment endpoint (opens at ≥ 50 % failures over ≥ 20 calls in 10 s,
// 5 failures in a row, or calls slower than 1.6 s; open 5 s, then 3 probes). While a breaker
// is open the pool checks the endpoint's /health/ready every 500 ms and a passing check ends
// the break; while every breaker is open, POST /orders answers 202 pending_payment at once
// and the outbox waits as long as the error says (at most one check interval) before trying again.
//
// The peers (apps/order-service/src/peers) as their docs configure them: handmade's opossum
// breakers open at ≥ 50 % errors over ≥ 10 calls and stay open 30 s; cockatiel's open after
// 5 failures in a row and stay open 10 s; retry-agent has no breaker, no budget, no throttle.

const BREAKER =
  'Lifeline\'s breakers opened during the fault; once it is cleared, the next health check of each open endpoint (every 500 ms) ends its break and three probes close it, and until then orders are answered 202 pending_payment at once. A client with no breaker (naive, retry-agent) sends its first call after the fault straight through. Up to one check interval and a probe round trip is the price of not hammering a service that is down.';

const LATE_ATTEMPTS =
  'every call counted as paid started in the last 2 s of the fault (the per-second series in scenarios.json, all three runs): a client with no breaker keeps sending into the fault, and a later attempt of those calls landed after it was cleared. Lifeline\'s breakers had opened, so its calls of the fault were answered 202 pending_payment without calling payment, and the outbox charged them once the fault was over.';

// Measured, `demo scenario <name> --clients lifeline`, one run each, with the pool's health
// check turned off (`healthCheck: false`) against the same session's run with it on.
const HEALTH_CHECK =
  'the fault is on POST /charges only, so payment\'s /health/ready keeps answering 200: every 500 ms a health check ends the break of an open endpoint, and its three probes are charges that meet the fault before the breaker opens again. Measured, one run each with the health check off: retry-storm 1.02× (1.08× with it) but 391 ms to recover (22 ms); cascade 1.03× but 1812 ms (this run: 1.11×, 290 ms). Cockatiel\'s breakers stay open 10 s and then let one call through: fewer charges during the fault, and 5–6.5 s to recover (time to recover).';

// The outbox: 20 orders per 500 ms round, and each order's wait doubles per failed attempt.
const BACKLOG =
  'the outbox charges at most 20 orders per 500 ms round (40/s), so a backlog of ~300 orders takes ~7.5 s for any client. Lifeline left every order of the fault pending (cascade 289–338, retry-storm 324–339; retry-agent 266–302), and its outbox\'s charges during the fault failed at once on open breakers where retry-agent\'s each took up to 2 s, so its orders went through more failed attempts, each doubling the order\'s next wait (0.5 s up to 10 s) — measured in one more cascade run each: 529 failed charge attempts over 336 orders (p90 3, max 4 per order) against retry-agent\'s 294 over 275 (max 2). The naive client leaves no backlog in the cascade: its calls of the fault hang on the slow payment and are paid when the fault ends (its 7.5 s).';

// `demo scenario lost-response --clients lifeline`, one run each on this machine, the client
// changed for the experiment only (the bucket off: `maxTokens: Infinity`; the breakers not
// counting closed connections: `isFailure`).
const LOST =
  'at 50 % lost, one call in eight loses all three of its answers, and the retry budget\'s token bucket (refilled 0.1 per success, gRPC\'s retry throttling) sits near the line where it empties: a burst of such calls takes it below half, retries stop, every call whose first answer is lost then ends unpaid, and the bucket stays empty — the state gRPC\'s throttling is built to reach above ~9 % failures, where retries more often feed an overload than rescue calls. The breakers no longer count an answer that a keyed retry\'s replay shows was lost after the work was done (idempotent-replayed), but once the bucket stops retries nothing shows it, those answers count as failures and the breakers open. Measured, paid at once during the fault: 28–33 % in this run\'s three. Before lost answers shown done stopped counting (22 % then, one run): with the bucket off 29 %, with the breakers not counting closed connections at all 48 %, with both 75 % at 1.34× the load. The naive client\'s paid figure includes the orders it charged twice (duplicate charges); retry-agent retries every lost answer with no budget and no breaker; handmade\'s p-retry has no budget either and retries until its opossum breakers (≥ 50 % errors over ≥ 10 calls, open 30 s) open, which at 50 % lost comes at random.';

/**
 * Why Lifeline can do worse than another client on a figure: by scenario, figure and client,
 * by scenario and figure, or by figure alone — the mechanism, and where it was measured the
 * figure, so that the report explains a loss instead of hiding it. The report prints one only
 * where the measured figures show the loss.
 */
const REASONS: Record<string, string> = {
  recovery: BREAKER,
  pending:
    'the outbox charges pending orders through the same client: while every breaker is open it waits as long as the error says (at most one health-check interval), and between attempts each order backs off (0.5 s doubling, up to 10 s), so some orders were still pending when the settle wait ended — they are safe in the outbox and are charged later, once each. The naive outbox retries sooner and without a key.',
  backlog: BACKLOG,
  'lost-response.backlog':
    'the backlog is the orders left pending, and the outbox charges at most 40 a second: Lifeline left 195–215 (paid at once above), naive 32–40 and retry-agent 37–44 — about 5 s against 1 s. Its orders also went through more failed attempts (one more run: 306 over 228 orders, max 3; retry-agent 43 over 38, max 2).',
  'cascade.paidFault.naive':
    'the naive calls counted as paid started in the last seconds of the fault but waited in the caller\'s own connection pool (64 connections, all taken by order calls stuck on the slow payment) and reached payment only after the fault was cleared — the cascade reaching the caller. Lifeline answered every call of the fault within its 2 s deadline, as 202 pending_payment.',
  'cascade.paidFault': LATE_ATTEMPTS,
  'cascade.amplification.naive':
    'Lifeline gives up on a slow attempt after 600 ms and retries inside its budget, and the outbox tries pending orders again; the naive client has no timeout, so it sends each charge once and waits as long as it takes — holding the order call past the caller\'s timeout (see the success rate).',
  'cascade.amplification': HEALTH_CHECK,
  'retry-storm.amplification': HEALTH_CHECK,
  'lost-response.amplification':
    'a client that pays fewer orders at once sends fewer charges during the fault: cockatiel\'s breakers (5 failures in a row, open 10 s) stopped nearly every charge (paid at once 4 %), and the outbox charged those orders later, once each. Lifeline retries a lost answer inside its budget, and the replay answers from payment\'s idempotency store.',
  'retry-storm.paidFault': LATE_ATTEMPTS,
  'retry-storm.p99':
    'Lifeline retries a 503 after a jittered exponential backoff (100 ms base) until its budget or a breaker stops it; the naive client\'s three attempts are 50 ms apart, so it answers 202 sooner — at the cost of the load on payment (amplification).',
  'retry-storm.p99Fault':
    'Lifeline retries a 503 after a jittered exponential backoff (100 ms base) until its budget or a breaker stops it; the naive client\'s three attempts are 50 ms apart, so it answers 202 sooner — at the cost of the load on payment (amplification).',
  'lost-response.paidFault': LOST,
  'lost-response.p99':
    'a lost response costs Lifeline a retry after a jittered backoff (100 ms base), answered from payment\'s idempotency store; the naive client retries after 50 ms and charges again.',
  'lost-response.p99Fault':
    'a lost response costs Lifeline a retry after a jittered backoff (100 ms base), answered from payment\'s idempotency store; the naive client retries after 50 ms and charges again.',
  'metastable.amplification':
    'the load is charges received ÷ orders created, and an order left pending is not charged: a client that collapsed (handmade: hundreds still pending after the settle wait, no goodput after the fault) or whose breakers stopped calling for 10 s at a time (cockatiel) sent fewer charges per order. Lifeline retries a timed-out charge inside its budget and its throttle, and paid every order, within the ≤ 1.2× the overload issue set.',
  'metastable.paidFault':
    'retry-agent has no breaker, no budget and no throttle: every call keeps its three attempts, and some find a free worker — at 1.6–1.8× the charges on a payment that has lost half its capacity, against Lifeline\'s 1.16–1.23×. Lifeline\'s payment timeouts open its breakers (5 in a row) and drain its retry budget, and those orders are answered 202 pending_payment and charged by the outbox after the fault. Measured, `demo scenario metastable --clients lifeline`, one run each with a mechanism turned off for the experiment: the throttle off 45 % (no change), the breakers not counting failures 56 % at 1.15×, the bucket off 53 % at 1.29×, both 40 % at 1.29× and 4.6 s to recover — single runs, as noisy as the 41–46 % range of this run, so no one mechanism accounts for the difference; keeping the load near 1.2× so that the overload ends with the trigger does.',
};

/** The reason Lifeline did worse than `mode` on `metric` in `scenario`, or a plain admission when there is none on file. */
export function whyWorse(scenario: ScenarioName, metric: string, mode: Mode): string {
  return (
    REASONS[`${scenario}.${metric}.${mode}`] ??
    REASONS[`${scenario}.${metric}`] ??
    REASONS[`${metric}.${mode}`] ??
    REASONS[metric] ??
    'no explanation on file; the per-second series in scenarios.json shows how it went.'
  );
}
