import { checkDuration, checkInteger, checkObject, checkString, sleep, systemClock, type Clock, type Logger } from '@lifeline/core';
import type { Etcd3, Lease } from 'etcd3';
import { encodeEntry } from './etcd-entry.ts';
import { bounded, checkPrefix, etcdClient, jittered } from './etcd-resolver.ts';
import { checkPort, hostPort, parseHostPort } from './instance.ts';
import { checkServiceName } from './resolver-base.ts';

export interface EtcdRegistrationOptions {
  /** An etcd3 client to use. It is not closed by `deregister()`. Give this or `hosts`. */
  client?: Etcd3;
  /** etcd endpoints (`http://10.0.0.1:2379`): the registration creates its own client and closes it on `deregister()`. */
  hosts?: string | string[];
  /** Key prefix of the registry, without a trailing `/`. Default `lifeline/services`. */
  prefix?: string;
  /** The service this process is an instance of. */
  service: string;
  /** Where this instance is reached. */
  instance: {
    /** The key's last part. Default `host:port` (a restart on the same address takes its key over). */
    id?: string;
    host: string;
    port: number;
    /** Stored as `Metadata.zone`. */
    zone?: string;
    /** More fields of `Metadata`; must be JSON. */
    metadata?: Record<string, unknown>;
  };
  /** Lease TTL, seconds: a process that dies silently disappears after this long. Default 10 (etcd may round small TTLs up). */
  ttlSeconds?: number;
  /** Backoff between attempts to register while etcd is failing (jittered, doubling). */
  retry?: {
    /** Default 200. */
    minBackoffMs?: number;
    /** Default 10 000. */
    maxBackoffMs?: number;
  };
  /** Stamps `registeredAt`. Default the process clock. */
  clock?: Clock;
  /** Registration lost and restored (once each per loss), and failures to register. */
  logger?: Logger;
}

/**
 * `idle` until `start()`; `registering` until the first put; `registered`; `re-registering`
 * after the lease was lost; `deregistered` for good.
 */
export type EtcdRegistrationState = 'idle' | 'registering' | 'registered' | 're-registering' | 'deregistered';

export interface EtcdRegistrationSnapshot {
  readonly key: string;
  /** The lease holding the key, while registered (etcd's decimal lease id). */
  readonly leaseId: string | undefined;
  readonly state: EtcdRegistrationState;
  readonly ttlSeconds: number;
  /** When the key was last written, ms on the registration's clock. */
  readonly registeredAt: number | undefined;
  /** Failed attempts since the last successful one. */
  readonly failures: number;
}

const CALL_TIMEOUT_MS = 5_000;
const DEREGISTER_BOUND_MS = 2_000;

/**
 * Registers this process in etcd as an instance of a service, where {@link EtcdResolver} (and
 * gRPC-go's etcd resolver) find it: the key `<prefix>/<service>/<id>` holds
 * `{"Op":0,"Addr":"host:port","Metadata":{...}}` under a lease kept alive in the background,
 * so the entry disappears within `ttlSeconds` of the process dying. When the lease is lost (etcd
 * unreachable for longer than the TTL, or the lease revoked) a new one is granted and the key
 * written again, with backoff, until it succeeds. `deregister()` revokes the lease (deleting the
 * key) for a graceful shutdown. etcd3's keep-alive timer holds the event loop open while registered.
 *
 * Use {@link register} to construct and wait for the first registration in one step.
 *
 * @example
 * const registration = new EtcdRegistration({ hosts: 'http://127.0.0.1:2379', service: 'payment', instance: { host: '10.0.0.7', port: 8080, zone: 'a' } });
 * await registration.start();          // resolves once the key is written (retries while etcd is down)
 * process.once('SIGTERM', () => void registration.deregister().then(() => server.close()));
 */
export class EtcdRegistration {
  /** `<prefix>/<service>/<id>` */
  readonly key: string;
  readonly ttlSeconds: number;
  readonly #client: Etcd3;
  readonly #owned: boolean;
  readonly #value: string;
  readonly #minBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  readonly #stop = new AbortController();
  #state: EtcdRegistrationState = 'idle';
  #lease: Lease | undefined;
  #leaseId: string | undefined;
  #registeredAt: number | undefined;
  #failures = 0;
  #started: Promise<void> | undefined;
  #deregistered: Promise<void> | undefined;

  constructor(options: EtcdRegistrationOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('lifeline: EtcdRegistration needs options with `service`, `instance` and `client` or `hosts`');
    }
    const service = checkServiceName(options.service);
    const prefix = checkPrefix('registration.prefix', options.prefix);
    const instance = checkObject('registration.instance', options.instance);
    if (instance === undefined) throw new TypeError('lifeline: option `registration.instance` is required ({ host, port })');
    const host = checkString('registration.instance.host', instance.host);
    const port = checkPort(instance.port);
    if (typeof port === 'string') throw new RangeError(`lifeline: option \`registration.instance.port\`: ${port}`);
    const address = parseHostPort(hostPort(host, port));
    if (typeof address === 'string') throw new TypeError(`lifeline: option \`registration.instance.host\` is not a host: ${address}`);
    const id = instance.id === undefined ? hostPort(host, port) : checkString('registration.instance.id', instance.id);
    const zone = instance.zone === undefined ? undefined : checkString('registration.instance.zone', instance.zone);
    const metadata = checkObject('registration.instance.metadata', instance.metadata);
    try {
      this.#value = encodeEntry({ host, port, zone, metadata });
    } catch (error) {
      throw new TypeError('lifeline: option `registration.instance.metadata` must be JSON-serializable', { cause: error });
    }
    this.ttlSeconds = checkInteger('registration.ttlSeconds', options.ttlSeconds ?? 10, 1);
    const retry = checkObject('registration.retry', options.retry) ?? {};
    this.#minBackoffMs = checkDuration('registration.retry.minBackoffMs', retry.minBackoffMs ?? 200);
    this.#maxBackoffMs = checkDuration('registration.retry.maxBackoffMs', retry.maxBackoffMs ?? 10_000);
    if (this.#maxBackoffMs < this.#minBackoffMs) {
      throw new RangeError(
        `lifeline: option \`registration.retry.maxBackoffMs\` must be >= minBackoffMs (${this.#minBackoffMs}), got ${this.#maxBackoffMs}`,
      );
    }
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger;
    this.key = `${prefix}/${service}/${id}`;
    const { client, owned } = etcdClient(options, 'registration');
    this.#client = client;
    this.#owned = owned;
  }

  /**
   * Starts registering. Resolves once the key is first written (attempts continue with
   * backoff while etcd is failing), or once `deregister()` stops them. Never rejects.
   * Calling it again returns the attempt under way (after a lost lease, the re-registration).
   */
  start(): Promise<void> {
    if (this.#started !== undefined) return this.#started;
    if (this.#state === 'idle') this.#state = 'registering';
    this.#started = this.#register();
    return this.#started;
  }

  /**
   * Stops keeping the lease alive and revokes it, which deletes the key, so callers stop
   * picking this instance before it goes away. Waits at most ~2 s (etcd down: the key then
   * expires after `ttlSeconds`). Closes the client if the registration created it. Idempotent.
   */
  deregister(): Promise<void> {
    this.#deregistered ??= this.#deregister();
    return this.#deregistered;
  }

  snapshot(): EtcdRegistrationSnapshot {
    return {
      key: this.key,
      leaseId: this.#state === 'registered' ? this.#leaseId : undefined,
      state: this.#state,
      ttlSeconds: this.ttlSeconds,
      registeredAt: this.#registeredAt,
      failures: this.#failures,
    };
  }

  /** Grants a lease and writes the key under it, until that works or the registration stops. */
  async #register(): Promise<void> {
    while (!this.#stop.signal.aborted) {
      const lease = this.#client.lease(this.ttlSeconds, { autoKeepAlive: true, deadline: Date.now() + CALL_TIMEOUT_MS });
      this.#lease = lease;
      let held = false;
      lease.on('lost', (error) => {
        if (held && this.#lease === lease && !this.#stop.signal.aborted) this.#lost(error);
      });
      try {
        const leaseId = await lease.grant();
        await lease.put(this.key).value(this.#value).options({ deadline: Date.now() + CALL_TIMEOUT_MS });
        if (this.#stop.signal.aborted || this.#lease !== lease) return;
        held = true;
        const restored = this.#state === 're-registering';
        this.#state = 'registered';
        this.#leaseId = leaseId;
        this.#registeredAt = this.#clock.now();
        const failures = this.#failures;
        this.#failures = 0;
        if (restored || failures > 0) {
          this.#logger?.info({ key: this.key, leaseId, attempts: failures + 1 }, 'etcd: registration restored');
        }
        return;
      } catch (error) {
        if (this.#stop.signal.aborted || this.#lease !== lease) return;
        this.#lease = undefined;
        lease.revoke({ deadline: Date.now() + CALL_TIMEOUT_MS }).catch(() => undefined);
        if (++this.#failures === 1) {
          this.#logger?.warn({ key: this.key, error: message(error) }, 'etcd: cannot register, retrying');
        }
      }
      await sleep(jittered(this.#minBackoffMs, this.#maxBackoffMs, this.#failures), this.#stop.signal).catch(() => undefined);
    }
  }

  #lost(error: unknown): void {
    this.#lease = undefined;
    this.#leaseId = undefined;
    this.#state = 're-registering';
    this.#logger?.warn({ key: this.key, error: message(error) }, 'etcd: registration lost (lease expired or revoked), re-registering');
    this.#started = this.#register();
  }

  async #deregister(): Promise<void> {
    this.#state = 'deregistered';
    this.#stop.abort();
    const lease = this.#lease;
    this.#lease = undefined;
    this.#leaseId = undefined;
    if (lease !== undefined) {
      let outcome: unknown = 'timed out';
      const revoking = lease.revoke({ deadline: Date.now() + DEREGISTER_BOUND_MS }).then(
        () => {
          outcome = undefined;
        },
        (error: unknown) => {
          outcome = error;
        },
      );
      await bounded(revoking, DEREGISTER_BOUND_MS);
      if (outcome !== undefined) {
        this.#logger?.warn(
          { key: this.key, ttlSeconds: this.ttlSeconds, error: message(outcome) },
          'etcd: could not revoke the lease; the key expires after its TTL',
        );
      }
    }
    if (this.#owned) this.#client.close();
  }
}

/**
 * Registers this process as an instance of `service` and resolves once the key is written
 * (waiting, with retries, while etcd is unreachable). See {@link EtcdRegistration}.
 *
 * @example
 * const registration = await register({ hosts: 'http://127.0.0.1:2379', service: 'payment', instance: { host: '10.0.0.7', port: 8080 } });
 * // on shutdown
 * await registration.deregister();
 */
export async function register(options: EtcdRegistrationOptions): Promise<EtcdRegistration> {
  const registration = new EtcdRegistration(options);
  await registration.start();
  return registration;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
