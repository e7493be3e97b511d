import type { ScenarioName } from './types.ts';

// The order service's Lifeline client for payment, as apps/order-service configures it: a 2 s
// deadline, 600 ms per attempt, 3 attempts with a jittered exponential backoff (100 ms base)
// inside a retry budget (20 % of calls, at least 10/s, while its token bucket — drained by
// failures, refilled by successes — stays above half), an adaptive throttle (K = 2 over 5 s),
// and a breaker per payment endpoint (opens at ≥ 50 % failures over ≥ 20 calls in 10 s,
// 5 failures in a row, or calls slower than 1.6 s; open 5 s, then 3 probes). While a breaker
// is open the pool checks the endpoint's /health/ready every 500 ms and a passing check ends
// the break; while every breaker is open, POST /orders answers 202 pending_payment at once
// and the outbox waits as long as the error says (at most one check interval) before trying again.
const BREAKER =
  'Lifeline\'s breakers opened during the fault; once it is cleared, the next health check of each open endpoint (every 500 ms) ends its break and three probes close it, and until then orders are answered 202 pending_payment at once. The naive client has no breaker: its first call after the fault goes through. Up to one check interval and a probe round trip is the price of not hammering a service that is down.';

/**
 * Why Lifeline can do worse than the naive client on a figure, by scenario and figure (or by
 * figure alone): the mechanism, so that the report explains a loss instead of hiding it. The
 * report prints one only where the measured figures show the loss.
 */
const REASONS: Record<string, string> = {
  recovery: BREAKER,
  pending:
    'the outbox charges pending orders through the same client: while every breaker is open it waits as long as the error says (at most one health-check interval), and between attempts each order backs off (0.5 s doubling, up to 10 s), so some orders were still pending when the settle wait ended — they are safe in the outbox and are charged later, once each. The naive outbox retries sooner and without a key.',
  'cascade.paidFault':
    'the naive calls counted as paid started in the last seconds of the fault but waited in the caller\'s own connection pool (64 connections, all taken by order calls stuck on the slow payment) and reached payment only after the fault was cleared — the cascade reaching the caller. Lifeline answered every call of the fault within its 2 s deadline, as 202 pending_payment.',
  'cascade.amplification':
    'Lifeline gives up on a slow attempt after 600 ms and retries inside its budget, and the outbox tries pending orders again; the naive client has no timeout, so it sends each charge once and waits as long as it takes — holding the order call past the caller\'s timeout (see the success rate).',
  'retry-storm.paidFault':
    'the naive calls counted as paid started in the last moments of the fault: their later attempts (50 ms apart) landed after it was cleared. Lifeline\'s breakers had opened, so its calls of the fault were answered 202 pending_payment without calling payment.',
  'retry-storm.p99':
    'Lifeline retries a 503 after a jittered exponential backoff (100 ms base) until its budget or a breaker stops it; the naive client\'s three attempts are 50 ms apart, so it answers 202 sooner — at the cost of the load on payment (amplification).',
  'retry-storm.p99Fault':
    'Lifeline retries a 503 after a jittered exponential backoff (100 ms base) until its budget or a breaker stops it; the naive client\'s three attempts are 50 ms apart, so it answers 202 sooner — at the cost of the load on payment (amplification).',
  'lost-response.paidFault':
    'a lost response is a failure to the retry budget and the breakers (the connection closes with no answer): at 50 % lost the budget\'s token bucket, which only successes refill (0.1 each), stops retries within a few failures, and the breakers open, so Lifeline answered most orders 202 pending_payment for the outbox to charge later, with the same key; the naive client kept retrying blindly, and its "paid" orders include the ones it charged twice (duplicate charges).',
  'lost-response.p99':
    'a lost response costs Lifeline a retry after a jittered backoff (100 ms base), answered from payment\'s idempotency store; the naive client retries after 50 ms and charges again.',
  'lost-response.p99Fault':
    'a lost response costs Lifeline a retry after a jittered backoff (100 ms base), answered from payment\'s idempotency store; the naive client retries after 50 ms and charges again.',
};

/** The reason for a loss on `metric` in `scenario`, or a plain admission when there is none on file. */
export function whyWorse(scenario: ScenarioName, metric: string): string {
  return REASONS[`${scenario}.${metric}`] ?? REASONS[metric] ?? 'no explanation on file; the per-second series in scenarios.json shows how it went.';
}
