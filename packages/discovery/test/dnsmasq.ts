import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DnsClient, DnsQueryError } from '../src/dns-query.ts';

export interface SrvRecord {
  name: string;
  target: string;
  port: number;
  priority?: number;
  weight?: number;
}

export interface AddressRecord {
  name: string;
  address: string;
  /** This record's TTL, seconds; default the server's `ttl`. */
  ttl?: number;
}

/** What the server answers. Every name under `.test` that is not listed answers NXDOMAIN. */
export interface DnsRecords {
  srv?: SrvRecord[];
  /** A and AAAA records (the family follows the address). */
  hosts?: AddressRecord[];
  /** TTL of the records, seconds (dnsmasq's `local-ttl`). Default 0. */
  ttl?: number;
  /** More dnsmasq configuration lines. */
  extra?: string[];
}

/** A real dnsmasq on 127.0.0.1 and a free port (UDP and TCP), serving only the records given. */
export interface Dnsmasq {
  port: number;
  /** `127.0.0.1:port`, for a resolver's `servers`. */
  server: string;
  /** Stops the server (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port, with new records when given. */
  start(records?: DnsRecords): Promise<void>;
  /** Questions received since start, as `TYPE name` (`SRV _http._tcp.payment.test`), from dnsmasq's query log. */
  readonly queries: string[];
  /** `stop()` then `start(records)`. */
  restart(records?: DnsRecords): Promise<void>;
  /** Stops it and removes its files. */
  close(): Promise<void>;
}

const DNSMASQ = process.env.DNSMASQ ?? '/usr/sbin/dnsmasq';

async function freePort(): Promise<number> {
  for (;;) {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const udp = createSocket('udp4');
    const free = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (free) return port;
  }
}

function config(port: number, records: DnsRecords): string {
  const lines = [
    'no-resolv',
    'no-hosts',
    'bind-interfaces',
    'listen-address=127.0.0.1',
    `port=${port}`,
    'local=/test/',
    'log-queries',
    `local-ttl=${records.ttl ?? 0}`,
  ];
  for (const { name, target, port: p, priority = 0, weight = 0 } of records.srv ?? []) lines.push(`srv-host=${name},${target},${p},${priority},${weight}`);
  for (const { name, address, ttl } of records.hosts ?? []) lines.push(`host-record=${name},${address}${ttl === undefined ? '' : `,${ttl}`}`);
  lines.push(...(records.extra ?? []));
  return `${lines.join('\n')}\n`;
}

export async function startDnsmasq(initial: DnsRecords = {}): Promise<Dnsmasq> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'lifeline-dnsmasq-'));
  const file = join(dir, 'dnsmasq.conf');
  let records = initial;
  let child: ChildProcess | undefined;
  const queries: string[] = [];

  const start = async (next?: DnsRecords): Promise<void> => {
    if (child !== undefined) throw new Error('dnsmasq is already running');
    if (next !== undefined) records = next;
    await writeFile(file, config(port, records));
    const log: string[] = [];
    const proc = spawn(DNSMASQ, ['--keep-in-foreground', `--conf-file=${file}`, '--pid-file=', '--log-facility=-'], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let output = '';
    proc.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const lines = output.split('\n');
      output = lines.pop()!;
      for (const line of lines) {
        const query = /query\[(\w+)\] (\S+) from/.exec(line);
        if (query !== null) queries.push(`${query[1]} ${query[2]}`);
        else if (!line.includes('config ')) log.push(line);
      }
    });
    const exited = new Promise<never>((_, reject) => {
      proc.once('error', (error) => reject(new Error(`dnsmasq could not be started (is it installed? ./dev test installs it): ${error.message}`)));
      proc.once('exit', (code) => reject(new Error(`dnsmasq exited with ${code}: ${[...log, output].join('\n')}`)));
    });
    exited.catch(() => undefined);
    await Promise.race([ready(port, () => proc.exitCode === null), exited]);
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    });
  };

  await start();
  return {
    port,
    server: `127.0.0.1:${port}`,
    queries,
    start,
    stop,
    restart: async (next) => {
      await stop();
      await start(next);
    },
    close: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until the server answers anything (NXDOMAIN included). */
async function ready(port: number, running: () => boolean): Promise<void> {
  const client = new DnsClient({ servers: [`127.0.0.1:${port}`], timeoutMs: 100, attempts: 1 });
  const until = performance.now() + 10_000;
  while (running()) {
    try {
      await client.query('ready.test', 'A');
      return;
    } catch (error) {
      if (error instanceof DnsQueryError && error.code === 'NXDOMAIN') return;
      if (performance.now() > until) throw new Error(`dnsmasq did not answer on port ${port} within 10 s: ${String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
