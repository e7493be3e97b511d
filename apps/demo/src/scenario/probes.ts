import { Pool } from 'undici';
import { getJson, PAYMENTS, type Stack } from '../stack.ts';

/**
 * Σ `received['POST /charges']` over the payment processes, the killed ones included: each
 * poll keeps the latest count per process id, so a restarted instance (its count starts
 * again from 0) adds to what its previous process received instead of replacing it. Poll
 * right before a kill; requests that reach a process after its last poll are not counted.
 */
export class ChargeCounter {
  readonly #stack: Stack;
  readonly #byPid = new Map<number, number>();

  constructor(stack: Stack) {
    this.#stack = stack;
  }

  get total(): number {
    let sum = 0;
    for (const n of this.#byPid.values()) sum += n;
    return sum;
  }

  /** Reads every payment instance that is up; one that does not answer keeps its last count. */
  async poll(): Promise<void> {
    await Promise.all(
      PAYMENTS.map(async (id) => {
        if (this.#stack.get(id).status !== 'up') return;
        try {
          const body = await getJson<{ pid: number; received?: Record<string, number> }>(`${this.#stack.url(id)}/admin/resilience`, 2_000);
          const n = body.received?.['POST /charges'] ?? 0;
          this.#byPid.set(body.pid, Math.max(n, this.#byPid.get(body.pid) ?? 0));
        } catch {
          // down or too busy to answer now: its last count stands
        }
      }),
    );
  }
}

/** `GET /orders` of the order service: orders by status. */
export async function orderCounts(stack: Stack): Promise<Record<string, number>> {
  const body = await getJson<{ byStatus: Record<string, number> }>(`${stack.url('order-1')}/orders`);
  return body.byStatus;
}

/** `GET /ledger` of a payment instance that is up (they share the ledger). */
export async function ledger(stack: Stack): Promise<{ charges: number; orders: number; duplicateCharges: number }> {
  let last: unknown;
  for (const id of PAYMENTS) {
    if (stack.get(id).status !== 'up') continue;
    try {
      const body = await getJson<{ charges: number; orders: number; duplicateCharges: number }>(`${stack.url(id)}/ledger`);
      return { charges: body.charges, orders: body.orders, duplicateCharges: body.duplicateCharges };
    } catch (error) {
      last = error;
    }
  }
  throw new Error(`no payment instance answered GET /ledger${last instanceof Error ? `: ${last.message}` : ''}`);
}

const KNOWN_STATES = new Set(['paid', 'pending_payment', 'payment_failed']);

/**
 * Looks every order id up with `GET /orders/:id`; resolves with the ids the order service does
 * not have in a final or pending state (404, another status, no answer after two tries).
 */
export async function missingOrders(stack: Stack, ids: readonly string[], concurrency = 16): Promise<string[]> {
  const pool = new Pool(stack.url('order-1'), { connections: concurrency });
  const missing: string[] = [];
  let next = 0;
  const lookUp = async (id: string): Promise<boolean> => {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const res = await pool.request({ method: 'GET', path: `/orders/${encodeURIComponent(id)}`, signal: AbortSignal.timeout(3_000) });
        if (res.statusCode === 404) {
          await res.body.dump();
          return false;
        }
        if (res.statusCode === 200) {
          const body = (await res.body.json()) as { status?: string };
          return KNOWN_STATES.has(body.status ?? '');
        }
        await res.body.dump();
      } catch {
        // try once more
      }
    }
    return false;
  };
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < ids.length) {
          const id = ids[next++]!;
          if (!(await lookUp(id))) missing.push(id);
        }
      }),
    );
  } finally {
    await pool.close();
  }
  return missing;
}
