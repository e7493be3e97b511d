import { createClient, type ClientSnapshot, type LifelineClient } from '@lifeline/client';
import { isLifelineError } from '@lifeline/core';
import { Discovery, StaticResolver, type Resolver } from '@lifeline/discovery';
import type { Logger } from 'pino';

/** A user as the user service answers it, and as the order service caches it. */
export interface User {
  id: string;
  name: string;
  email: string;
  tier: string;
}

export type UserLookup = { kind: 'found'; user: User } | { kind: 'not-found' } | { kind: 'unavailable'; reason: string };

export interface ChargeRequest {
  orderId: string;
  amount: number;
  currency: string;
  /** The same for every attempt to charge this order, by the request and by the outbox worker. */
  idempotencyKey: string;
}

export type ChargeOutcome =
  | { kind: 'paid'; chargeId: string; instance: string }
  | { kind: 'declined'; reason: string }
  | { kind: 'unavailable'; reason: string; retryAfterMs?: number | undefined };

/** How the order service reaches user and payment: through Lifeline, or a naive fetch loop for comparison. */
export interface Dependencies {
  readonly kind: 'lifeline' | 'naive' | 'handmade' | 'cockatiel' | 'retry-agent';
  user(id: string): Promise<UserLookup>;
  charge(request: ChargeRequest): Promise<ChargeOutcome>;
  /** Resilience state per dependency (empty for the naive client: it has none). */
  snapshot(): { user?: ClientSnapshot; payment?: ClientSnapshot };
  close(): Promise<void>;
}

interface ChargeBody {
  id: string;
  instance: string;
}

interface ProblemBody {
  detail?: string;
  code?: string;
}

function reasonOf(error: unknown): string {
  if (isLifelineError(error)) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * The Lifeline way: a deadline and attempt timeouts on every call, retries inside a budget,
 * a breaker, a bulkhead, and for payment the live endpoints of the service with P2C and
 * ejection. Charges carry the order's Idempotency-Key on every attempt.
 */
export function lifelineDependencies(options: {
  userUrl: string;
  /** Static payment endpoints (`127.0.0.1:4101`), or a resolver (etcd). */
  payment: string[] | Resolver;
  logger?: Logger;
}): Dependencies {
  const resolver =
    Array.isArray(options.payment) ? new StaticResolver({ services: { payment: options.payment } }) : options.payment;
  const discovery = new Discovery({ resolver, logger: options.logger });
  const users: LifelineClient = createClient({
    name: 'user',
    baseUrl: options.userUrl,
    timeout: 1_000,
    attemptTimeout: 300,
    throwOnHttpError: false,
    logger: options.logger,
  });
  const payment: LifelineClient = createClient({
    name: 'payment',
    service: 'payment',
    discovery,
    timeout: 2_000,
    attemptTimeout: 600,
    throwOnHttpError: false,
    logger: options.logger,
  });
  return {
    kind: 'lifeline',
    async user(id) {
      try {
        const res = await users.get(`/users/${encodeURIComponent(id)}`);
        if (res.status === 200) return { kind: 'found', user: await res.body.json<User>() };
        await res.body.dump();
        if (res.status === 404) return { kind: 'not-found' };
        return { kind: 'unavailable', reason: `user service answered ${res.status}` };
      } catch (error) {
        return { kind: 'unavailable', reason: reasonOf(error) };
      }
    },
    async charge(request) {
      try {
        const res = await payment.post('/charges', {
          json: { orderId: request.orderId, amount: request.amount, currency: request.currency },
          idempotencyKey: request.idempotencyKey,
        });
        if (res.status === 201) {
          const body = await res.body.json<ChargeBody>();
          return { kind: 'paid', chargeId: body.id, instance: body.instance };
        }
        const problem = (await res.body.json().catch(() => ({}))) as ProblemBody;
        if (res.status === 402) return { kind: 'declined', reason: problem.detail ?? 'declined' };
        return { kind: 'unavailable', reason: `payment answered ${res.status}${problem.code === undefined ? '' : ` ${problem.code}`}` };
      } catch (error) {
        return { kind: 'unavailable', reason: reasonOf(error), retryAfterMs: isLifelineError(error) ? error.retryAfterMs : undefined };
      }
    },
    snapshot: () => ({ user: users.snapshot(), payment: payment.snapshot() }),
    async close() {
      await Promise.all([users.close(), payment.close()]);
      await discovery.close();
    },
  };
}

/**
 * The naive way, for the scenarios' comparison — what a service without Lifeline often
 * does: `fetch()` with no timeout, three attempts 50 ms apart on any error or 5xx,
 * round-robin over the payment instances, no breaker, no budget, no Idempotency-Key.
 * `attemptTimeoutMs` gives each attempt a timeout (`AbortSignal.timeout`), after which the
 * next attempt goes out — the hand-written client with a timeout, as the metastable scenario
 * runs it.
 */
export function naiveDependencies(options: { userUrl: string; payment: string[]; attempts?: number; attemptTimeoutMs?: number | undefined }): Dependencies {
  const attempts = options.attempts ?? 3;
  const { attemptTimeoutMs } = options;
  let next = 0;
  const controller = new AbortController();
  async function withRetries(url: () => string, init: RequestInit): Promise<Response | Error> {
    let last: Response | Error = new Error('no attempt made');
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const signal = attemptTimeoutMs === undefined ? controller.signal : AbortSignal.any([controller.signal, AbortSignal.timeout(attemptTimeoutMs)]);
        last = await fetch(url(), { ...init, signal });
        if (last.status < 500) return last;
        await last.body?.cancel();
      } catch (error) {
        last = error instanceof Error ? error : new Error(String(error));
        if (controller.signal.aborted) return last;
      }
      if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return last;
  }
  return {
    kind: 'naive',
    async user(id) {
      const res = await withRetries(() => `${options.userUrl}/users/${encodeURIComponent(id)}`, {});
      if (res instanceof Error) return { kind: 'unavailable', reason: res.message };
      if (res.status === 200) return { kind: 'found', user: (await res.json()) as User };
      await res.body?.cancel();
      return res.status === 404 ? { kind: 'not-found' } : { kind: 'unavailable', reason: `user service answered ${res.status}` };
    },
    async charge(request) {
      const res = await withRetries(() => `http://${options.payment[next++ % options.payment.length]!}/charges`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ orderId: request.orderId, amount: request.amount, currency: request.currency }),
      });
      if (res instanceof Error) return { kind: 'unavailable', reason: res.message };
      if (res.status === 201) {
        const body = (await res.json()) as ChargeBody;
        return { kind: 'paid', chargeId: body.id, instance: body.instance };
      }
      const problem = (await res.json().catch(() => ({}))) as ProblemBody;
      if (res.status === 402) return { kind: 'declined', reason: problem.detail ?? 'declined' };
      return { kind: 'unavailable', reason: `payment answered ${res.status}` };
    },
    snapshot: () => ({}),
    close() {
      controller.abort();
      return Promise.resolve();
    },
  };
}
