import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkFunction, checkObject, checkOptionNames, optionNames, type Logger } from '@lifeline/core';
import { reportFailure } from './failure-report.ts';
import type { LifelineSnapshot } from './options.ts';
import { problemFor, sendProblem } from './problem.ts';

/**
 * Anything that reports its state as plain JSON through `snapshot()`: a client made by
 * `createClient()`, a `Bulkhead`, a `Breaker`, a `ServicePool`.
 *
 * @example
 * const parts: Record<string, Snapshotting> = { payment, users, 'db-pool': dbBulkhead };
 */
export interface Snapshotting<S = unknown> {
  snapshot(): S;
}

/**
 * What `/admin/resilience` reports: the server half, the clients of the service's
 * dependencies, and any fields of the service's own.
 *
 * @example
 * const sources: ResilienceSources = {
 *   lifeline,
 *   clients: { payment, users },
 *   extra: () => ({ instance: 'order-1', pid: process.pid }),
 * };
 */
export interface ResilienceSources<C extends Record<string, Snapshotting> = Record<string, Snapshotting>, E extends object = object> {
  /**
   * The Lifeline made by `createLifeline()`: its snapshot is `server`, and an error thrown by
   * a snapshot is reported to its `logger`.
   */
  lifeline: Snapshotting<LifelineSnapshot> & { readonly logger?: Logger | undefined };
  /** The clients (or any part with a `snapshot()`), by the name each appears under in `clients`. Default none. */
  clients?: C;
  /**
   * More fields for the answer, read on each request (the instance, application counters).
   * `server` and `clients` are always the Lifeline's and the clients' snapshots, whatever it returns.
   */
  extra?: () => E;
}

/**
 * The answer of `/admin/resilience`, as plain JSON: typed by the clients and the extra fields
 * it was made from, so that a dashboard reading it knows each client's snapshot type.
 *
 * @example
 * const state = (await (await fetch(`${orderUrl}/admin/resilience`)).json()) as ResilienceSnapshot<{ payment: LifelineClient }>;
 * state.clients.payment.breaker?.state; // 'closed' | 'open' | …
 */
export type ResilienceSnapshot<C extends Record<string, Snapshotting> = Record<string, Snapshotting>, E extends object = object> = Omit<
  E,
  'server' | 'clients'
> & {
  server: LifelineSnapshot;
  clients: { [K in keyof C]: ReturnType<C[K]['snapshot']> };
};

const SOURCE_NAMES = optionNames<ResilienceSources>({ lifeline: true, clients: true, extra: true });

/** Sources checked once: the clients as a list, so that a report walks no object keys twice. */
interface CheckedSources {
  lifeline: ResilienceSources['lifeline'];
  clients: readonly (readonly [string, Snapshotting])[];
  extra: (() => object) | undefined;
}

function checkSources(sources: unknown): CheckedSources {
  if (sources === undefined) throw new TypeError('lifeline: resilience sources must be an object with at least `lifeline`, got undefined');
  const checked = checkObject('sources', sources)!;
  checkOptionNames('', checked, SOURCE_NAMES);
  const { lifeline, clients, extra } = checked as Partial<ResilienceSources>;
  if (!hasSnapshot(lifeline)) {
    throw new TypeError(`lifeline: option \`lifeline\` must be the Lifeline made by createLifeline() (anything with a snapshot() method), got ${shown(lifeline)}`);
  }
  const list: [string, Snapshotting][] = [];
  for (const [name, part] of Object.entries(checkObject('clients', clients) ?? {})) {
    if (!hasSnapshot(part)) {
      throw new TypeError(
        `lifeline: option \`clients.${name}\` must have a snapshot() method (a client made by createClient(), a Bulkhead, a Breaker), got ${shown(part)}`,
      );
    }
    list.push([name, part]);
  }
  return { lifeline, clients: list, extra: extra === undefined ? undefined : checkFunction<() => object>('extra', extra) };
}

function hasSnapshot(value: unknown): value is Snapshotting {
  return value !== null && typeof value === 'object' && typeof (value as Partial<Snapshotting>).snapshot === 'function';
}

function shown(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return Array.isArray(value) ? 'an array' : 'an object without snapshot()';
}

function report(sources: CheckedSources): ResilienceSnapshot {
  const clients: Record<string, unknown> = {};
  for (const [name, part] of sources.clients) clients[name] = part.snapshot();
  const extra = sources.extra?.();
  return { ...extra, server: sources.lifeline.snapshot(), clients };
}

/**
 * The state of a service's resilience as plain JSON: `server` is `lifeline.snapshot()`, and
 * `clients` holds each named client's `snapshot()` (breaker, bulkhead, retry budget,
 * endpoints), plus the fields `extra` returns. The sources are checked on each call; a bad
 * one throws a TypeError naming it.
 *
 * @example
 * // Fastify: its serializer writes the JSON.
 * app.get('/admin/resilience', (_request, reply) =>
 *   reply.header('cache-control', 'no-store').send(resilienceSnapshot({ lifeline, clients: { payment, users } })),
 * );
 */
export function resilienceSnapshot<C extends Record<string, Snapshotting> = Record<never, never>, E extends object = object>(
  sources: ResilienceSources<C, E>,
): ResilienceSnapshot<C, E> {
  return report(checkSources(sources)) as ResilienceSnapshot<C, E>;
}

/**
 * A request listener answering {@link resilienceSnapshot} as `application/json` with
 * `cache-control: no-store` (the state changes from one request to the next, and no cache
 * between the dashboard and the service may keep it). It answers every request it is given
 * (HEAD without the body): route `GET /admin/resilience` to it. The sources are checked here,
 * once; a snapshot that throws is answered 500 (a problem response) and reported to the
 * Lifeline's `logger`, or to stderr without one.
 *
 * @example
 * const admin = resilienceHandler({ lifeline, clients: { payment, users } });
 * // node:http
 * http.createServer(lifeline.handler((req, res) => (req.url === '/admin/resilience' ? admin(req, res) : app(req, res))));
 * // Express
 * app.get('/admin/resilience', admin);
 */
export function resilienceHandler<C extends Record<string, Snapshotting> = Record<never, never>, E extends object = object>(
  sources: ResilienceSources<C, E>,
): (req: IncomingMessage, res: ServerResponse) => void {
  const checked = checkSources(sources);
  return (_req, res) => {
    let body: string;
    try {
      body = JSON.stringify(report(checked));
    } catch (error) {
      const id = res.getHeader('x-request-id');
      const requestId = typeof id === 'string' ? id : undefined;
      const response = problemFor(error, requestId);
      reportFailure(error, response, requestId, undefined, checked.lifeline.logger);
      sendProblem(res, response);
      return;
    }
    res.writeHead(200, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };
}
