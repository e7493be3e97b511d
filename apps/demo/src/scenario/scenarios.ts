import { request } from 'undici';
import { applyFault } from '../faults.ts';
import type { Stack, StackOptions } from '../stack.ts';
import type { ScenarioName, ScenarioParams } from './types.ts';

/** One failure to inject into the stack and take away again. */
export interface Scenario {
  name: ScenarioName;
  /** One line: the failure it stands for. */
  summary: string;
  /** The fault exactly as injected. */
  fault(params: ScenarioParams): string;
  inject(stack: Stack, params: ScenarioParams): Promise<unknown>;
  /** Takes the fault away; resolves when it is gone (a restarted instance is ready). */
  clear(stack: Stack, params: ScenarioParams): Promise<unknown>;
  /** What the stack needs besides the defaults. */
  stack?(params: ScenarioParams): Pick<StackOptions, 'processor' | 'naiveAttemptTimeoutMs'>;
  /** Order calls per second, when not `params.rate`. */
  rate?(params: ScenarioParams): number;
  /** How the run differs from the others, for the report. */
  setup?(params: ScenarioParams): string;
}

/** The charges per second the two payment instances' processors can make together. */
export function paymentCapacity(p: ScenarioParams, workers = p.metastable.workers): number {
  return (2 * workers * 1_000) / p.metastable.workMs;
}

/** Sets the processor's workers on both payment instances. */
async function setWorkers(stack: Stack, workers: number): Promise<string> {
  const ids = ['payment-1', 'payment-2'];
  await Promise.all(
    ids.map(async (id) => {
      const res = await request(`${stack.url(id)}/admin/capacity`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ workers }),
        signal: AbortSignal.timeout(5_000),
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`PUT ${id}/admin/capacity answered ${res.statusCode}: ${text}`);
    }),
  );
  return `${workers} workers per payment instance`;
}

const clearRules = (stack: Stack): Promise<string> => applyFault(stack, { action: 'clear' });

/**
 * The failures the project must defeat, measurably, in the order `all` runs them.
 *
 * @example
 * const cascade = SCENARIOS.find((s) => s.name === 'cascade')!;
 * await cascade.inject(stack, FULL); // 8 s of latency on POST /charges at both payment instances
 */
export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'cascade',
    summary: 'A slow payment: every charge takes far longer than the callers wait, and the order service is held up by it.',
    fault: (p) => `latency ${p.slowMs} ms on 100 % of POST /charges, both payment instances`,
    inject: (stack, p) => applyFault(stack, { action: 'slow-payment', ms: p.slowMs }),
    clear: clearRules,
  },
  {
    name: 'retry-storm',
    summary: 'A failing payment that then recovers: every client retries into it while it is down and as it comes back.',
    fault: () => '503 on 100 % of POST /charges, both payment instances',
    inject: (stack) => applyFault(stack, { action: 'failing-payment', percent: 100 }),
    clear: clearRules,
  },
  {
    name: 'lost-response',
    summary: 'The double charge: payment makes the charge, the response is lost on the way back, and the caller retries.',
    fault: (p) => `lose-response on ${p.lostPercent} % of POST /charges (the charge is made, the answer never arrives), both payment instances`,
    inject: (stack, p) => applyFault(stack, { action: 'lost-responses', percent: p.lostPercent }),
    clear: clearRules,
  },
  {
    name: 'dead-instance',
    summary: 'A payment instance dies (SIGKILL, no drain, no goodbye) and comes back later at the same address.',
    fault: () => 'payment-1 killed with SIGKILL; restarted when the fault clears',
    inject: (stack) => applyFault(stack, { action: 'kill', instance: 'payment-1' }),
    clear: (stack) => applyFault(stack, { action: 'restart', instance: 'payment-1' }),
  },
  {
    name: 'metastable',
    summary:
      'Payment loses half its capacity for a while: its line grows, calls time out and are retried into the line, and the overload outlives the trigger — unless the clients stop feeding it.',
    fault: (p) =>
      `payment's processor cut from ${p.metastable.workers} to ${p.metastable.triggerWorkers} workers per instance (${paymentCapacity(p)} → ${paymentCapacity(p, p.metastable.triggerWorkers)} charges/s) under ${Math.round(paymentCapacity(p) * p.metastable.load)} orders/s, then given back`,
    inject: (stack, p) => setWorkers(stack, p.metastable.triggerWorkers),
    clear: (stack, p) => setWorkers(stack, p.metastable.workers),
    stack: (p) => ({ processor: { workers: p.metastable.workers, workMs: p.metastable.workMs }, naiveAttemptTimeoutMs: p.metastable.naiveAttemptTimeoutMs }),
    rate: (p) => paymentCapacity(p) * p.metastable.load,
    setup: (p) =>
      `Payment's card processor has ${p.metastable.workers} workers × ${p.metastable.workMs} ms per instance (${paymentCapacity(p)} charges/s for the two), ` +
      `the caller sends ${Math.round(paymentCapacity(p) * p.metastable.load)} orders/s (${Math.round(p.metastable.load * 100)} % of that) instead of ${p.rate}, ` +
      `and the naive client has a ${p.metastable.naiveAttemptTimeoutMs / 1000} s timeout per attempt: without one it never retries a slow call, and the failure needs retries.`,
  },
];

export const SCENARIO_NAMES: readonly ScenarioName[] = SCENARIOS.map((s) => s.name);
