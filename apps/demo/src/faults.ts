import { request } from 'undici';
import { PAYMENTS, type Stack } from './stack.ts';
import type { FaultAction } from './state.ts';

/** A chaos rule as `@lifeline/chaos`'s admin endpoint takes it. */
export interface ChaosRule {
  method?: string;
  path: string;
  percent: number;
  fault: Record<string, unknown> & { type: string };
}

/** Thrown for a fault action the demo cannot apply; the message says why (answered 400). */
export class FaultError extends Error {
  override readonly name = 'FaultError';
}

/** Replaces the chaos rules of one instance through its admin endpoint. */
export async function setRules(stack: Stack, instance: string, rules: ChaosRule[]): Promise<void> {
  const res = await request(`${stack.url(instance)}/admin/chaos`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rules }),
    signal: AbortSignal.timeout(2_000),
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new FaultError(`${instance} refused the chaos rules (${res.statusCode}): ${text}`);
}

/** The rules of the page's buttons, on POST /charges of the payment instances. */
export function rulesFor(action: FaultAction): ChaosRule[] {
  const check = (name: string, value: number | undefined, fallback: number, min: number, max: number): number => {
    const v = value ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      throw new FaultError(`${name} must be a number from ${min} to ${max}, got ${JSON.stringify(value)}`);
    }
    return v;
  };
  switch (action.action) {
    case 'slow-payment':
      return [{ method: 'POST', path: '/charges', percent: 100, fault: { type: 'latency', ms: check('ms', action.ms, 3_000, 1, 60_000) } }];
    case 'failing-payment':
      return [{ method: 'POST', path: '/charges', percent: check('percent', action.percent, 100, 0, 100), fault: { type: 'error', status: 503 } }];
    case 'lost-responses':
      return [{ method: 'POST', path: '/charges', percent: check('percent', action.percent, 50, 0, 100), fault: { type: 'lose-response' } }];
    default:
      return [];
  }
}

/**
 * Applies one of the dashboard's fault actions: rules on both payment instances, a kill or
 * a restart of one, or clearing every fault. Resolves with a line for the event log.
 */
export async function applyFault(stack: Stack, input: unknown): Promise<string> {
  if (typeof input !== 'object' || input === null || typeof (input as { action?: unknown }).action !== 'string') {
    throw new FaultError('the body must be a JSON object with an "action"');
  }
  const action = input as FaultAction;
  switch (action.action) {
    case 'slow-payment':
    case 'failing-payment':
    case 'lost-responses': {
      const rules = rulesFor(action);
      const up = PAYMENTS.filter((id) => stack.get(id).status === 'up');
      await Promise.all(up.map((id) => setRules(stack, id, rules)));
      const f = rules[0]!;
      return `${action.action}: ${f.fault.type}${typeof f.fault['ms'] === 'number' ? ` ${f.fault['ms']} ms` : ''} on POST /charges (${f.percent} %) at ${up.join(', ')}`;
    }
    case 'kill':
    case 'restart': {
      if (!PAYMENTS.includes(action.instance)) {
        throw new FaultError(`instance must be one of ${PAYMENTS.join(', ')}, got ${JSON.stringify(action.instance)}`);
      }
      if (action.action === 'kill') {
        await stack.kill(action.instance);
        return `${action.instance} killed (SIGKILL)`;
      }
      await stack.restart(action.instance);
      return `${action.instance} restarted`;
    }
    case 'clear': {
      const up = [...stack.instances.values()].filter((i) => i.status === 'up').map((i) => i.id);
      await Promise.all(up.map((id) => setRules(stack, id, [])));
      return `faults cleared at ${up.join(', ')}`;
    }
    default:
      throw new FaultError(
        `unknown action ${JSON.stringify((action as { action: string }).action)}: use slow-payment, failing-payment, lost-responses, kill, restart or clear`,
      );
  }
}
