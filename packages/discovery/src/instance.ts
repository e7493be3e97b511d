import type { Disposable } from '@lifeline/core';

/** One instance of a service, as a resolver reports it. */
export interface Instance {
  /** Stable identity across updates: the registry's instance id, else `host:port`. */
  readonly id: string;
  /** An IP address or a host name. */
  readonly host: string;
  readonly port: number;
  /** Availability zone, when the source knows it. */
  readonly zone?: string | undefined;
  /** SRV priority (lower is preferred) and weight, when the source has them. */
  readonly priority?: number | undefined;
  readonly weight?: number | undefined;
  /** Whatever else the source says about the instance. */
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** What a resolver knows about one service at a moment. */
export interface ResolverState {
  /** The instances of the last good answer (empty once it is too old to trust). */
  readonly instances: readonly Instance[];
  /** When that answer was last confirmed, ms on the resolver's clock; undefined before the first. */
  readonly updatedAt: number | undefined;
  /** True while the source is failing and `instances` is the last good answer. */
  readonly stale: boolean;
  /** The source's last error, while it persists. */
  readonly error?: Error | undefined;
}

/**
 * A source of instances for service names. A resolver follows a service from its first
 * subscriber to its last, pushes every change, and keeps serving its last good answer
 * while its source is failing (saying so with `stale`).
 *
 * Implementations: {@link StaticResolver}, {@link DnsResolver}, {@link EtcdResolver}.
 */
export interface Resolver {
  /** Names the source in snapshots: `static`, `dns`, `etcd`. */
  readonly kind: string;
  /**
   * Follows `service`: `listener` gets the current state at once when there is one, then
   * every change. Never throws into the listener's caller; a failing source is a state.
   */
  subscribe(service: string, listener: (state: ResolverState) => void): Disposable;
  /** Stops following every service and releases connections and timers. */
  close(): Promise<void>;
}

/** `host:port`, with brackets around an IPv6 address. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Parses `host:port` / `[v6]:port` into its parts, or returns a reason it cannot.
 *
 * @example parseHostPort('10.0.0.7:8080') // { host: '10.0.0.7', port: 8080 }
 */
export function parseHostPort(text: string): { host: string; port: number } | string {
  if (typeof text !== 'string') return `expected "host:port", got ${typeof text}`;
  const trimmed = text.trim();
  let host: string;
  let portText: string;
  if (trimmed.startsWith('[')) {
    const end = trimmed.indexOf(']');
    if (end === -1 || trimmed[end + 1] !== ':') return `expected "[ipv6]:port", got ${JSON.stringify(text)}`;
    host = trimmed.slice(1, end);
    portText = trimmed.slice(end + 2);
  } else {
    const colon = trimmed.lastIndexOf(':');
    if (colon <= 0 || trimmed.indexOf(':') !== colon) return `expected "host:port", got ${JSON.stringify(text)}`;
    host = trimmed.slice(0, colon);
    portText = trimmed.slice(colon + 1);
  }
  const port = checkPort(portText);
  if (typeof port === 'string') return `${port} in ${JSON.stringify(text)}`;
  if (host === '' || /[\s/?#@]/.test(host)) return `bad host in ${JSON.stringify(text)}`;
  return { host, port };
}

/** A port from a number or decimal string, or a reason it is not one. */
export function checkPort(value: unknown): number | string {
  const port = typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : value;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) {
    return `port must be an integer in 1..65535, got ${JSON.stringify(value)}`;
  }
  return port;
}
