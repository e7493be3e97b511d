import { createSocket, type Socket } from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsmasq, type Dnsmasq } from '../test/dnsmasq.ts';
import { DnsClient, DnsQueryError, parseDnsServer } from './dns-query.ts';

let dnsmasq: Dnsmasq;
const sockets: Socket[] = [];

beforeAll(async () => {
  const big = Array.from({ length: 40 }, (_, i) => ({ name: '_http._tcp.big.test', target: `host-number-${i}.some-long-label.test`, port: 5000 + i }));
  dnsmasq = await startDnsmasq({
    ttl: 7,
    srv: [{ name: '_http._tcp.payment.test', target: 'host1.test', port: 4001, priority: 0, weight: 10 }, ...big],
    hosts: [
      { name: 'host1.test', address: '127.0.0.1' },
      { name: 'host1.test', address: '::1', ttl: 3 },
    ],
  });
});
afterAll(async () => {
  await dnsmasq.close();
  for (const socket of sockets) socket.close();
});

/** A UDP "server" on a free port: silent, or answering through `reply`. */
async function fakeServer(reply?: (query: dnsPacket.DecodedPacket, send: (packet: dnsPacket.Packet) => void) => void): Promise<string> {
  const socket = createSocket('udp4');
  sockets.push(socket);
  socket.on('message', (message, from) => {
    reply?.(dnsPacket.decode(message), (packet) => socket.send(dnsPacket.encode(packet), from.port, from.address));
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return `127.0.0.1:${socket.address().port}`;
}

async function rejection(promise: Promise<unknown>): Promise<DnsQueryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DnsQueryError);
  return error as DnsQueryError;
}

describe('DnsClient against dnsmasq', () => {
  it('returns SRV answers with their TTLs, and the targets’ addresses from the additional section', async () => {
    const client = new DnsClient({ servers: [dnsmasq.server] });
    const response = await client.query('_http._tcp.payment.test', 'SRV');
    expect(response.transport).toBe('udp');
    expect(response.answers).toEqual([
      expect.objectContaining({ type: 'SRV', name: '_http._tcp.payment.test', ttl: 7, data: expect.objectContaining({ target: 'host1.test', port: 4001, weight: 10 }) }),
    ]);
    expect(response.additionals).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'A', name: 'host1.test', data: '127.0.0.1', ttl: 7 })]),
    );
    expect(response.additionals.every((record) => (record.type as string) !== 'OPT')).toBe(true);
  });

  it('returns A and AAAA records with their own TTLs, and an empty answer when the name has none of that type', async () => {
    const client = new DnsClient({ servers: [dnsmasq.server] });
    expect((await client.query('host1.test', 'A')).answers).toEqual([expect.objectContaining({ data: '127.0.0.1', ttl: 7 })]);
    expect((await client.query('HOST1.test', 'AAAA')).answers).toEqual([expect.objectContaining({ data: '::1', ttl: 3 })]);
    expect((await client.query('_http._tcp.payment.test', 'A')).answers).toEqual([]);
  });

  it('fails at once with NXDOMAIN for an unknown name, without asking the other servers', async () => {
    const silent = await fakeServer();
    const client = new DnsClient({ servers: [dnsmasq.server, silent], timeoutMs: 5_000 });
    const started = performance.now();
    const error = await rejection(client.query('nope.test', 'A'));
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(error.code).toBe('NXDOMAIN');
    expect(error.message).toMatch(/^lifeline: dns: nope\.test A: no such name \(NXDOMAIN\) \(server 127\.0\.0\.1:\d+\)$/);
  });

  it('falls back to TCP when the UDP answer is truncated', async () => {
    const client = new DnsClient({ servers: [dnsmasq.server] });
    const response = await client.query('_http._tcp.big.test', 'SRV');
    expect(response.transport).toBe('tcp');
    expect(response.answers).toHaveLength(40);
    expect(new Set(response.answers.map((record) => record.type === 'SRV' && record.data.port)).size).toBe(40);
  });

  it('asks the next server when one fails, then keeps asking the one that answered first', async () => {
    const silent = await fakeServer();
    const client = new DnsClient({ servers: [silent, dnsmasq.server], timeoutMs: 300 });
    let started = performance.now();
    const first = await client.query('host1.test', 'A');
    expect(first.server.port).toBe(dnsmasq.port);
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    started = performance.now();
    await client.query('host1.test', 'A');
    expect(performance.now() - started).toBeLessThan(250);
  });

  it('tries the next server on SERVFAIL or REFUSED', async () => {
    const refusing = await fakeServer((query, send) => send({ type: 'response', id: query.id, flags: 5, questions: query.questions }));
    const client = new DnsClient({ servers: [refusing, dnsmasq.server] });
    expect((await client.query('host1.test', 'A')).server.port).toBe(dnsmasq.port);
    const alone = new DnsClient({ servers: [refusing], attempts: 1 });
    const error = await rejection(alone.query('host1.test', 'A'));
    expect(error.code).toBe('REFUSED');
  });

  it('ignores an answer with the wrong id and takes the right one', async () => {
    const server = await fakeServer((query, send) => {
      const answer = { type: 'A' as const, name: 'x.test', ttl: 9, data: '10.0.0.1' };
      send({ type: 'response', id: (query.id! + 1) % 65_536, flags: 0, questions: query.questions, answers: [{ ...answer, data: '6.6.6.6' }] });
      send({ type: 'response', id: query.id, flags: 0, questions: query.questions, answers: [answer] });
    });
    const client = new DnsClient({ servers: [server], attempts: 1 });
    expect((await client.query('x.test', 'A')).answers).toEqual([expect.objectContaining({ data: '10.0.0.1', ttl: 9 })]);
  });

  it('refuses an answer to another question', async () => {
    const server = await fakeServer((query, send) => send({ type: 'response', id: query.id, flags: 0, questions: [{ type: 'A', name: 'other.test' }] }));
    const error = await rejection(new DnsClient({ servers: [server], attempts: 1 }).query('x.test', 'A'));
    expect(error.code).toBe('BADRESPONSE');
  });

  it('times out against a server that never answers, after every attempt, leaving no socket or timer', async () => {
    const silent = await fakeServer();
    const client = new DnsClient({ servers: [silent], timeoutMs: 100, attempts: 3 });
    const started = performance.now();
    const error = await rejection(client.query('host1.test', 'A'));
    expect(performance.now() - started).toBeGreaterThanOrEqual(280);
    expect(error.code).toBe('TIMEOUT');
    expect(error.message).toBe(`lifeline: dns: host1.test A: no answer within 100 ms over udp (server ${silent})`);
    await new Promise((resolve) => setTimeout(resolve, 10)); // a closed handle is released on the loop's next turn
    expect(process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap')).toHaveLength(sockets.length);
    expect(process.getActiveResourcesInfo()).not.toContain('Timeout');
  });

  it('stops when aborted, and reports a closed port as a socket error', async () => {
    const silent = await fakeServer();
    const client = new DnsClient({ servers: [silent], timeoutMs: 5_000 });
    const controller = new AbortController();
    const pending = rejection(client.query('host1.test', 'A', controller.signal));
    controller.abort();
    expect((await pending).code).toBe('ABORTED');
    expect((await rejection(client.query('host1.test', 'A', AbortSignal.abort()))).code).toBe('ABORTED');

    const closed = await fakeServer();
    sockets.pop()!.close();
    const error = await rejection(new DnsClient({ servers: [closed], timeoutMs: 1_000, attempts: 1 }).query('host1.test', 'A'));
    expect(['ECONNREFUSED', 'TIMEOUT']).toContain(error.code);
  });
});

describe('DNS server addresses', () => {
  it('parses ip, ip:port and [ipv6]:port', () => {
    expect(parseDnsServer('10.0.0.2')).toEqual({ host: '10.0.0.2', port: 53 });
    expect(parseDnsServer('10.0.0.2:5353')).toEqual({ host: '10.0.0.2', port: 5353 });
    expect(parseDnsServer('::1')).toEqual({ host: '::1', port: 53 });
    expect(parseDnsServer('[::1]:5353')).toEqual({ host: '::1', port: 5353 });
    expect(parseDnsServer('dns.example:53')).toMatch(/expected an IP address/);
    expect(parseDnsServer('10.0.0.2:0')).toMatch(/port must be/);
  });

  it('refuses a name that is not a DNS name without asking', async () => {
    const client = new DnsClient({ servers: ['127.0.0.1:9'] });
    expect((await rejection(client.query(`${'a'.repeat(64)}.test`, 'A'))).code).toBe('BADNAME');
    expect((await rejection(client.query('a..test', 'A'))).message).toBe('lifeline: dns: "a..test" is not a DNS name');
  });

  it('rejects bad client options', () => {
    expect(() => new DnsClient({ servers: [] })).toThrow(/option `servers` must be a non-empty array/);
    expect(() => new DnsClient({ servers: ['localhost'] })).toThrow('lifeline: option `servers[0]`: expected an IP address, "ip:port" or "[ipv6]:port", got "localhost"');
    expect(() => new DnsClient({ servers: ['127.0.0.1'], timeoutMs: 0 })).toThrow(/queryTimeoutMs/);
    expect(() => new DnsClient({ servers: ['127.0.0.1'], attempts: 0 })).toThrow(/option `attempts` must be between 1 and 10/);
  });
});
