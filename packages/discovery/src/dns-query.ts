import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { isIP, connect } from 'node:net';
import { checkDuration, checkInteger } from '@lifeline/core';
import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, OptAnswer, RecordType } from 'dns-packet';
import { DnsQueryError, type DnsServer } from './dns-query-error.ts';
import { parseHostPort } from './instance.ts';

export { DnsQueryError, type DnsServer };

export interface DnsClientOptions {
  /** Servers as `ip`, `ip:port` or `[ipv6]:port`, asked in order. */
  servers: readonly string[];
  /** How long to wait for one server's answer, ms. Default 2 000. */
  timeoutMs?: number;
  /** Rounds over the server list before giving up (each round asks every server in turn). Default 2. */
  attempts?: number;
}

/** A resource record of an answer (EDNS's OPT pseudo-record left out). */
export type DnsRecord = Exclude<Answer, OptAnswer>;

/** A server's answer (rcode NOERROR; any other rcode is a {@link DnsQueryError}). */
export interface DnsResponse {
  readonly answers: readonly DnsRecord[];
  readonly additionals: readonly DnsRecord[];
  /** The server that answered, and how. */
  readonly server: DnsServer;
  readonly transport: 'udp' | 'tcp';
}

/** Ends a query at once: the name does not exist, or the caller gave up. Anything else tries the next server. */
const FINAL = new Set(['NXDOMAIN', 'ABORTED']);
/** The UDP payload size advertised with EDNS(0): the DNS Flag Day 2020 value, safe from fragmentation. */
const UDP_PAYLOAD = 1_232;

/**
 * Parses a DNS server address: `ip`, `ip:port` or `[ipv6]:port` (port 53 when absent), or
 * returns a reason it cannot. Host names are refused: a resolver's server must be an address.
 *
 * @example parseDnsServer('10.0.0.2') // { host: '10.0.0.2', port: 53 }
 */
export function parseDnsServer(text: unknown): DnsServer | string {
  if (typeof text !== 'string') return `expected an IP address, got ${typeof text}`;
  const trimmed = text.trim();
  if (isIP(trimmed) !== 0) return { host: trimmed, port: 53 };
  const parsed = parseHostPort(trimmed);
  if (typeof parsed !== 'string' && isIP(parsed.host) !== 0) return parsed;
  if (typeof parsed === 'string' && parsed.startsWith('port must')) return parsed;
  return `expected an IP address, "ip:port" or "[ipv6]:port", got ${JSON.stringify(text)}`;
}

/**
 * A small stub resolver over UDP, falling back to TCP for truncated answers. Unlike
 * `node:dns` it returns record TTLs. Each query has a random id checked on the answer and a
 * timeout per server; a failing server (timeout, SERVFAIL, REFUSED, socket error) passes
 * the query to the next, and the server that last answered is asked first next time.
 *
 * @example
 * const client = new DnsClient({ servers: ['10.0.0.2', '10.0.0.3:5353'] });
 * const { answers } = await client.query('_http._tcp.payment.test', 'SRV');
 */
export class DnsClient {
  readonly servers: readonly DnsServer[];
  readonly #timeoutMs: number;
  readonly #attempts: number;
  #preferred = 0;

  constructor(options: DnsClientOptions) {
    if (!Array.isArray(options.servers) || options.servers.length === 0) {
      throw new TypeError(`lifeline: option \`servers\` must be a non-empty array of DNS server addresses, got ${JSON.stringify(options.servers)}`);
    }
    this.servers = (options.servers as readonly unknown[]).map((text, index) => {
      const server = parseDnsServer(text);
      if (typeof server === 'string') throw new TypeError(`lifeline: option \`servers[${index}]\`: ${server}`);
      return server;
    });
    this.#timeoutMs = checkDuration('queryTimeoutMs', options.timeoutMs ?? 2_000);
    if (this.#timeoutMs === 0) throw new RangeError('lifeline: option `queryTimeoutMs` must be > 0, got 0');
    this.#attempts = checkInteger('attempts', options.attempts ?? 2, 1, 10);
  }

  /**
   * Asks for the `type` records of `name`. Resolves with the answer when a server says
   * NOERROR (possibly with no records); rejects with a {@link DnsQueryError} on NXDOMAIN at
   * once, and otherwise once every server has failed `attempts` times.
   */
  async query(name: string, type: RecordType, signal?: AbortSignal): Promise<DnsResponse> {
    if (typeof name !== 'string' || name.length === 0 || name.length > 254 || name.replace(/\.$/, '').split('.').some((label) => label.length === 0 || label.length > 63)) {
      throw new DnsQueryError('BADNAME', `${JSON.stringify(name)} is not a DNS name`);
    }
    const count = this.servers.length;
    let last: DnsQueryError | undefined;
    for (let i = 0; i < this.#attempts * count; i++) {
      if (signal?.aborted) throw new DnsQueryError('ABORTED', `${name} ${type}: aborted`);
      const index = (this.#preferred + i) % count;
      const server = this.servers[index]!;
      try {
        const response = await exchange(server, name, type, this.#timeoutMs, signal);
        this.#preferred = index;
        return response;
      } catch (error) {
        last = error instanceof DnsQueryError ? error : new DnsQueryError('BADRESPONSE', `${name} ${type}: ${String(error)}`, server, { cause: error });
        if (FINAL.has(last.code)) throw last;
      }
    }
    throw last!;
  }
}

/** One question to one server: UDP first, TCP when the UDP answer is truncated. */
async function exchange(server: DnsServer, name: string, type: RecordType, timeoutMs: number, signal: AbortSignal | undefined): Promise<DnsResponse> {
  const id = randomInt(65_536);
  const query: dnsPacket.Packet = {
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: UDP_PAYLOAD, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
  };
  const what = `${name} ${type}`;
  let raw = await transfer('udp', server, dnsPacket.encode(query), id, what, timeoutMs, signal);
  let transport: 'udp' | 'tcp' = 'udp';
  if ((raw.readUInt16BE(2) & dnsPacket.TRUNCATED_RESPONSE) !== 0) {
    raw = await transfer('tcp', server, dnsPacket.streamEncode(query), id, what, timeoutMs, signal);
    transport = 'tcp';
  }
  let packet: DecodedPacket & { rcode?: string };
  try {
    packet = dnsPacket.decode(raw);
  } catch (error) {
    throw new DnsQueryError('BADRESPONSE', `${what}: undecodable answer`, server, { cause: error });
  }
  const question = packet.questions?.[0];
  if (!packet.flag_qr || question === undefined || question.type !== type || question.name.toLowerCase() !== name.toLowerCase().replace(/\.$/, '')) {
    throw new DnsQueryError('BADRESPONSE', `${what}: the answer is for another question`, server);
  }
  const rcode = packet.rcode ?? 'NOERROR';
  if (rcode !== 'NOERROR') {
    const meaning = rcode === 'NXDOMAIN' ? 'no such name' : rcode === 'SERVFAIL' ? 'server failure' : rcode === 'REFUSED' ? 'refused' : 'error';
    throw new DnsQueryError(rcode, `${what}: ${meaning} (${rcode})`, server);
  }
  return { answers: records(packet.answers), additionals: records(packet.additionals), server, transport };
}

function records(section: readonly Answer[] | undefined): DnsRecord[] {
  return (section ?? []).filter((record): record is DnsRecord => record.type !== 'OPT');
}

/**
 * Sends one query and waits for the message whose id matches, closing the socket before
 * settling either way, so a settled query holds no handle.
 */
function transfer(
  transport: 'udp' | 'tcp',
  server: DnsServer,
  message: Buffer,
  id: number,
  what: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    let outcome: { answer: Buffer } | { error: DnsQueryError } | undefined;
    const settle = (): void => {
      if (outcome === undefined) return;
      if ('answer' in outcome) resolve(outcome.answer);
      else reject(outcome.error);
    };
    const fail = (code: string, text: string, cause?: unknown): void => finish({ error: new DnsQueryError(code, `${what}: ${text}`, server, { cause }) });
    const onAbort = (): void => fail('ABORTED', 'aborted');
    const timer = setTimeout(() => fail('TIMEOUT', `no answer within ${timeoutMs} ms over ${transport}`), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    const onError = (error: Error & { code?: string }): void => fail(error.code ?? 'ESOCKET', `${transport} ${error.message}`, error);

    let release: () => void;
    function finish(result: { answer: Buffer } | { error: DnsQueryError }): void {
      if (outcome !== undefined) return;
      outcome = result;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      release();
    }

    if (transport === 'udp') {
      const socket = createSocket(isIP(server.host) === 6 ? 'udp6' : 'udp4');
      release = () => socket.close(settle);
      socket.on('error', onError);
      socket.on('message', (data) => {
        // A stray or forged datagram (wrong id) is ignored; the real answer may still come.
        if (data.length >= 12 && data.readUInt16BE(0) === id) finish({ answer: data });
      });
      socket.connect(server.port, server.host, () => {
        if (outcome === undefined) socket.send(message, (error) => {
          if (error) onError(error);
        });
      });
    } else {
      const socket = connect({ host: server.host, port: server.port });
      let received = Buffer.alloc(0);
      release = () => (socket.closed ? settle() : socket.destroy());
      socket.once('close', settle);
      socket.on('error', onError);
      socket.on('connect', () => socket.write(message));
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        if (received.length < 2 || received.length < 2 + received.readUInt16BE(0)) return;
        const answer = received.subarray(2, 2 + received.readUInt16BE(0));
        if (answer.length >= 12 && answer.readUInt16BE(0) === id) finish({ answer });
        else fail('BADRESPONSE', 'tcp answer with a wrong id');
      });
      socket.on('end', () => fail('BADRESPONSE', 'tcp connection closed before the answer'));
    }
    if (signal?.aborted) onAbort();
  });
}
