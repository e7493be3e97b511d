// The client over real registries: etcd (self-registration, lease expiry, etcd down) and a
// real DNS server (dnsmasq), each started by the test on loopback.
import { isLifelineError } from '@lifeline/core';
import { Discovery, DnsResolver } from '@lifeline/discovery';
import { EtcdResolver, register, type EtcdRegistration } from '@lifeline/discovery/etcd';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDnsmasq, type Dnsmasq } from '../../discovery/test/dnsmasq.ts';
import { startEtcd, type EtcdServer } from '../../discovery/test/etcd-server.ts';
import { createClient, type LifelineClient } from '../src/index.ts';
import { catchError, startServer, type TestServer } from './servers.ts';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** Two instances of `payment` that answer with their own port. */
async function instances(): Promise<TestServer[]> {
  const list = await Promise.all([0, 1].map(() => startServer((req, res) => res.end(String(req.socket.localPort)))));
  for (const s of list) cleanup.push(() => s.close());
  return list;
}

/**
 * Calls `n` times, 8 at a time (with calls in flight, P2C compares loads; one at a time, it
 * would keep to the endpoint with the lower latency); returns the ports that answered.
 */
async function calls(client: LifelineClient, n: number): Promise<Set<string>> {
  const ports = new Set<string>();
  for (let i = 0; i < n; i += 8) {
    const batch = await Promise.all(Array.from({ length: Math.min(8, n - i) }, () => client.get('/charges').then((res) => res.body.text())));
    for (const port of batch) ports.add(port);
  }
  return ports;
}

async function until(check: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await sleep(50);
  }
}

describe('discovery through etcd', () => {
  let etcd: EtcdServer;
  beforeAll(async () => {
    etcd = await startEtcd();
  }, 30_000);
  afterAll(async () => {
    await etcd.dispose();
  });

  it('finds registered instances, balances over them, drops a deregistered one, and keeps serving while etcd is down', async () => {
    const [a, b] = await instances();
    const registrations: EtcdRegistration[] = [];
    for (const s of [a!, b!]) {
      registrations.push(await register({ hosts: etcd.hosts, service: 'payment', instance: { host: '127.0.0.1', port: s.port }, ttlSeconds: 5 }));
    }
    cleanup.push(async () => {
      for (const r of registrations) await r.deregister();
    });
    const discovery = new Discovery({ resolver: new EtcdResolver({ hosts: etcd.hosts, retry: { minBackoffMs: 50, maxBackoffMs: 500 } }) });
    const client = createClient({ service: 'payment', discovery, retry: false });
    cleanup.push(() => discovery.close(), () => client.close());

    // Both instances take calls.
    expect(await calls(client, 40)).toEqual(new Set([String(a!.port), String(b!.port)]));

    // One deregisters (graceful shutdown): it gets no more calls.
    await registrations[1]!.deregister();
    await until(() => client.pool!.endpoints.length === 1, 5_000);
    expect(await calls(client, 20)).toEqual(new Set([String(a!.port)]));
    await registrations[1]!.deregister(); // idempotent

    // etcd goes down: the last list keeps serving, marked stale.
    await etcd.stop();
    await until(() => client.pool!.snapshot().stale, 15_000);
    expect(await calls(client, 20)).toEqual(new Set([String(a!.port)]));
    expect(client.pool!.snapshot().error).toMatch(/etcd/);

    // etcd is back: the watch resumes and catches up with a new registration.
    await etcd.start();
    const c = (await instances())[0]!;
    registrations.push(await register({ hosts: etcd.hosts, service: 'payment', instance: { host: '127.0.0.1', port: c.port }, ttlSeconds: 5 }));
    await until(() => client.pool!.endpoints.length === 2 && !client.pool!.snapshot().stale, 20_000);
    expect(await calls(client, 40)).toEqual(new Set([String(a!.port), String(c.port)]));
  }, 60_000);
});

describe('discovery through DNS', () => {
  let dns: Dnsmasq;
  beforeAll(async () => {
    dns = await startDnsmasq({ ttl: 1 });
  });
  afterAll(async () => {
    await dns.close();
  });

  it('follows SRV records, serves the last answer while DNS is down, then fails with NO_ENDPOINTS past maxStaleMs', async () => {
    const [a, b] = await instances();
    await dns.restart({
      ttl: 1,
      srv: [
        { name: '_http._tcp.payment.test', target: 'pay-a.test', port: a!.port },
        { name: '_http._tcp.payment.test', target: 'pay-b.test', port: b!.port },
      ],
      hosts: [
        { name: 'pay-a.test', address: '127.0.0.1' },
        { name: 'pay-b.test', address: '127.0.0.1' },
      ],
    });
    const resolver = new DnsResolver({
      servers: [dns.server],
      name: (service) => `_http._tcp.${service}.test`,
      minTtlMs: 200,
      maxStaleMs: 2_500,
      queryTimeoutMs: 300,
      attempts: 1,
    });
    const discovery = new Discovery({ resolver });
    const client = createClient({ service: 'payment', discovery, retry: false });
    cleanup.push(() => discovery.close(), () => client.close());

    expect(await calls(client, 40)).toEqual(new Set([String(a!.port), String(b!.port)]));

    await dns.stop();
    await until(() => client.pool!.snapshot().stale, 5_000);
    expect(await calls(client, 10)).toEqual(new Set([String(a!.port), String(b!.port)]));

    await until(() => client.pool!.endpoints.length === 0, 6_000);
    const error = await catchError(client.get('/charges'));
    expect(isLifelineError(error, 'NO_ENDPOINTS')).toBe(true);
    expect((error as Error).message).toMatch(/^payment: no endpoints: lifeline: dns/);
  }, 30_000);
});
