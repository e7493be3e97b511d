import { checkDuration, checkNumber, checkObject, checkString, systemClock, type Clock, type Logger } from '@lifeline/core';
import { Etcd3, type IKeyValue, type IWatchResponse, type Watcher } from 'etcd3';
import { parseEntry } from './etcd-entry.ts';
import type { Instance, ResolverState } from './instance.ts';
import { ResolverBase } from './resolver-base.ts';

/** Where services live unless told otherwise: `lifeline/services/<service>/<instance-id>`. */
export const DEFAULT_ETCD_PREFIX = 'lifeline/services';

export interface EtcdResolverOptions {
  /** An etcd3 client to use. It is not closed by `close()`. Give this or `hosts`. */
  client?: Etcd3;
  /** etcd endpoints (`http://10.0.0.1:2379`): the resolver creates its own client and closes it on `close()`. */
  hosts?: string | string[];
  /** Key prefix of the registry, without a trailing `/`. Default `lifeline/services`. */
  prefix?: string;
  /**
   * A watch that owes an event for this long is considered stalled: it is cancelled and the
   * service re-listed. Checked by a cheap range read (count and newest mod revision, one key)
   * every `stallTimeoutMs / 2`; a failing check counts as etcd being unreachable. Also bounds
   * each etcd call. `Infinity` turns the check off. Default 30 000.
   */
  stallTimeoutMs?: number;
  /** While etcd is unreachable, serve the last good instances for this long, then none. Default `Infinity`. */
  maxStaleMs?: number;
  /** Backoff between attempts to re-list while etcd is failing (jittered, doubling). */
  retry?: {
    /** Default 200. */
    minBackoffMs?: number;
    /** Default 10 000. */
    maxBackoffMs?: number;
  };
  /** Stamps `updatedAt`. Default the process clock. */
  clock?: Clock;
  /** Bad registry entries (once each), etcd unreachable and back (once per outage, per service). */
  logger?: Logger;
}

interface Followed {
  readonly service: string;
  /** `<prefix>/<service>/` */
  readonly keys: string;
  /** Instance id → the instance, or why its value was skipped. */
  entries: Map<string, Instance | string>;
  /** The store revision `entries` reflect. */
  revision: number;
  listed: boolean;
  confirmedAt: number | undefined;
  watcher: Watcher | undefined;
  watchStartedAt: number;
  /** Watch restarts in a row that came soon after the watch started. */
  quickRestarts: number;
  listFailures: number;
  /** Set while etcd is failing. */
  failure: Error | undefined;
  expired: boolean;
  /** Consecutive probes that found the watch behind without it making progress. */
  behind: { probes: number; revision: number } | undefined;
  /** Increments on every list and restart; a late answer from an older round is dropped. */
  round: number;
  timer: NodeJS.Timeout | undefined;
  staleTimer: NodeJS.Timeout | undefined;
  published: string | undefined;
  stopped: boolean;
}

const CALL_TIMEOUT_MS = 5_000;
const CANCEL_BOUND_MS = 1_000;

/**
 * Follows services registered in etcd v3, in the layout gRPC-go's etcd naming reads:
 * `<prefix>/<service>/<instance-id>` → `{"Op":0,"Addr":"host:port","Metadata":{...}}` (see
 * {@link encodeEntry}; {@link EtcdRegistration} writes them). Per service it lists the prefix,
 * publishes the instances, then watches from the list's revision and applies each put and
 * delete as it comes. A watch that is cancelled (compaction included), disconnected or stalled
 * is replaced by a fresh list and watch, so changes made meanwhile (deletes too) are seen.
 * While etcd is unreachable the last good instances are served with `stale: true` (for
 * `maxStaleMs`), attempts continue with backoff, and the outage is logged once. Bad entries
 * are skipped and logged once each.
 *
 * @example
 * const resolver = new EtcdResolver({ hosts: 'http://127.0.0.1:2379' });
 * const sub = resolver.subscribe('payment', (state) => balancer.update(state.instances));
 * // ...
 * sub.dispose();
 * await resolver.close();
 */
export class EtcdResolver extends ResolverBase {
  readonly kind = 'etcd';
  /** The key prefix, without a trailing `/`. */
  readonly prefix: string;
  readonly #client: Etcd3;
  readonly #owned: boolean;
  readonly #stallTimeoutMs: number;
  readonly #maxStaleMs: number;
  readonly #minBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #callTimeoutMs: number;
  readonly #clock: Clock;
  readonly #followed = new Map<string, Followed>();
  /** Watcher cancellations under way (awaited, within a bound, by `close()`). */
  readonly #cancelling = new Set<Promise<void>>();
  /** Watchers etcd has already dropped (cancelled with an error): cancelling them again would wait forever. */
  readonly #dropped = new WeakSet<Watcher>();

  constructor(options: EtcdResolverOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('lifeline: EtcdResolver needs options with `client` or `hosts`');
    }
    super(options.logger);
    const { client, owned } = etcdClient(options, 'etcd');
    this.#client = client;
    this.#owned = owned;
    this.prefix = checkPrefix('etcd.prefix', options.prefix);
    this.#stallTimeoutMs = checkNumber('etcd.stallTimeoutMs', options.stallTimeoutMs ?? 30_000, 100);
    this.#maxStaleMs = checkDuration('etcd.maxStaleMs', options.maxStaleMs ?? Infinity, true);
    const retry = checkObject('etcd.retry', options.retry) ?? {};
    this.#minBackoffMs = checkDuration('etcd.retry.minBackoffMs', retry.minBackoffMs ?? 200);
    this.#maxBackoffMs = checkDuration('etcd.retry.maxBackoffMs', retry.maxBackoffMs ?? 10_000);
    if (this.#maxBackoffMs < this.#minBackoffMs) {
      throw new RangeError(
        `lifeline: option \`etcd.retry.maxBackoffMs\` must be >= minBackoffMs (${this.#minBackoffMs}), got ${this.#maxBackoffMs}`,
      );
    }
    this.#callTimeoutMs = Math.min(CALL_TIMEOUT_MS, this.#stallTimeoutMs);
    this.#clock = options.clock ?? systemClock;
  }

  protected follow(service: string): void {
    const followed: Followed = {
      service,
      keys: `${this.prefix}/${service}/`,
      entries: new Map(),
      revision: 0,
      listed: false,
      confirmedAt: undefined,
      watcher: undefined,
      watchStartedAt: 0,
      quickRestarts: 0,
      listFailures: 0,
      failure: undefined,
      expired: false,
      behind: undefined,
      round: 0,
      timer: undefined,
      staleTimer: undefined,
      published: undefined,
      stopped: false,
    };
    this.#followed.set(service, followed);
    void this.#list(followed);
  }

  protected unfollow(service: string): void {
    const followed = this.#followed.get(service);
    if (followed === undefined) return;
    this.#followed.delete(service);
    followed.stopped = true;
    followed.round++;
    clearTimeout(followed.timer);
    clearTimeout(followed.staleTimer);
    followed.timer = followed.staleTimer = undefined;
    this.#dropWatcher(followed);
  }

  protected override async onClose(): Promise<void> {
    if (this.#cancelling.size > 0) await bounded(Promise.allSettled([...this.#cancelling]), CANCEL_BOUND_MS);
    if (this.#owned) this.#client.close();
  }

  /** Lists the service, publishes it, and starts watching from the list's revision. */
  async #list(followed: Followed): Promise<void> {
    if (followed.stopped) return;
    const round = ++followed.round;
    let response;
    try {
      response = await this.#client.getAll().prefix(followed.keys).options(this.#callOptions()).exec();
    } catch (error) {
      if (followed.stopped || round !== followed.round) return;
      followed.listFailures++;
      this.#failing(followed, new Error(`lifeline: etcd: cannot list ${followed.keys}: ${message(error)}`, { cause: error }));
      this.#schedule(followed, this.#backoff(followed.listFailures), () => void this.#list(followed));
      return;
    }
    if (followed.stopped || round !== followed.round) return;
    const entries = new Map<string, Instance | string>();
    for (const kv of response.kvs) {
      const id = this.#idOf(followed, kv);
      entries.set(id, this.#parse(followed, id, kv, followed.entries.get(id)));
    }
    for (const [id, old] of followed.entries) {
      if (typeof old === 'string' && !entries.has(id)) this.forgetWarning(warningKey(followed, id, old));
    }
    followed.entries = entries;
    followed.revision = Number(response.header.revision);
    followed.listed = true;
    followed.listFailures = 0;
    followed.confirmedAt = this.#clock.now();
    this.#recovered(followed);
    this.#publish(followed);
    this.#watch(followed);
    this.#scheduleProbe(followed);
  }

  #watch(followed: Followed): void {
    const watcher = this.#client
      .watch()
      .prefix(followed.keys)
      .startRevision(String(followed.revision + 1))
      .watcher();
    followed.watcher = watcher;
    followed.watchStartedAt = this.#clock.now();
    watcher.on('data', (response) => {
      if (followed.watcher === watcher && !followed.stopped) this.#apply(followed, response);
    });
    watcher.on('disconnected', (error) => {
      if (followed.watcher === watcher) this.#restart(followed, error, undefined);
    });
    watcher.on('error', (error) => {
      this.#dropped.add(watcher);
      if (followed.watcher === watcher) {
        this.#restart(followed, error, 'etcd: the watch was cancelled by etcd (compaction?), re-listing');
      }
    });
  }

  #apply(followed: Followed, response: IWatchResponse): void {
    for (const event of response.events) {
      const id = this.#idOf(followed, event.kv);
      const old = followed.entries.get(id);
      if (event.type === 'Delete') {
        followed.entries.delete(id);
        if (typeof old === 'string') this.forgetWarning(warningKey(followed, id, old));
      } else {
        followed.entries.set(id, this.#parse(followed, id, event.kv, old));
      }
    }
    const revision = Number(response.header.revision);
    if (revision > followed.revision) followed.revision = revision;
    followed.confirmedAt = this.#clock.now();
    if (response.events.length > 0) this.#publish(followed);
  }

  /** Replaces a watch that failed, was cancelled or stalled with a fresh list and watch. */
  #restart(followed: Followed, error: unknown, warning: string | undefined): void {
    if (followed.stopped) return;
    this.#dropWatcher(followed);
    followed.round++;
    followed.behind = undefined;
    const healthyFor = this.#clock.now() - followed.watchStartedAt;
    followed.quickRestarts = healthyFor >= this.#maxBackoffMs ? 0 : followed.quickRestarts + 1;
    if (warning !== undefined) {
      this.logger?.warn({ resolver: this.kind, service: followed.service, prefix: followed.keys, error: message(error) }, warning);
    }
    const delay = followed.quickRestarts <= 1 ? 0 : this.#backoff(followed.quickRestarts - 1);
    this.#schedule(followed, delay, () => void this.#list(followed));
  }

  #scheduleProbe(followed: Followed): void {
    if (this.#stallTimeoutMs === Infinity) return;
    this.#schedule(followed, this.#stallTimeoutMs / 2, () => void this.#probe(followed));
  }

  /**
   * Reads the prefix's key count and newest mod revision (one key) and compares them with what
   * the watch has delivered. Still behind, with no progress, one stall timeout after a probe
   * first found it behind: the watch is stuck.
   */
  async #probe(followed: Followed): Promise<void> {
    const round = followed.round;
    let response;
    try {
      response = await this.#client
        .getAll()
        .prefix(followed.keys)
        .sort('Mod', 'Descend')
        .limit(1)
        .options(this.#callOptions())
        .exec();
    } catch (error) {
      if (followed.stopped || round !== followed.round) return;
      this.#restart(followed, error, undefined);
      return;
    }
    if (followed.stopped || round !== followed.round) return;
    const at = Number(response.header.revision);
    const newest = Number(response.kvs[0]?.mod_revision ?? 0);
    const behind = at > followed.revision && (Number(response.count) !== followed.entries.size || newest > followed.revision);
    if (!behind) {
      followed.behind = undefined;
      followed.confirmedAt = this.#clock.now();
    } else if (followed.behind === undefined || followed.revision > followed.behind.revision) {
      followed.behind = { probes: 1, revision: followed.revision };
    } else if (++followed.behind.probes > 2) {
      const error = new Error(
        `lifeline: etcd: the watch of ${followed.keys} is stuck at revision ${followed.revision} (etcd is at ${at})`,
      );
      this.#restart(followed, error, 'etcd: the watch stalled, re-listing');
      return;
    }
    this.#scheduleProbe(followed);
  }

  #failing(followed: Followed, error: Error): void {
    const first = followed.failure === undefined;
    followed.failure = error;
    if (!first) return;
    const count = this.#instances(followed).length;
    this.logger?.warn(
      { resolver: this.kind, service: followed.service, prefix: followed.keys, instances: count, error: error.message },
      followed.listed ? `etcd unreachable, serving the last ${count} instances` : 'etcd unreachable, no instances known yet',
    );
    if (this.#maxStaleMs !== Infinity && followed.listed) {
      const left = (followed.confirmedAt ?? 0) + this.#maxStaleMs - this.#clock.now();
      followed.staleTimer = setTimeout(() => {
        followed.staleTimer = undefined;
        if (followed.stopped || followed.failure === undefined) return;
        followed.expired = true;
        this.logger?.warn(
          { resolver: this.kind, service: followed.service, prefix: followed.keys, maxStaleMs: this.#maxStaleMs },
          'etcd unreachable for longer than maxStaleMs, serving no instances',
        );
        this.#publish(followed);
      }, Math.max(0, left));
      followed.staleTimer.unref();
    }
    this.#publish(followed);
  }

  #recovered(followed: Followed): void {
    if (followed.failure === undefined) return;
    followed.failure = undefined;
    followed.expired = false;
    clearTimeout(followed.staleTimer);
    followed.staleTimer = undefined;
    this.logger?.info(
      { resolver: this.kind, service: followed.service, prefix: followed.keys, instances: this.#instances(followed).length },
      'etcd reachable again',
    );
  }

  /** Publishes the service's state unless it is the one last published. */
  #publish(followed: Followed): void {
    const instances = followed.expired ? [] : this.#instances(followed);
    const stale = followed.failure !== undefined;
    const signature = `${stale}\n${followed.failure?.message ?? ''}\n${JSON.stringify(instances)}`;
    if (signature === followed.published) return;
    followed.published = signature;
    const state: ResolverState = stale
      ? { instances, updatedAt: followed.confirmedAt, stale: true, error: followed.failure }
      : { instances, updatedAt: followed.confirmedAt, stale: false };
    this.publish(followed.service, state);
  }

  #instances(followed: Followed): Instance[] {
    const instances: Instance[] = [];
    for (const entry of followed.entries.values()) if (typeof entry !== 'string') instances.push(entry);
    return instances.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  #parse(followed: Followed, id: string, kv: IKeyValue, old: Instance | string | undefined): Instance | string {
    const entry = parseEntry(id, kv.value.toString('utf8'));
    if (typeof old === 'string' && old !== entry) this.forgetWarning(warningKey(followed, id, old));
    if (typeof entry === 'string') {
      this.warnOnce(
        warningKey(followed, id, entry),
        { service: followed.service, key: followed.keys + id, reason: entry },
        'etcd: skipping a bad registry entry',
      );
    }
    return entry;
  }

  #idOf(followed: Followed, kv: IKeyValue): string {
    return kv.key.toString('utf8').slice(followed.keys.length);
  }

  #dropWatcher(followed: Followed): void {
    const watcher = followed.watcher;
    followed.watcher = undefined;
    if (watcher === undefined || this.#dropped.has(watcher)) return;
    const cancelled = watcher.cancel().catch(() => undefined);
    this.#cancelling.add(cancelled);
    void cancelled.finally(() => this.#cancelling.delete(cancelled));
  }

  #schedule(followed: Followed, ms: number, run: () => void): void {
    clearTimeout(followed.timer);
    followed.timer = setTimeout(() => {
      followed.timer = undefined;
      if (!followed.stopped) run();
    }, ms);
    followed.timer.unref();
  }

  #backoff(attempt: number): number {
    return jittered(this.#minBackoffMs, this.#maxBackoffMs, attempt);
  }

  #callOptions(): { deadline: number } {
    return { deadline: Date.now() + this.#callTimeoutMs };
  }
}

function warningKey(followed: Followed, id: string, reason: string): string {
  return `${followed.keys}${id}\n${reason}`;
}

/** The `attempt`-th backoff (1-based): doubling from `min`, capped at `max`, in [half, full]. @internal */
export function jittered(min: number, max: number, attempt: number): number {
  const full = Math.min(max, min * 2 ** Math.min(attempt - 1, 30));
  return full / 2 + (Math.random() * full) / 2;
}

/** The client to use: the one given, or a new one on `hosts` (then owned). @internal */
export function etcdClient(options: { client?: unknown; hosts?: unknown }, name: string): { client: Etcd3; owned: boolean } {
  if (options.client !== undefined) {
    if (options.hosts !== undefined) throw new TypeError(`lifeline: give option \`${name}.client\` or \`${name}.hosts\`, not both`);
    const client = options.client;
    if (
      client === null ||
      typeof client !== 'object' ||
      typeof (client as Partial<Etcd3>).getAll !== 'function' ||
      typeof (client as Partial<Etcd3>).watch !== 'function'
    ) {
      throw new TypeError(`lifeline: option \`${name}.client\` must be an etcd3 client (new Etcd3(...))`);
    }
    return { client: options.client as Etcd3, owned: false };
  }
  if (options.hosts === undefined) throw new TypeError(`lifeline: option \`${name}.client\` or \`${name}.hosts\` is required`);
  const hosts = Array.isArray(options.hosts) ? (options.hosts as unknown[]) : [options.hosts];
  if (hosts.length === 0) throw new TypeError(`lifeline: option \`${name}.hosts\` must not be empty`);
  for (const host of hosts) checkString(`${name}.hosts`, host);
  return { client: new Etcd3({ hosts: hosts as string[] }), owned: true };
}

/** A key prefix without trailing slashes. @internal */
export function checkPrefix(name: string, value: unknown): string {
  const prefix = checkString(name, value ?? DEFAULT_ETCD_PREFIX).replace(/\/+$/, '');
  if (prefix === '') throw new TypeError(`lifeline: option \`${name}\` must not be only "/", got ${JSON.stringify(value)}`);
  return prefix;
}

/** Settles when `promise` does or after `ms`, whichever is first; never rejects. @internal */
export async function bounded(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  try {
    await Promise.race([promise.then(noop, noop), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function noop(): void {}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
