import type { Dispatcher } from 'undici';
import type { ChargeOutcome, ChargeRequest, Dependencies, User, UserLookup } from '../dependencies.ts';
import { PAYMENT_BUDGET, USER_BUDGET, type Budget } from './budget.ts';

/**
 * One HTTP exchange with its body read to the end, so that a retry library may drop it
 * (a 5xx it retries) without leaving a socket half-read. The peers' policies wrap the
 * function that makes one of these; what the reply means is decided once, here, so the
 * peers differ only in their resilience.
 * @internal
 */
export interface Reply {
  status: number;
  /** The `Retry-After` header, when the server sent one. */
  retryAfter: string | undefined;
  text: string;
}

/** @internal */
export interface Call {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * Sends `call` through `dispatcher` and reads the reply. `signal` cancels it (the peers'
 * attempt or total timeouts).
 * @internal
 * @example
 * const reply = await exchange(pool, { method: 'GET', path: '/users/u1' });
 */
export async function exchange(dispatcher: Dispatcher, call: Call, signal?: AbortSignal, origin?: string): Promise<Reply> {
  const res = await dispatcher.request({ origin, method: call.method, path: call.path, headers: call.headers, body: call.body, signal });
  const text = await res.body.text();
  const retryAfter = res.headers['retry-after'];
  return { status: res.statusCode, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, text };
}

/**
 * The charge as every peer sends it, on every attempt: the order's Idempotency-Key is
 * already an sf-string and goes out as is, so a retried charge is never a second charge.
 * @internal
 * @example
 * const call = chargeCall({ orderId: 'o1', amount: 10, currency: 'EUR', idempotencyKey: '"o1"' });
 */
export function chargeCall(request: ChargeRequest): Call {
  return {
    method: 'POST',
    path: '/charges',
    headers: { 'content-type': 'application/json', 'idempotency-key': request.idempotencyKey },
    body: JSON.stringify({ orderId: request.orderId, amount: request.amount, currency: request.currency }),
  };
}

/**
 * The user lookup for `id` on the user service at `userUrl` (its path, if any, is kept).
 * @internal
 * @example
 * const call = userCall('http://127.0.0.1:4001', 'u1'); // GET /users/u1
 */
export function userCall(userUrl: string, id: string): Call {
  const base = new URL(userUrl).pathname.replace(/\/+$/, '');
  return { method: 'GET', path: `${base}/users/${encodeURIComponent(id)}` };
}

/** A 5xx, which every peer retries (each in its own way) and its breaker counts. @internal */
export function isServerError(reply: Reply): boolean {
  return reply.status >= 500;
}

/**
 * A reply the policies treat as failed, thrown by the peers whose libraries retry and
 * break on rejections only (p-retry, opossum). It carries the reply for the outcome.
 * @internal
 */
export class ServerError extends Error {
  readonly reply: Reply;
  constructor(reply: Reply) {
    super(`answered ${reply.status}`);
    this.name = 'ServerError';
    this.reply = reply;
  }
}

/**
 * `Retry-After` in milliseconds (delta-seconds or an HTTP date), or undefined when absent
 * or malformed — a malformed header is ignored, not thrown.
 * @internal
 * @example
 * retryAfterMs('2'); // 2000
 */
export function retryAfterMs(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1_000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The user service's reply as a lookup: 200 found, 404 not-found, anything else unavailable.
 * @internal
 * @example
 * toUserLookup({ status: 404, retryAfter: undefined, text: '' }); // { kind: 'not-found' }
 */
export function toUserLookup(reply: Reply): UserLookup {
  if (reply.status === 200) {
    const user = parse(reply.text) as User | undefined;
    return user === undefined ? { kind: 'unavailable', reason: 'user service answered 200 with a body that is not JSON' } : { kind: 'found', user };
  }
  if (reply.status === 404) return { kind: 'not-found' };
  return { kind: 'unavailable', reason: `user service answered ${reply.status}` };
}

interface ChargeBody {
  id?: string;
  instance?: string;
}

interface ProblemBody {
  detail?: string;
  code?: string;
}

/**
 * The payment service's reply as an outcome: 201 paid, 402 declined, anything else
 * unavailable with the status, the problem code and `Retry-After` when there is one.
 * @internal
 * @example
 * toChargeOutcome({ status: 402, retryAfter: undefined, text: '{"detail":"card declined"}' });
 * // { kind: 'declined', reason: 'card declined' }
 */
export function toChargeOutcome(reply: Reply): ChargeOutcome {
  if (reply.status === 201) {
    const body = (parse(reply.text) ?? {}) as ChargeBody;
    if (typeof body.id === 'string') return { kind: 'paid', chargeId: body.id, instance: body.instance ?? '' };
    return { kind: 'unavailable', reason: 'payment answered 201 without a charge id' };
  }
  const problem = (parse(reply.text) ?? {}) as ProblemBody;
  if (reply.status === 402) return { kind: 'declined', reason: problem.detail ?? 'declined' };
  return {
    kind: 'unavailable',
    reason: `payment answered ${reply.status}${problem.code === undefined ? '' : ` ${problem.code}`}`,
    retryAfterMs: retryAfterMs(reply.retryAfter),
  };
}

/** What a rejected call says, for an 'unavailable' outcome. @internal */
export function reasonOf(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : `${error.name}: ${error.message}`;
  }
  return String(error);
}

/** A peer's policies around undici for one dependency: one call at a time, and closing. @internal */
export interface PeerStack {
  call(call: Call): Promise<Reply>;
  close(): Promise<void>;
}

/**
 * The order service's dependencies through a peer: its stack for the user service (with the
 * user budget) and for payment (with the payment budget, round-robin over the static
 * endpoints), the calls and what their replies mean shared by every peer. A rejection that
 * carries the last reply (`ServerError`) decides the outcome as that reply; any other is
 * `unavailable` with its reason.
 * @internal
 * @example
 * const deps = peerDependencies('cockatiel', options, (origins, budget) => new Stack(origins, budget));
 */
export function peerDependencies(
  kind: Dependencies['kind'],
  options: { userUrl: string; payment: string[] },
  stack: (origins: string[], budget: Budget) => PeerStack,
): Dependencies {
  const users = stack([new URL(options.userUrl).origin], USER_BUDGET);
  const payment = stack(
    options.payment.map((hostPort) => `http://${hostPort}`),
    PAYMENT_BUDGET,
  );
  return {
    kind,
    async user(id) {
      try {
        return toUserLookup(await users.call(userCall(options.userUrl, id)));
      } catch (error) {
        if (error instanceof ServerError) return toUserLookup(error.reply);
        return { kind: 'unavailable', reason: reasonOf(error) };
      }
    },
    async charge(request) {
      try {
        return toChargeOutcome(await payment.call(chargeCall(request)));
      } catch (error) {
        if (error instanceof ServerError) return toChargeOutcome(error.reply);
        return { kind: 'unavailable', reason: reasonOf(error) };
      }
    },
    snapshot: () => ({}),
    async close() {
      await Promise.all([users.close(), payment.close()]);
    },
  };
}
