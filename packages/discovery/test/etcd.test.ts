import { createHook } from 'node:async_hooks';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@lifeline/core';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeEntry } from '../src/etcd-entry.ts';
import { EtcdRegistration, register } from '../src/etcd-registration.ts';
import { EtcdResolver, type EtcdResolverOptions } from '../src/etcd-resolver.ts';
import type { ResolverState } from '../src/instance.ts';
import { startEtcd, type EtcdServer } from './etcd-server.ts';

const PREFIX = 'lifeline/services';
const FAST_RETRY = { minBackoffMs: 50, maxBackoffMs: 500 };

let server: EtcdServer;
let admin: Etcd3;
const cleanups: (() => Promise<void> | void)[] = [];
let serviceCount = 0;

beforeAll(async () => {
  server = await startEtcd();
  admin = new Etcd3({ hosts: server.hosts });
}, 30_000);

afterAll(async () => {
  admin?.close();
  await server?.dispose();
}, 30_000);

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  if (!server.running) await server.start();
}, 30_000);

/** A service name of its own for each test, so tests never see each other's entries. */
function service(): string {
  return `svc-${process.pid}-${++serviceCount}`;
}

interface Recorded {
  level: 'warn' | 'info';
  fields: Record<string, unknown>;
  message: string;
}

function recorder(): Logger & { lines: Recorded[]; find(level: Recorded['level'], text: string): Recorded[] } {
  const lines: Recorded[] = [];
  return {
    lines,
    warn: (fields, message) => lines.push({ level: 'warn', fields: fields as Record<string, unknown>, message }),
    info: (fields, message) => lines.push({ level: 'info', fields: fields as Record<string, unknown>, message }),
    find: (level, text) => lines.filter((line) => line.level === level && line.message.includes(text)),
  };
}

function resolver(options: Partial<EtcdResolverOptions> = {}): EtcdResolver {
  const created = new EtcdResolver({ hosts: server.hosts, retry: FAST_RETRY, ...options });
  cleanups.push(() => created.close());
  return created;
}

async function registered(name: string, port: number, extra: Partial<ConstructorParameters<typeof EtcdRegistration>[0]> = {}) {
  const registration = await register({ hosts: server.hosts, service: name, instance: { host: '127.0.0.1', port }, retry: FAST_RETRY, ...extra });
  cleanups.push(() => registration.deregister());
  return registration;
}

/** Every state a subscriber got, and a way to wait for one. */
function subscribe(source: EtcdResolver, name: string) {
  const states: ResolverState[] = [];
  const subscription = source.subscribe(name, (state) => states.push(state));
  cleanups.push(() => subscription.dispose());
  return {
    states,
    get last(): ResolverState | undefined {
      return states.at(-1);
    },
    async until(what: string, predicate: (state: ResolverState) => boolean, timeoutMs = 10_000): Promise<ResolverState> {
      const started = Date.now();
      for (;;) {
        const last = states.at(-1);
        if (last !== undefined && predicate(last)) return last;
        if (Date.now() - started > timeoutMs) {
          throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last state: ${JSON.stringify(last)}`);
        }
        await delay(20);
      }
    },
  };
}

function ids(state: ResolverState): string[] {
  return state.instances.map((instance) => instance.id);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function put(name: string, id: string, value: string): Promise<void> {
  await admin.put(`${PREFIX}/${name}/${id}`).value(value);
}

function entry(port: number, zone?: string): string {
  return encodeEntry({ host: '127.0.0.1', port, zone });
}

/** A client whose first watch starts at `revision` instead of the one asked for; later watches are untouched. */
function firstWatchFrom(revision: string): Etcd3 {
  const client = new Etcd3({ hosts: server.hosts });
  cleanups.push(() => client.close());
  const watch = client.watch.bind(client);
  let first = true;
  client.watch = () => {
    const builder = watch();
    const startRevision = builder.startRevision.bind(builder);
    const shifted = first;
    first = false;
    builder.startRevision = (asked: string) => startRevision(shifted ? revision : asked);
    return builder;
  };
  return client;
}

describe('EtcdResolver and EtcdRegistration against a real etcd', () => {
  it('sees a registration (host, port, id, zone), a second one, and a deregistration', async () => {
    const name = service();
    const followed = subscribe(resolver(), name);
    await followed.until('the empty list', (state) => !state.stale && state.instances.length === 0);

    const first = await registered(name, 7001, { instance: { host: '127.0.0.1', port: 7001, zone: 'a', metadata: { version: '1.2' } } });
    expect(first.snapshot()).toMatchObject({ key: `${PREFIX}/${name}/127.0.0.1:7001`, state: 'registered', ttlSeconds: 10 });
    expect(first.snapshot().leaseId).toMatch(/^\d+$/);
    const one = await followed.until('the first instance', (state) => state.instances.length === 1);
    expect(one.instances[0]).toEqual({ id: '127.0.0.1:7001', host: '127.0.0.1', port: 7001, zone: 'a', metadata: { version: '1.2' } });
    expect(one.stale).toBe(false);
    expect(one.updatedAt).toBeTypeOf('number');

    const second = await registered(name, 7002, { instance: { id: 'second', host: '127.0.0.1', port: 7002 } });
    const two = await followed.until('both instances', (state) => state.instances.length === 2);
    expect(ids(two)).toEqual(['127.0.0.1:7001', 'second']);
    expect(two.instances[1]).toMatchObject({ host: '127.0.0.1', port: 7002, zone: undefined });

    await first.deregister();
    expect(first.snapshot()).toMatchObject({ state: 'deregistered', leaseId: undefined });
    expect(await admin.get(first.key).string()).toBeNull();
    const after = await followed.until('the first gone', (state) => state.instances.length === 1);
    expect(ids(after)).toEqual(['second']);
    await first.deregister(); // idempotent
    await second.deregister();
    await followed.until('none left', (state) => state.instances.length === 0);
  });

  it('drops a SIGKILLed registrant once its lease (ttl 2 s) expires', async () => {
    const name = service();
    const followed = subscribe(resolver(), name);
    const script = fileURLToPath(new URL('./etcd-registrant.ts', import.meta.url));
    const child: ChildProcess = spawn(process.execPath, ['--conditions=@lifeline/source', script, server.hosts, name, '7101', '2'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    cleanups.push(() => void child.kill('SIGKILL'));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the registrant did not register within 15 s')), 15_000);
      child.once('exit', (code) => reject(new Error(`the registrant exited early with ${code}`)));
      child.stdout!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('registered')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await followed.until('the child instance', (state) => ids(state).includes('127.0.0.1:7101'));
    expect(followed.last!.instances[0]).toMatchObject({ zone: 'child', port: 7101 });

    const killed = Date.now();
    child.kill('SIGKILL');
    await followed.until('the child gone', (state) => state.instances.length === 0, 8_000);
    const gone = Date.now() - killed;
    // The lease outlives the process by what was left of its TTL (>= 2/3 of it after a keep-alive).
    expect(gone).toBeGreaterThan(1_000);
    expect(gone).toBeLessThan(2_000 + 3_000);
  }, 30_000);

  it('serves the last list, stale, while etcd is down, then catches up on changes made after it is back', async () => {
    const name = service();
    await put(name, 'a', entry(7201));
    await put(name, 'b', entry(7202));
    const logger = recorder();
    const followed = subscribe(resolver({ logger }), name);
    await followed.until('both entries', (state) => state.instances.length === 2);

    await server.stop();
    const stale = await followed.until('a stale state', (state) => state.stale);
    expect(ids(stale)).toEqual(['a', 'b']);
    expect(stale.error).toBeInstanceOf(Error);
    expect(stale.error!.message).toMatch(/^lifeline: etcd: cannot list lifeline\/services\/svc-/);
    await delay(1_000); // several failed attempts: still one state, one warning
    expect(followed.states.filter((state) => state.stale)).toHaveLength(1);
    expect(logger.find('warn', 'etcd unreachable, serving the last 2 instances')).toHaveLength(1);

    await server.start();
    await put(name, 'c', entry(7203));
    await admin.delete().key(`${PREFIX}/${name}/a`);
    const caughtUp = await followed.until('c added, a deleted', (state) => !state.stale && ids(state).join() === 'b,c', 15_000);
    expect(caughtUp.error).toBeUndefined();
    expect(logger.find('info', 'etcd reachable again')).toHaveLength(1);

    await put(name, 'd', entry(7204)); // the new watch works
    await followed.until('d added', (state) => ids(state).join() === 'b,c,d');
  }, 30_000);

  it('serves no instances once etcd has been unreachable for longer than maxStaleMs', async () => {
    const name = service();
    await put(name, 'a', entry(7301));
    const logger = recorder();
    const followed = subscribe(resolver({ logger, maxStaleMs: 300 }), name);
    await followed.until('the entry', (state) => state.instances.length === 1);
    await server.stop();
    await followed.until('stale with the entry', (state) => state.stale && state.instances.length === 1);
    const expired = await followed.until('stale and empty', (state) => state.stale && state.instances.length === 0);
    expect(expired.error).toBeInstanceOf(Error);
    expect(logger.find('warn', 'longer than maxStaleMs')).toHaveLength(1);
    await server.start();
    await followed.until('the entry again', (state) => !state.stale && state.instances.length === 1, 15_000);
  }, 30_000);

  it('re-lists and re-watches when etcd cancels the watch for compaction', async () => {
    const name = service();
    await put(name, 'a', entry(7401));
    for (let port = 7402; port < 7405; port++) await put(name, 'churn', entry(port));
    const { header } = await admin.getAll().prefix(`${PREFIX}/${name}/`).exec();
    await admin.kv.compact({ revision: header.revision, physical: true });

    // The resolver's first watch starts at revision 1, long compacted: etcd cancels it
    // (compact_revision), as it would a watch that fell behind a compaction.
    const client = firstWatchFrom('1');
    const logger = recorder();
    const followed = subscribe(resolver({ client, hosts: undefined, logger }), name);
    await followed.until('the list', (state) => ids(state).join() === 'a,churn');
    await expect.poll(() => logger.find('warn', 'cancelled by etcd').length, { timeout: 5_000 }).toBe(1);

    await put(name, 'b', entry(7406));
    await followed.until('b from the second watch', (state) => ids(state).join() === 'a,b,churn');
    expect(followed.states.every((state) => !state.stale)).toBe(true);
  });

  it('replaces a watch that stopped delivering (stall detection)', async () => {
    const name = service();
    await put(name, 'a', entry(7501));
    // The first watch starts far in the future, so it delivers nothing: a stalled watch.
    const client = firstWatchFrom('1000000000');
    const logger = recorder();
    const followed = subscribe(resolver({ client, hosts: undefined, logger, stallTimeoutMs: 600 }), name);
    await followed.until('the list', (state) => ids(state).join() === 'a');
    await put(name, 'b', entry(7502));
    const started = Date.now();
    await followed.until('b, after the stall is noticed', (state) => ids(state).join() === 'a,b', 5_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(logger.find('warn', 'the watch stalled')).toHaveLength(1);
    await put(name, 'c', entry(7503));
    await followed.until('c from the new watch', (state) => ids(state).join() === 'a,b,c', 1_000);
  });

  it('notices a frozen etcd (no answers, no disconnect) through its probe, and recovers', async () => {
    const name = service();
    await put(name, 'a', entry(7601));
    const followed = subscribe(resolver({ stallTimeoutMs: 500 }), name);
    await followed.until('the entry', (state) => state.instances.length === 1);
    server.pause();
    try {
      const stale = await followed.until('stale', (state) => state.stale, 5_000);
      expect(ids(stale)).toEqual(['a']);
    } finally {
      server.resume();
    }
    await followed.until('fresh again', (state) => !state.stale, 15_000);
    await put(name, 'b', entry(7602));
    await followed.until('b', (state) => ids(state).join() === 'a,b');
  }, 30_000);

  it('skips bad entries, warning once per bad key across updates', async () => {
    const name = service();
    await put(name, 'good', entry(7701, 'b'));
    await put(name, 'not-json', 'not json');
    await put(name, 'no-addr', '{"Op":0,"Metadata":{}}');
    await put(name, 'big-port', '{"Op":0,"Addr":"127.0.0.1:70000"}');
    const logger = recorder();
    const source = resolver({ logger });
    const followed = subscribe(source, name);
    const first = await followed.until('the good one', (state) => state.instances.length === 1);
    expect(first.instances[0]).toMatchObject({ id: 'good', port: 7701, zone: 'b' });
    const warned = (): string[] => logger.find('warn', 'bad registry entry').map((line) => String(line.fields.key));
    expect(warned().sort()).toEqual([`${PREFIX}/${name}/big-port`, `${PREFIX}/${name}/no-addr`, `${PREFIX}/${name}/not-json`]);

    await put(name, 'deleted-op', '{"Op":1,"Addr":"127.0.0.1:7702"}');
    await put(name, 'not-json', 'still not json');
    await put(name, 'no-addr', '{"Op":0}');
    await put(name, 'second', entry(7703));
    await followed.until('the second good one', (state) => state.instances.length === 2);
    expect(warned()).toHaveLength(4);
    expect(logger.find('warn', 'bad registry entry').find((line) => String(line.fields.key).endsWith('deleted-op'))!.fields.reason).toMatch(/Op is 1/);

    // Re-listing (a new subscriber after the last left) warns no more.
    followed.states.length = 0;
    await cleanups.pop()!();
    const again = subscribe(source, name);
    await again.until('the same two', (state) => ids(state).join() === 'good,second');
    expect(warned()).toHaveLength(4);

    // Fixed, it appears; broken again, it is reported again.
    await put(name, 'big-port', entry(7704));
    await again.until('big-port fixed', (state) => ids(state).includes('big-port'));
    await put(name, 'big-port', '{"Addr":"127.0.0.1:99999"}');
    await again.until('big-port broken', (state) => !ids(state).includes('big-port'));
    expect(warned()).toHaveLength(5);
  });

  it('re-registers after its lease is revoked by someone else', async () => {
    const name = service();
    const logger = recorder();
    const followed = subscribe(resolver(), name);
    const registration = await registered(name, 7801, { ttlSeconds: 3, logger });
    const lease = registration.snapshot().leaseId!;
    await followed.until('registered', (state) => state.instances.length === 1);

    await admin.leaseClient.leaseRevoke({ ID: lease });
    expect(await admin.get(registration.key).string()).toBeNull();
    // The next keep-alive (every ttl / 3) learns the lease is gone; a new one is granted.
    await expect.poll(() => registration.snapshot().state === 'registered' && registration.snapshot().leaseId !== lease, { timeout: 8_000 }).toBe(true);
    expect(await admin.get(registration.key).string()).toBe(encodeEntry({ host: '127.0.0.1', port: 7801 }));
    await followed.until('back', (state) => state.instances.length === 1);
    expect(logger.find('warn', 'registration lost')).toHaveLength(1);
    expect(logger.find('info', 'registration restored')).toHaveLength(1);
  }, 20_000);

  it('keeps trying to register while etcd is down, and registers once it is up', async () => {
    const name = service();
    await server.stop();
    const logger = recorder();
    const registration = new EtcdRegistration({
      hosts: server.hosts,
      service: name,
      instance: { host: '127.0.0.1', port: 7901 },
      retry: FAST_RETRY,
      logger,
    });
    cleanups.push(() => registration.deregister());
    const resolverLogger = recorder();
    const followed = subscribe(resolver({ logger: resolverLogger }), name);
    let started = false;
    const starting = registration.start().then(() => (started = true));
    const down = await followed.until('a stale, empty state', (state) => state.stale);
    expect(down).toMatchObject({ instances: [], updatedAt: undefined, stale: true });
    expect(down.error).toBeInstanceOf(Error);
    await delay(700);
    expect(started).toBe(false);
    expect(registration.snapshot()).toMatchObject({ state: 'registering', leaseId: undefined });
    expect(registration.snapshot().failures).toBeGreaterThan(0);
    expect(logger.find('warn', 'cannot register')).toHaveLength(1);
    expect(resolverLogger.find('warn', 'etcd unreachable, no instances known yet')).toHaveLength(1);

    await server.start();
    await starting;
    expect(registration.snapshot().state).toBe('registered');
    expect(await admin.get(registration.key).string()).not.toBeNull();
    await followed.until('the registration', (state) => !state.stale && ids(state).join() === '127.0.0.1:7901', 15_000);
  }, 30_000);

  it('re-registers under a new lease after etcd was down for longer than the lease could be kept', async () => {
    const name = service();
    const logger = recorder();
    const registration = await registered(name, 7951, { ttlSeconds: 2, logger });
    const lease = registration.snapshot().leaseId!;
    await server.stop();
    // etcd3 declares the lease lost after 2 x ttl without a keep-alive.
    await expect.poll(() => registration.snapshot().state, { timeout: 8_000, interval: 50 }).toBe('re-registering');
    expect(logger.find('warn', 'registration lost')).toHaveLength(1);
    await server.start();
    await expect.poll(() => registration.snapshot().state, { timeout: 15_000, interval: 50 }).toBe('registered');
    expect(registration.snapshot().leaseId).not.toBe(lease);
    const { kvs } = await admin.getAll().prefix(registration.key).exec();
    expect(kvs.map((kv) => kv.lease)).toEqual([registration.snapshot().leaseId]);
    expect(logger.find('info', 'registration restored')).toHaveLength(1);
  }, 30_000);

  it('deregister() returns within its bound when etcd is down', async () => {
    const name = service();
    const registration = await registered(name, 8001);
    server.pause();
    try {
      const started = Date.now();
      await registration.deregister();
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(registration.snapshot().state).toBe('deregistered');
    } finally {
      server.resume();
    }
  });

  it('validates its options', () => {
    expect(() => new EtcdResolver({})).toThrow('lifeline: option `etcd.client` or `etcd.hosts` is required');
    expect(() => new EtcdResolver({ hosts: server.hosts, stallTimeoutMs: -1 })).toThrow('etcd.stallTimeoutMs');
    expect(() => new EtcdResolver({ hosts: server.hosts, retry: { minBackoffMs: 100, maxBackoffMs: 10 } })).toThrow('maxBackoffMs');
    expect(() => new EtcdResolver({ client: {} as Etcd3 })).toThrow('must be an etcd3 client');
    const instance = { host: '127.0.0.1', port: 80 };
    expect(() => new EtcdRegistration({ hosts: server.hosts, service: 'a/b', instance })).toThrow('service name');
    expect(() => new EtcdRegistration({ hosts: server.hosts, service: 's', instance: { host: '127.0.0.1', port: 70_000 } })).toThrow('port');
    expect(() => new EtcdRegistration({ hosts: server.hosts, service: 's', instance: { host: 'a b', port: 80 } })).toThrow('host');
    expect(() => new EtcdRegistration({ hosts: server.hosts, service: 's', instance, ttlSeconds: 0 })).toThrow('ttlSeconds');
    expect(() => new EtcdRegistration({ hosts: server.hosts, service: 's', instance: { ...instance, metadata: { n: 1n } } })).toThrow(
      'JSON-serializable',
    );
  });

  it('leaves no timers of its own after close() and deregister()', async () => {
    // Every timer made while the clients live, by creation stack: ours (discovery/src/etcd-*)
    // must be gone at once; etcd3's and grpc-js's (a watch's reconnect backoff, a channel's
    // shutdown) must expire on their own. The test runner's own timers (expect.poll's) are
    // left out, so the count cannot be held up by the polling that watches it.
    const ours = new Map<number, string>();
    const live = new Map<number, string>();
    const hook = createHook({
      init(id, type) {
        if (type !== 'Timeout') return;
        const stack = new Error().stack ?? '';
        if (/[\\/]vitest[\\/]|@vitest/.test(stack)) return;
        live.set(id, stack);
        if (/discovery\/src\/etcd-/.test(stack)) ours.set(id, stack);
      },
      destroy(id) {
        ours.delete(id);
        live.delete(id);
      },
    });
    const name = service();
    await put(name, 'a', entry(8101));
    await delay(50);
    hook.enable();
    try {
      const source = new EtcdResolver({ hosts: server.hosts, stallTimeoutMs: 1_000, maxStaleMs: 60_000 });
      const subscription = source.subscribe(name, () => undefined);
      const registration = await register({ hosts: server.hosts, service: name, instance: { host: '127.0.0.1', port: 8102 } });
      await expect.poll(() => source.current(name)?.instances.length, { timeout: 5_000 }).toBe(2);
      await delay(600); // a probe has run and the next one is armed
      expect(ours.size).toBeGreaterThan(0);

      subscription.dispose();
      await source.close();
      await registration.deregister();
      await delay(10); // destroy hooks run asynchronously
      expect([...ours.values()]).toEqual([]);
      // A client left open would re-arm its timers for ever, which this catches; the libraries'
      // own last timers took more than 15 s once on a machine busy with every suite at once.
      await expect.poll(() => live.size, { timeout: 40_000, interval: 50 }).toBe(0);
    } finally {
      hook.disable();
    }
  }, 70_000);
});
