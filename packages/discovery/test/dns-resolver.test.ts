import type { Disposable } from '@lifeline/core';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { DnsResolver, type DnsResolverOptions } from '../src/dns-resolver.ts';
import type { ResolverState } from '../src/instance.ts';
import { startDnsmasq, type Dnsmasq, type DnsRecords } from './dnsmasq.ts';
import { trackTimers } from './timers.ts';

const RECORDS: DnsRecords = {
  ttl: 30,
  srv: [
    { name: '_http._tcp.payment.test', target: 'host1.test', port: 4001, priority: 0, weight: 10 },
    { name: '_http._tcp.payment.test', target: 'host2.test', port: 4002, priority: 0, weight: 20 },
    { name: '_http._tcp.payment.test', target: 'backup.test', port: 4009, priority: 1, weight: 5 },
    // host4's address is not a local record, so dnsmasq leaves it out of the additional section
    { name: '_http._tcp.far.test', target: 'host4.test', port: 4004 },
    // a port of 0 and a target without an address are skipped; the backup priority takes over
    { name: '_http._tcp.broken.test', target: 'host1.test', port: 0 },
    { name: '_http._tcp.broken.test', target: 'nohost.test', port: 4005 },
    { name: '_http._tcp.broken.test', target: 'backup.test', port: 4009, priority: 2 },
  ],
  hosts: [
    { name: 'host1.test', address: '127.0.0.1' },
    { name: 'host2.test', address: '127.0.0.2' },
    { name: 'backup.test', address: '127.0.0.9' },
    { name: 'multi.test', address: '127.0.0.1' },
    { name: 'multi.test', address: '127.0.0.2' },
    { name: 'multi.test', address: '::1' },
  ],
  extra: ['address=/host4.test/127.0.0.4', 'srv-host=_http._tcp.gone.test'],
};

let dnsmasq: Dnsmasq;
const resolvers: DnsResolver[] = [];
const warnings: { fields: object; message: string }[] = [];
const logger = { warn: (fields: object, message: string) => warnings.push({ fields, message }), info: () => undefined };

beforeAll(async () => {
  dnsmasq = await startDnsmasq(RECORDS);
});
afterAll(async () => {
  await dnsmasq.close();
});
afterEach(async () => {
  await Promise.all(resolvers.splice(0).map((resolver) => resolver.close()));
  warnings.length = 0;
});

function resolver(options: DnsResolverOptions = {}, server = dnsmasq.server): DnsResolver {
  const created = new DnsResolver({ servers: [server], queryTimeoutMs: 300, attempts: 1, logger, ...options });
  resolvers.push(created);
  return created;
}

const srv = (service: string): string => `_http._tcp.${service}.test`;

/** Every state published for `service`, and a way to wait for one that matches. */
function follow(dns: DnsResolver, service: string): { states: ResolverState[]; subscription: Disposable; next: (match: (state: ResolverState) => boolean, ms?: number) => Promise<ResolverState> } {
  const states: ResolverState[] = [];
  const waiters = new Set<() => void>();
  const subscription = dns.subscribe(service, (state) => {
    states.push(state);
    for (const waiter of [...waiters]) waiter();
  });
  const next = (match: (state: ResolverState) => boolean, ms = 5_000): Promise<ResolverState> =>
    new Promise((resolve, reject) => {
      const from = states.length;
      const check = (): void => {
        const found = states.slice(from).find(match);
        if (found === undefined) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no matching state within ${ms} ms; last: ${JSON.stringify(states.at(-1))}`));
      }, ms);
      waiters.add(check);
    });
  return { states, subscription, next };
}

const ids = (state: ResolverState): string[] => state.instances.map((instance) => instance.id).sort();
/** The sockets open in the process. */
const sockets = (): string[] => process.getActiveResourcesInfo().filter((r) => /UDP|TCP/.test(r)).sort();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('DnsResolver against dnsmasq: SRV', () => {
  it('publishes the lowest priority group, with each target’s address, port and weight', async () => {
    const { next } = follow(resolver({ name: srv }), 'payment');
    const state = await next(() => true);
    expect(state.stale).toBe(false);
    expect(state.error).toBeUndefined();
    expect(typeof state.updatedAt).toBe('number');
    expect([...state.instances].sort((a, b) => a.id.localeCompare(b.id))).toEqual([
      { id: 'host1.test:4001', host: '127.0.0.1', port: 4001, priority: 0, weight: 10, metadata: {} },
      { id: 'host2.test:4002', host: '127.0.0.2', port: 4002, priority: 0, weight: 20, metadata: {} },
    ]);
  });

  it('looks up a target’s address when the additional section lacks it', async () => {
    const state = await follow(resolver({ name: srv }), 'far').next(() => true);
    expect(state.instances).toEqual([{ id: 'host4.test:4004', host: '127.0.0.4', port: 4004, priority: 0, weight: 0, metadata: {} }]);
  });

  it('skips records with port 0 or an unresolvable target, logging each once, and falls back to the next priority', async () => {
    const dns = resolver({ name: srv, minTtlMs: 50, maxTtlMs: 50 });
    const { next, states } = follow(dns, 'broken');
    const state = await next(() => states.length >= 3);
    expect(ids(state)).toEqual(['backup.test:4009']);
    expect(state.stale).toBe(false);
    expect(warnings.map((w) => w.message).sort()).toEqual([
      'dns resolver: skipping an SRV record whose target has no address',
      'dns resolver: skipping an SRV record with port 0',
    ]);
    expect(warnings[0]!.fields).toMatchObject({ resolver: 'dns', name: '_http._tcp.broken.test' });
  });

  it('publishes no instances, and no error, for a target of "." (service not available)', async () => {
    const state = await follow(resolver({ name: srv }), 'gone').next(() => true);
    expect(state).toMatchObject({ instances: [], stale: false });
    expect(state.error).toBeUndefined();
  });

  it('publishes NXDOMAIN for an unknown name as an error naming it, before any good answer', async () => {
    const state = await follow(resolver({ name: srv }), 'unknown').next(() => true);
    expect(state.instances).toEqual([]);
    expect(state.stale).toBe(false);
    expect(state.updatedAt).toBeUndefined();
    expect(state.error?.message).toMatch(/^lifeline: dns: _http\._tcp\.unknown\.test SRV: no such name \(NXDOMAIN\)/);
    expect(warnings).toEqual([expect.objectContaining({ message: 'dns resolver: lookups failing' })]);
  });

  it('publishes an error, not a throw, when the name option throws', async () => {
    const state = await follow(
      resolver({
        name: () => {
          throw new Error('no name for you');
        },
      }),
      'payment',
    ).next(() => true);
    expect(state).toMatchObject({ instances: [], error: new Error('no name for you') });
  });
});

describe('DnsResolver against dnsmasq: addresses', () => {
  it('A: one instance per IPv4 address on the fixed port', async () => {
    const state = await follow(resolver({ type: 'A', port: 8080, name: (s) => `${s}.test` }), 'multi').next(() => true);
    expect(state.instances).toEqual([
      { id: '127.0.0.1:8080', host: '127.0.0.1', port: 8080, metadata: {} },
      { id: '127.0.0.2:8080', host: '127.0.0.2', port: 8080, metadata: {} },
    ]);
  });

  it('AAAA and A+AAAA', async () => {
    const v6 = await follow(resolver({ type: 'AAAA', port: 8080, name: (s) => `${s}.test` }), 'multi').next(() => true);
    expect(ids(v6)).toEqual(['[::1]:8080']);
    expect(v6.instances[0]!.host).toBe('::1');
    const both = await follow(resolver({ type: 'A+AAAA', port: 8080, name: (s) => `${s}.test` }), 'multi').next(() => true);
    expect(ids(both)).toEqual(['127.0.0.1:8080', '127.0.0.2:8080', '[::1]:8080']);
    const v4only = await follow(resolver({ type: 'A+AAAA', port: 8080, name: (s) => `${s}.test` }), 'host1').next(() => true);
    expect(ids(v4only)).toEqual(['127.0.0.1:8080']);
  });

  it('a name with no record of the type is an error', async () => {
    const state = await follow(resolver({ type: 'AAAA', port: 8080, name: (s) => `${s}.test` }), 'host1').next(() => true);
    expect(state).toMatchObject({ instances: [], stale: false });
    expect(state.error?.message).toBe('lifeline: dns: host1.test has no AAAA records');
  });
});

describe('DnsResolver against dnsmasq: TTL, failures and shutdown', () => {
  const servers: Dnsmasq[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });
  const serve = async (records: DnsRecords): Promise<Dnsmasq> => {
    const server = await startDnsmasq(records);
    servers.push(server);
    return server;
  };

  it('asks again when the TTL runs out, and publishes the changed records', async () => {
    const own = await serve({ ttl: 1, hosts: [{ name: 'svc.test', address: '127.0.0.1' }] });
    const { next } = follow(resolver({ type: 'A', port: 80, name: (s) => `${s}.test`, minTtlMs: 200 }, own.server), 'svc');
    expect(ids(await next(() => true))).toEqual(['127.0.0.1:80']);
    await own.restart({ ttl: 1, hosts: [{ name: 'svc.test', address: '127.0.0.7' }, { name: 'svc.test', address: '127.0.0.8' }] });
    const changed = await next((state) => !state.stale && state.instances.length === 2, 5_000);
    expect(ids(changed)).toEqual(['127.0.0.7:80', '127.0.0.8:80']);
  });

  it('clamps a long TTL to maxTtlMs and a zero TTL to minTtlMs', async () => {
    const own = await serve({ ttl: 3_600, hosts: [{ name: 'long.test', address: '127.0.0.1' }, { name: 'zero.test', address: '127.0.0.1', ttl: 0 }] });
    const asked = (name: string): number => own.queries.filter((q) => q === `A ${name}`).length;
    const { states: long } = follow(resolver({ type: 'A', port: 80, name: (s) => `${s}.test`, minTtlMs: 10, maxTtlMs: 250 }, own.server), 'long');
    const { states: zero } = follow(resolver({ type: 'A', port: 80, name: (s) => `${s}.test`, minTtlMs: 400, maxTtlMs: 10_000 }, own.server), 'zero');
    await sleep(1_300);
    // long: every 250 ms (~6 lookups); zero: every 400 ms (~4); generous margins for a busy machine
    expect(long.length).toBeGreaterThanOrEqual(3);
    expect(long.length).toBeLessThanOrEqual(7);
    expect(zero.length).toBeGreaterThanOrEqual(2);
    expect(zero.length).toBeLessThanOrEqual(4);
    expect(asked('long.test')).toBeGreaterThanOrEqual(long.length);
    expect(asked('long.test')).toBeLessThanOrEqual(long.length + 1);
    expect(long.every((state) => !state.stale && ids(state).join() === '127.0.0.1:80')).toBe(true);
    const updates = long.map((state) => state.updatedAt!);
    expect(updates).toEqual([...updates].sort((a, b) => a - b));
  });

  it('serves the last good answer as stale while the server is down, then nothing after maxStaleMs, then recovers', async () => {
    const own = await serve({ ttl: 0, hosts: [{ name: 'svc.test', address: '127.0.0.1' }] });
    const dns = resolver({ type: 'A', port: 80, name: (s) => `${s}.test`, minTtlMs: 100, maxTtlMs: 200, maxStaleMs: 1_500 }, own.server);
    const { next } = follow(dns, 'svc');
    const good = await next(() => true);
    await own.stop();
    const stale = await next((state) => state.stale);
    expect(stale.instances).toEqual(good.instances);
    expect(stale.error).toBeInstanceOf(Error);
    expect(stale.error!.message).toMatch(/^lifeline: dns: svc\.test A: /);
    const lastGood = stale.updatedAt!;
    expect(lastGood).toBeGreaterThanOrEqual(good.updatedAt!);
    const expired = await next((state) => state.instances.length === 0, 5_000);
    const at = performance.now();
    expect(expired).toMatchObject({ stale: true, updatedAt: lastGood });
    expect(expired.error).toBeInstanceOf(Error);
    expect(at - lastGood).toBeGreaterThanOrEqual(1_400);
    expect(at - lastGood).toBeLessThan(3_500);
    await own.start();
    const back = await next((state) => !state.stale, 5_000);
    expect(back).toMatchObject({ instances: good.instances, stale: false });
    expect(back.error).toBeUndefined();
  });

  it('stops asking when the last subscriber leaves, and close() leaves no socket or timer behind', async () => {
    const own = await serve({ ttl: 0, hosts: [{ name: 'a.test', address: '127.0.0.1' }, { name: 'b.test', address: '127.0.0.1' }] });
    await sleep(20);
    const before = sockets();
    const timers = trackTimers();
    onTestFinished(() => timers.restore());
    const dns = resolver({ type: 'A', port: 80, name: (s) => `${s}.test`, minTtlMs: 50, maxTtlMs: 50 }, own.server);
    const a = follow(dns, 'a');
    const b = follow(dns, 'b');
    await a.next(() => a.states.length >= 2);
    a.subscription.dispose();
    expect(dns.services).toEqual(['b']);
    const askedA = own.queries.filter((q) => q === 'A a.test').length;
    await b.next(() => b.states.length >= 4);
    expect(own.queries.filter((q) => q === 'A a.test').length).toBeLessThanOrEqual(askedA + 1);

    await dns.close();
    expect(timers.pending()).toBe(0);
    const published = b.states.length;
    const asked = own.queries.length;
    await sleep(300);
    expect(b.states.length).toBe(published);
    expect(own.queries.length).toBe(asked);
    expect(sockets()).toEqual(before);
    expect(() => dns.subscribe('a', () => undefined)).toThrow('lifeline: the dns resolver is closed');
  });

  it('close() during a lookup to a silent server ends it at once', async () => {
    const dns = resolver({ queryTimeoutMs: 5_000 }, '127.0.0.1:9'); // discard port: nothing answers (or ICMP refuses)
    follow(dns, 'payment');
    const started = performance.now();
    await dns.close();
    expect(performance.now() - started).toBeLessThan(500);
    await sleep(10);
    expect(sockets()).toEqual([]);
  });
});

describe('DnsResolver options', () => {
  it('rejects bad configuration with a clear message', () => {
    expect(() => new DnsResolver({ servers: ['dns.local'] })).toThrow('lifeline: option `servers[0]`: expected an IP address, "ip:port" or "[ipv6]:port", got "dns.local"');
    expect(() => new DnsResolver({ servers: ['10.0.0.2:99999'] })).toThrow(/option `servers\[0\]`: port must be an integer in 1\.\.65535/);
    expect(() => new DnsResolver({ servers: [] })).toThrow(/option `servers` must be a non-empty array/);
    expect(() => new DnsResolver({ servers: ['10.0.0.2'], minTtlMs: 5_000, maxTtlMs: 1_000 })).toThrow(
      'lifeline: option `minTtlMs` (5000) must not be greater than `maxTtlMs` (1000)',
    );
    expect(() => new DnsResolver({ servers: ['10.0.0.2'], type: 'A' })).toThrow('lifeline: option `port` is required with type A');
    expect(() => new DnsResolver({ servers: ['10.0.0.2'], type: 'A', port: 0 })).toThrow(/option `port`: port must be an integer/);
    expect(() => new DnsResolver({ servers: ['10.0.0.2'], port: 80 })).toThrow(/option `port` is only for type A, AAAA or A\+AAAA/);
    expect(() => new DnsResolver({ servers: ['10.0.0.2'], type: 'MX' as 'A' })).toThrow(/option `type` must be one of "SRV", "A", "AAAA", "A\+AAAA", got "MX"/);
    expect(() => new DnsResolver({ servers: ['10.0.0.2'], name: 'x' as never })).toThrow('lifeline: option `name` must be a function, got "x"');
    expect(() => new DnsResolver({ servers: ['10.0.0.2'], minTtlMs: 0 })).toThrow('lifeline: option `minTtlMs` must be > 0, got 0');
    expect(() => new DnsResolver({ servers: ['10.0.0.2'], maxStaleMs: -1 })).toThrow(/option `maxStaleMs` must be >= 0/);
    expect(() => new DnsResolver({ servers: ['10.0.0.2'], queryTimeoutMs: 0 })).toThrow(/option `queryTimeoutMs` must be > 0/);
    expect(() => new DnsResolver({ servers: ['10.0.0.2'], attempts: 1.5 })).toThrow(/option `attempts` must be an integer/);
  });

  it('defaults to the system’s DNS servers', async () => {
    const dns = new DnsResolver();
    expect(dns.kind).toBe('dns');
    expect(dns.type).toBe('SRV');
    await dns.close();
  });
});
