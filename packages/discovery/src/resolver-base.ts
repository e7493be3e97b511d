import type { Disposable, Logger } from '@lifeline/core';
import type { Resolver, ResolverState } from './instance.ts';

type Listener = (state: ResolverState) => void;

interface Followed {
  readonly listeners: Set<Listener>;
  state: ResolverState | undefined;
}

const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/** Throws a clear error unless `service` is a usable service name. @internal */
export function checkServiceName(service: unknown): string {
  if (typeof service !== 'string' || !SERVICE_NAME.test(service)) {
    throw new TypeError(
      `lifeline: a service name must be 1-253 characters of letters, digits, ".", "_" and "-", got ${JSON.stringify(service)}`,
    );
  }
  return service;
}

/**
 * The bookkeeping every resolver shares: listeners per service, the last state of each,
 * following a service from its first subscriber to its last, and bad registry entries
 * logged once each rather than on every update.
 *
 * Subclasses implement `follow` / `unfollow` and call `publish` with each new state.
 */
export abstract class ResolverBase implements Resolver {
  abstract readonly kind: string;
  protected readonly logger: Logger | undefined;
  readonly #followed = new Map<string, Followed>();
  readonly #warned = new Set<string>();
  #closed = false;

  constructor(logger: Logger | undefined) {
    this.logger = logger;
  }

  subscribe(service: string, listener: Listener): Disposable {
    checkServiceName(service);
    if (typeof listener !== 'function') throw new TypeError(`lifeline: subscribe needs a listener function, got ${typeof listener}`);
    if (this.#closed) throw new Error(`lifeline: the ${this.kind} resolver is closed`);
    let followed = this.#followed.get(service);
    const first = followed === undefined;
    if (followed === undefined) {
      followed = { listeners: new Set(), state: undefined };
      this.#followed.set(service, followed);
    }
    followed.listeners.add(listener);
    if (first) this.follow(service);
    else if (followed.state !== undefined) call(listener, followed.state);
    const entry = followed;
    return {
      dispose: () => {
        if (!entry.listeners.delete(listener) || entry.listeners.size > 0) return;
        if (this.#followed.get(service) !== entry) return;
        this.#followed.delete(service);
        this.unfollow(service);
      },
    };
  }

  /** The last state published for `service`, if it is followed. */
  current(service: string): ResolverState | undefined {
    return this.#followed.get(service)?.state;
  }

  /** Services with at least one subscriber. */
  get services(): string[] {
    return [...this.#followed.keys()];
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const services = [...this.#followed.keys()];
    this.#followed.clear();
    for (const service of services) this.unfollow(service);
    await this.onClose();
  }

  protected get closed(): boolean {
    return this.#closed;
  }

  /** Starts following a service (its first subscriber arrived). Must not throw. */
  protected abstract follow(service: string): void;
  /** Stops following a service (its last subscriber left, or the resolver is closing). */
  protected abstract unfollow(service: string): void;
  /** Releases what the resolver holds once every service is unfollowed. */
  protected onClose(): Promise<void> {
    return Promise.resolve();
  }

  /** Stores and delivers a service's new state; ignored once nobody follows it. */
  protected publish(service: string, state: ResolverState): void {
    const followed = this.#followed.get(service);
    if (followed === undefined) return;
    followed.state = state;
    for (const listener of [...followed.listeners]) call(listener, state);
  }

  /** Logs a warning once per `key` (a bad registry entry is reported once, not on every update). */
  protected warnOnce(key: string, fields: object, message: string): void {
    if (this.#warned.has(key)) return;
    if (this.#warned.size >= 10_000) this.#warned.clear();
    this.#warned.add(key);
    this.logger?.warn({ resolver: this.kind, ...fields }, message);
  }

  /** Lets a key warn again (the entry was fixed, then broke again). */
  protected forgetWarning(key: string): void {
    this.#warned.delete(key);
  }
}

function call(listener: Listener, state: ResolverState): void {
  try {
    listener(state);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}
