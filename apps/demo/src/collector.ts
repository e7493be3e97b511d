import { getJson, type Stack } from './stack.ts';
import type { BreakerState, DashboardState, DependencyView, EndpointView, InstanceView } from './state.ts';
import type { TraceCollector } from './traces.ts';
import type { Traffic } from './traffic.ts';

// What the services' /admin/resilience answers, as far as the dashboard reads it.
interface BreakerSnap {
  state: BreakerState;
  calls: number;
  failures: number;
  halfOpenInMs?: number | undefined;
  breakDuration?: number;
}
interface EndpointSnap {
  address: string;
  breaker: BreakerState;
  ejected: boolean;
  inFlight: number;
  requests: number;
  failures: number;
  returnsInMs?: number | undefined;
  breakMs?: number;
  openedBecause?: string | undefined;
  window?: { calls: number; failures: number };
}
interface ClientSnap {
  name: string;
  inFlight: number;
  retryBudget?: { available: number; allowed: number; exhausted: boolean; requests: number; retries: number };
  breaker?: BreakerSnap;
  bulkhead?: { inFlight: number; queued: number; maxConcurrent: number; maxQueue: number; rejected: Record<string, number> };
  pool?: { endpoints: EndpointSnap[] };
}
interface Resilience {
  server?: { requests?: { inFlight: number }; shedding?: { shed: Record<string, number> } | null };
  chaos?: { enabled: boolean; rules: { method?: string; path: string; percent: number; fault: Record<string, unknown> & { type: string } }[] };
  dependencies?: { user?: ClientSnap; payment?: ClientSnap };
  orders?: { byStatus: Record<string, number>; outbox: number };
  outbox?: { settled: number };
  ledger?: { charges: number; duplicateCharges: number };
}

const num = (v: unknown): string => (typeof v === 'number' ? String(v) : '?');

function faultLabel(rule: NonNullable<Resilience['chaos']>['rules'][number]): string {
  const f = rule.fault;
  const what =
    f.type === 'latency'
      ? `latency ${f['ms'] !== undefined ? `${num(f['ms'])} ms` : f['median'] !== undefined ? `~${num(f['median'])} ms` : `${num(f['min'])}–${num(f['max'])} ms`}`
      : f.type === 'error'
        ? `error ${num(f['status'])}`
        : f.type;
  return `${what} on ${rule.method ?? '*'} ${rule.path} (${rule.percent} %)`;
}

const SEVERITY: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/**
 * Puts the dashboard's state together: every instance's `/health/ready` and
 * `/admin/resilience` (polled), the order service's view of its dependencies, the traffic
 * windows, the spans received, the event log. Breaker transitions seen between two polls
 * go to the log.
 */
export class Collector {
  readonly #stack: Stack;
  readonly #traffic: Traffic;
  readonly #traces: TraceCollector;
  readonly #log: { t: number; text: string }[] = [];
  #state: DashboardState;
  #breakers = new Map<string, BreakerState>();

  constructor(stack: Stack, traffic: Traffic, traces: TraceCollector) {
    this.#stack = stack;
    this.#traffic = traffic;
    this.#traces = traces;
    this.#state = this.#empty();
  }

  get state(): DashboardState {
    return this.#state;
  }

  note(text: string): void {
    this.#log.unshift({ t: Date.now(), text });
    if (this.#log.length > 20) this.#log.pop();
  }

  #empty(): DashboardState {
    return {
      t: Date.now(),
      instances: [],
      dependencies: [],
      series: [],
      totals: { ...this.#traffic.totals, settled: 0 },
      orders: {},
      ledger: { charges: 0, duplicateCharges: 0 },
      traces: [],
      rate: this.#traffic.rate,
      log: this.#log,
    };
  }

  /** Polls every instance once and rebuilds the state. */
  async refresh(): Promise<DashboardState> {
    const instances = [...this.#stack.instances.values()];
    const polled = await Promise.all(
      instances.map(async (i) => {
        if (i.status === 'down') return { i, ready: false, res: undefined };
        const [ready, res] = await Promise.all([this.#stack.ready(i.id), getJson<Resilience>(`${i.url}/admin/resilience`, 1_000).catch(() => undefined)]);
        return { i, ready, res };
      }),
    );
    const views: InstanceView[] = polled.map(({ i, ready, res }) => ({
      id: i.id,
      service: i.service,
      url: i.url,
      pid: i.process?.pid,
      status: i.status,
      ready,
      inFlight: res?.server?.requests?.inFlight ?? 0,
      shed: Object.values(res?.server?.shedding?.shed ?? {}).reduce((a, b) => a + b, 0),
      faults: (res?.chaos?.rules ?? []).map(faultLabel),
    }));
    const order = polled.find((p) => p.i.service === 'order')?.res;
    const payment = polled.find((p) => p.i.service === 'payment' && p.res?.ledger !== undefined)?.res;
    const dependencies: DependencyView[] = [];
    const user = order?.dependencies?.user;
    if (user !== undefined) dependencies.push(this.#dependency('user', user));
    const pay = order?.dependencies?.payment;
    if (pay !== undefined) dependencies.push(this.#dependency('payment', pay));
    this.#state = {
      t: Date.now(),
      instances: views,
      dependencies,
      series: this.#traffic.series,
      totals: { ...this.#traffic.totals, settled: order?.outbox?.settled ?? this.#state.totals.settled },
      orders: order?.orders?.byStatus ?? this.#state.orders,
      ledger: payment?.ledger ?? this.#state.ledger,
      traces: this.#traces.traces(),
      rate: this.#traffic.rate,
      log: this.#log,
    };
    return this.#state;
  }

  #instanceAt(address: string): string | undefined {
    for (const i of this.#stack.instances.values()) if (address === `127.0.0.1:${i.port}`) return i.id;
    return undefined;
  }

  #dependency(service: 'user' | 'payment', snap: ClientSnap): DependencyView {
    let endpoints: EndpointView[];
    if (snap.pool !== undefined) {
      endpoints = snap.pool.endpoints.map((e) => ({
        address: e.address,
        instance: this.#instanceAt(e.address),
        breaker: e.breaker,
        ejected: e.ejected,
        inFlight: e.inFlight,
        failureRate: e.window === undefined || e.window.calls === 0 ? 0 : e.window.failures / e.window.calls,
        windowCalls: e.window?.calls ?? 0,
        breakMs: e.breakMs,
        nextProbeInMs: e.returnsInMs,
        openedBecause: e.openedBecause,
      }));
    } else {
      const user = this.#stack.get('user-1');
      endpoints = [
        {
          address: `127.0.0.1:${user.port}`,
          instance: user.id,
          breaker: snap.breaker?.state ?? 'closed',
          ejected: snap.breaker?.state === 'open',
          inFlight: snap.inFlight,
          failureRate: snap.breaker === undefined || snap.breaker.calls === 0 ? 0 : snap.breaker.failures / snap.breaker.calls,
          windowCalls: snap.breaker?.calls ?? 0,
          breakMs: snap.breaker?.breakDuration,
          nextProbeInMs: snap.breaker?.halfOpenInMs,
          openedBecause: undefined,
        },
      ];
    }
    for (const e of endpoints) {
      const key = e.instance ?? e.address;
      const before = this.#breakers.get(key);
      if (before !== undefined && before !== e.breaker) this.note(`order → ${key}: breaker ${before} → ${e.breaker}`);
      this.#breakers.set(key, e.breaker);
    }
    const worst = endpoints.reduce<BreakerState>((w, e) => (SEVERITY[e.breaker] > SEVERITY[w] ? e.breaker : w), 'closed');
    const b = snap.bulkhead;
    const r = snap.retryBudget;
    return {
      service,
      breaker: snap.breaker?.state ?? worst,
      endpoints,
      bulkhead: {
        inFlight: b?.inFlight ?? 0,
        queued: b?.queued ?? 0,
        maxConcurrent: b?.maxConcurrent ?? 0,
        maxQueue: b?.maxQueue ?? 0,
        rejected: Object.values(b?.rejected ?? {}).reduce((a, c) => a + c, 0),
      },
      retryBudget: {
        available: r?.available ?? 0,
        allowed: r?.allowed ?? 0,
        exhausted: r?.exhausted ?? false,
        requests: r?.requests ?? 0,
        retries: r?.retries ?? 0,
      },
    };
  }
}
