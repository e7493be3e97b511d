import { getServers } from 'node:dns';
import { checkDuration, checkFunction, checkOneOf, systemClock, type Clock, type Logger } from '@lifeline/core';
import type { RecordType } from 'dns-packet';
import { DnsClient, DnsQueryError, type DnsRecord } from './dns-query.ts';
import { checkPort, hostPort, type Instance } from './instance.ts';
import { ResolverBase } from './resolver-base.ts';

/** What a {@link DnsResolver} asks for: SRV records (host and port) or addresses (with a fixed port). */
export type DnsRecordType = 'SRV' | 'A' | 'AAAA' | 'A+AAAA';

export interface DnsResolverOptions {
  /** `SRV` (default): instances and ports from SRV records; `A`, `AAAA`, `A+AAAA`: one instance per address, on `port`. */
  type?: DnsRecordType;
  /** Maps a service name to the DNS name asked for. Default: the service name itself. */
  name?: (service: string) => string;
  /** The port of every instance, required for `A` / `AAAA` / `A+AAAA`; refused with `SRV`, whose records carry the port. */
  port?: number;
  /** DNS servers as `ip`, `ip:port` or `[ipv6]:port`. Default: the system's, `dns.getServers()`. */
  servers?: readonly string[];
  /** The records' TTL (the smallest in the answer) is raised to at least this before asking again, ms (> 0); also the first retry's wait. Default 1 000. */
  minTtlMs?: number;
  /** The records' TTL is lowered to at most this before asking again, ms; also the longest wait between retries while failing. Default 60 000. */
  maxTtlMs?: number;
  /** While DNS fails, the last good answer is served (`stale: true`) for at most this long after it was last confirmed, ms. Default 300 000. */
  maxStaleMs?: number;
  /** How long to wait for one server's answer, ms. Default 2 000. */
  queryTimeoutMs?: number;
  /** Rounds over the server list before a lookup fails. Default 2. */
  attempts?: number;
  clock?: Clock;
  /** Told when a service's lookups start failing, when they recover, and about unusable records (once each). */
  logger?: Logger;
}

interface Answered {
  readonly instances: readonly Instance[];
  /** The smallest TTL of the records used, seconds. */
  readonly ttl: number;
}

interface Addresses {
  readonly addresses: readonly string[];
  /** The smallest TTL of the records, seconds. */
  readonly ttl: number;
}

interface Followed {
  readonly service: string;
  readonly abort: AbortController;
  timer: NodeJS.Timeout | undefined;
  /** Ends a stale answer's life on time, even while a retry is still waiting for servers. */
  expiry: NodeJS.Timeout | undefined;
  good: { readonly instances: readonly Instance[]; at: number } | undefined;
  error: Error | undefined;
  failures: number;
}

const TYPES = ['SRV', 'A', 'AAAA', 'A+AAAA'] as const;
/** The longest delay setTimeout takes (about 24.8 days). */
const MAX_DELAY = 2 ** 31 - 1;

/**
 * Instances from DNS: SRV records (host and port per instance, as Kubernetes headless
 * services and Consul publish them) or A/AAAA records with a fixed port. Each followed
 * service is asked again when its records' TTL runs out (kept within `minTtlMs`..`maxTtlMs`),
 * and every lookup publishes a state, so `updatedAt` tells when the answer was last confirmed.
 *
 * SRV: only the lowest priority value with a usable record is published (RFC 2782: lower
 * values must be tried first); `weight` is kept on each instance for the balancer. Targets
 * are resolved to addresses from the answer's additional section, else by asking for their
 * A and AAAA records; the instance's `host` is the first address (IPv4 first) and its `id`
 * is `target:port`. A lone target of `.` means the service is not available: no instances.
 * Records with port 0, or whose target has no address, are skipped and logged once.
 *
 * When lookups fail (timeout, SERVFAIL, REFUSED, NXDOMAIN, no records, network error) the
 * last good instances are published with `stale: true` and the `error`, for up to
 * `maxStaleMs` after they were last confirmed, then `instances: []`; before any good answer
 * a failure publishes `instances: []` with the error (and `stale: false`). Failing lookups
 * are retried after `minTtlMs`, doubling up to `maxTtlMs`, with jitter.
 *
 * @example
 * const resolver = new DnsResolver({ name: (service) => `_http._tcp.${service}.default.svc.cluster.local` });
 * resolver.subscribe('payment', (state) => console.log(state.instances.map((i) => i.id)));
 * // or addresses on a fixed port
 * const byAddress = new DnsResolver({ type: 'A+AAAA', port: 8080, name: (service) => `${service}.internal` });
 */
export class DnsResolver extends ResolverBase {
  readonly kind = 'dns';
  readonly type: DnsRecordType;
  readonly #name: (service: string) => string;
  readonly #port: number | undefined;
  readonly #client: DnsClient;
  readonly #minTtlMs: number;
  readonly #maxTtlMs: number;
  readonly #maxStaleMs: number;
  readonly #clock: Clock;
  readonly #followed = new Map<string, Followed>();
  readonly #running = new Set<Promise<void>>();

  constructor(options: DnsResolverOptions = {}) {
    super(options.logger);
    this.type = checkOneOf('type', options.type ?? 'SRV', TYPES);
    this.#name = checkFunction('name', options.name ?? ((service: string) => service));
    if (this.type === 'SRV') {
      if (options.port !== undefined) throw new TypeError('lifeline: option `port` is only for type A, AAAA or A+AAAA; SRV records carry their own ports');
    } else {
      if (options.port === undefined) throw new TypeError(`lifeline: option \`port\` is required with type ${this.type}`);
      const port = checkPort(options.port);
      if (typeof port === 'string') throw new RangeError(`lifeline: option \`port\`: ${port}`);
      this.#port = port;
    }
    this.#minTtlMs = checkDuration('minTtlMs', options.minTtlMs ?? 1_000);
    if (this.#minTtlMs === 0) throw new RangeError('lifeline: option `minTtlMs` must be > 0, got 0');
    this.#maxTtlMs = checkDuration('maxTtlMs', options.maxTtlMs ?? 60_000);
    if (this.#minTtlMs > this.#maxTtlMs) {
      throw new RangeError(`lifeline: option \`minTtlMs\` (${this.#minTtlMs}) must not be greater than \`maxTtlMs\` (${this.#maxTtlMs})`);
    }
    this.#maxStaleMs = checkDuration('maxStaleMs', options.maxStaleMs ?? 300_000, true);
    const servers = options.servers ?? getServers();
    if (options.servers === undefined && servers.length === 0) {
      throw new Error('lifeline: dns: the system has no DNS servers configured (dns.getServers() is empty); pass option `servers`');
    }
    this.#client = new DnsClient({ servers, timeoutMs: options.queryTimeoutMs, attempts: options.attempts });
    this.#clock = options.clock ?? systemClock;
  }

  protected follow(service: string): void {
    const followed: Followed = {
      service,
      abort: new AbortController(),
      timer: undefined,
      expiry: undefined,
      good: undefined,
      error: undefined,
      failures: 0,
    };
    this.#followed.set(service, followed);
    this.#lookup(followed);
  }

  protected unfollow(service: string): void {
    const followed = this.#followed.get(service);
    if (followed === undefined) return;
    this.#followed.delete(service);
    clearTimeout(followed.timer);
    clearTimeout(followed.expiry);
    followed.abort.abort();
  }

  /** Waits for lookups in flight to end (they were aborted), so no socket outlives `close()`. */
  protected override async onClose(): Promise<void> {
    await Promise.allSettled([...this.#running]);
  }

  #lookup(followed: Followed): void {
    followed.timer = undefined;
    if (this.#followed.get(followed.service) !== followed) return;
    const running = this.#refresh(followed).catch((error: unknown) => {
      this.logger?.warn({ resolver: this.kind, service: followed.service, error: String(error) }, 'dns resolver: refresh failed unexpectedly');
    });
    this.#running.add(running);
    void running.finally(() => this.#running.delete(running));
  }

  async #refresh(followed: Followed): Promise<void> {
    let answered: Answered;
    try {
      answered = await this.#resolve(followed.service, followed.abort.signal);
    } catch (error) {
      if (this.#followed.get(followed.service) === followed) this.#failed(followed, error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (this.#followed.get(followed.service) !== followed) return;
    const now = this.#clock.now();
    if (followed.failures > 0) {
      this.logger?.info({ resolver: this.kind, service: followed.service, failures: followed.failures }, 'dns resolver: lookups succeed again');
    }
    clearTimeout(followed.expiry);
    followed.expiry = undefined;
    followed.good = { instances: answered.instances, at: now };
    followed.error = undefined;
    followed.failures = 0;
    this.publish(followed.service, { instances: answered.instances, updatedAt: now, stale: false });
    this.#schedule(followed, Math.min(Math.max(answered.ttl * 1_000, this.#minTtlMs), this.#maxTtlMs));
  }

  #failed(followed: Followed, error: Error): void {
    const { service, good } = followed;
    followed.error = error;
    if (followed.failures++ === 0) {
      this.logger?.warn(
        { resolver: this.kind, service, error: error.message, serving: good === undefined ? 'nothing' : 'the last good answer' },
        'dns resolver: lookups failing',
      );
    }
    const left = good === undefined ? 0 : good.at + this.#maxStaleMs - this.#clock.now();
    this.publish(service, { instances: good !== undefined && left > 0 ? good.instances : [], updatedAt: good?.at, stale: good !== undefined, error });
    if (left > 0 && left <= MAX_DELAY && followed.expiry === undefined) {
      followed.expiry = setTimeout(() => {
        followed.expiry = undefined;
        if (this.#followed.get(service) !== followed || followed.error === undefined) return;
        this.logger?.warn({ resolver: this.kind, service, maxStaleMs: this.#maxStaleMs }, 'dns resolver: the last good answer is too old, serving no instances');
        this.publish(service, { instances: [], updatedAt: followed.good?.at, stale: true, error: followed.error });
      }, left);
      followed.expiry.unref();
    }
    const backoff = Math.min(this.#minTtlMs * 2 ** Math.min(followed.failures - 1, 30), this.#maxTtlMs);
    this.#schedule(followed, backoff * (0.5 + Math.random() / 2));
  }

  #schedule(followed: Followed, delay: number): void {
    followed.timer = setTimeout(() => this.#lookup(followed), Math.min(delay, MAX_DELAY));
    followed.timer.unref();
  }

  async #resolve(service: string, signal: AbortSignal): Promise<Answered> {
    const name = this.#name(service);
    if (typeof name !== 'string' || name === '') {
      throw new TypeError(`lifeline: dns: option \`name\` returned ${JSON.stringify(name)} for service "${service}", not a DNS name`);
    }
    if (this.type === 'SRV') return this.#resolveSrv(name, signal);
    const port = this.#port!;
    const types: RecordType[] = this.type === 'A+AAAA' ? ['A', 'AAAA'] : [this.type];
    const { addresses, ttl, nxdomain } = await this.#addresses(name, types, signal);
    if (addresses.length === 0) throw nxdomain ?? new Error(`lifeline: dns: ${name} has no ${types.join(' or ')} records`);
    return { instances: addresses.map((ip) => ({ id: hostPort(ip, port), host: ip, port, metadata: {} })), ttl };
  }

  /** The addresses of `name` of the given types, with their smallest TTL; fails on any error but NXDOMAIN, which it returns. */
  async #addresses(name: string, types: readonly RecordType[], signal: AbortSignal): Promise<Addresses & { nxdomain?: DnsQueryError }> {
    const results = await Promise.allSettled(types.map((type) => this.#client.query(name, type, signal)));
    const addresses = new Set<string>();
    let ttl = Infinity;
    let nxdomain: DnsQueryError | undefined;
    for (const [index, result] of results.entries()) {
      if (result.status === 'fulfilled') {
        for (const record of result.value.answers) {
          ttl = Math.min(ttl, record.ttl ?? 0);
          if (record.type === types[index] && typeof record.data === 'string') addresses.add(record.data);
        }
      } else if (result.reason instanceof DnsQueryError && result.reason.code === 'NXDOMAIN') {
        nxdomain ??= result.reason;
      } else {
        throw result.reason;
      }
    }
    return { addresses: [...addresses], ttl, nxdomain };
  }

  async #resolveSrv(name: string, signal: AbortSignal): Promise<Answered> {
    const response = await this.#client.query(name, 'SRV', signal);
    let ttl = Infinity;
    for (const record of response.answers) ttl = Math.min(ttl, record.ttl ?? 0);
    const records = response.answers.filter((record) => record.type === 'SRV');
    if (records.length === 0) throw new Error(`lifeline: dns: ${name} has no SRV records`);
    if (records.every((record) => record.data.target === '.' || record.data.target === '')) return { instances: [], ttl };

    const known = addressesIn(response.additionals);
    const targets = new Set<string>();
    for (const { data } of records) {
      const target = data.target.toLowerCase();
      if (data.port < 1 || data.port > 65_535) this.warnOnce(`${name}|${target}|port`, { name, target, port: data.port }, 'dns resolver: skipping an SRV record with port 0');
      else if (target !== '.' && target !== '' && !known.has(target)) targets.add(target);
    }
    await Promise.all([...targets].map(async (target) => known.set(target, await this.#addresses(target, ['A', 'AAAA'], signal))));

    const usable: { target: string; port: number; priority: number; weight: number; host: string; ttl: number }[] = [];
    for (const { data } of records) {
      const target = data.target.toLowerCase();
      if (data.port < 1 || data.port > 65_535 || target === '.' || target === '') continue;
      const found = known.get(target);
      const host = found?.addresses[0];
      if (host === undefined) {
        this.warnOnce(`${name}|${target}|address`, { name, target }, 'dns resolver: skipping an SRV record whose target has no address');
        continue;
      }
      usable.push({ target, port: data.port, priority: data.priority ?? 0, weight: data.weight ?? 0, host, ttl: found!.ttl });
    }
    if (usable.length === 0) throw new Error(`lifeline: dns: ${name} has no usable SRV records (${records.length} skipped)`);
    const priority = Math.min(...usable.map((record) => record.priority));
    const instances = new Map<string, Instance>();
    for (const record of usable) {
      const id = `${record.target}:${record.port}`;
      if (record.priority !== priority || instances.has(id)) continue;
      ttl = Math.min(ttl, record.ttl);
      instances.set(id, { id, host: record.host, port: record.port, priority: record.priority, weight: record.weight, metadata: {} });
    }
    return { instances: [...instances.values()], ttl };
  }
}

/** The A and AAAA records of a packet section by owner name, IPv4 first, with their smallest TTL. */
function addressesIn(section: readonly DnsRecord[]): Map<string, Addresses> {
  const byName = new Map<string, { v4: string[]; v6: string[]; ttl: number }>();
  for (const record of section) {
    if ((record.type !== 'A' && record.type !== 'AAAA') || typeof record.data !== 'string') continue;
    const key = record.name.toLowerCase();
    let entry = byName.get(key);
    if (entry === undefined) byName.set(key, (entry = { v4: [], v6: [], ttl: Infinity }));
    (record.type === 'A' ? entry.v4 : entry.v6).push(record.data);
    entry.ttl = Math.min(entry.ttl, record.ttl ?? 0);
  }
  return new Map([...byName].map(([key, { v4, v6, ttl }]) => [key, { addresses: [...v4, ...v6], ttl }]));
}
