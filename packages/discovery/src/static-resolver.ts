import type { Logger } from '@lifeline/core';
import { hostPort, parseHostPort, type Instance } from './instance.ts';
import { checkServiceName, ResolverBase } from './resolver-base.ts';

/** An instance given by hand: `"host:port"` or its parts. */
export type StaticInstance = string | { host: string; port: number; id?: string; zone?: string; metadata?: Record<string, unknown> };

export interface StaticResolverOptions {
  /** Instances per service: `{ payment: ['127.0.0.1:4001', '127.0.0.1:4002'] }`. */
  services?: Record<string, readonly StaticInstance[]>;
  logger?: Logger;
}

/** The environment variable prefix {@link StaticResolver.fromEnv} reads: `LIFELINE_SERVICE_PAYMENT=host:port,host:port`. */
export const ENV_PREFIX = 'LIFELINE_SERVICE_';

/**
 * Instances from configuration or the environment: the embedded default, which needs no
 * registry. `set()` replaces a service's instances at run time and notifies subscribers.
 *
 * @example
 * const resolver = new StaticResolver({ services: { payment: ['127.0.0.1:4001', '127.0.0.1:4002'] } });
 * // or, from LIFELINE_SERVICE_PAYMENT=127.0.0.1:4001,127.0.0.1:4002
 * const fromEnv = StaticResolver.fromEnv();
 */
export class StaticResolver extends ResolverBase {
  readonly kind = 'static';
  readonly #services = new Map<string, readonly Instance[]>();
  readonly #updatedAt = new Map<string, number>();

  constructor(options: StaticResolverOptions = {}) {
    super(options.logger);
    const services = options.services ?? {};
    if (typeof services !== 'object' || services === null || Array.isArray(services)) {
      throw new TypeError(`lifeline: option \`services\` must be an object of service → instances, got ${JSON.stringify(services)}`);
    }
    for (const [service, instances] of Object.entries(services)) this.#services.set(checkServiceName(service), toInstances(service, instances));
  }

  /**
   * Reads `LIFELINE_SERVICE_<NAME>=host:port,host:port` variables; the service name is the
   * rest of the variable's name, lower-cased, with `_` read as `-` (`LIFELINE_SERVICE_USER_PROFILE` → `user-profile`).
   */
  static fromEnv(env: Record<string, string | undefined> = process.env, options: Omit<StaticResolverOptions, 'services'> = {}): StaticResolver {
    const services: Record<string, string[]> = {};
    for (const [key, value] of Object.entries(env)) {
      if (!key.startsWith(ENV_PREFIX) || value === undefined) continue;
      const service = key.slice(ENV_PREFIX.length).toLowerCase().replaceAll('_', '-');
      services[service] = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
    }
    return new StaticResolver({ ...options, services });
  }

  /** Replaces the instances of `service` (validated like the constructor's) and notifies subscribers. */
  set(service: string, instances: readonly StaticInstance[]): void {
    checkServiceName(service);
    this.#services.set(service, toInstances(service, instances));
    this.#updatedAt.set(service, Date.now());
    this.#publish(service);
  }

  protected follow(service: string): void {
    this.#publish(service);
  }

  protected unfollow(): void {}

  #publish(service: string): void {
    const instances = this.#services.get(service);
    this.publish(
      service,
      instances === undefined
        ? { instances: [], updatedAt: undefined, stale: false, error: new Error(`lifeline: static: no instances configured for service "${service}"`) }
        : { instances, updatedAt: this.#updatedAt.get(service) ?? Date.now(), stale: false },
    );
  }
}

function toInstances(service: string, list: readonly StaticInstance[]): Instance[] {
  if (!Array.isArray(list)) throw new TypeError(`lifeline: option \`services.${service}\` must be an array of "host:port", got ${JSON.stringify(list)}`);
  const seen = new Set<string>();
  return list.map((item: StaticInstance, index) => {
    const where = `services.${service}[${index}]`;
    let instance: Instance;
    if (typeof item === 'string') {
      const parsed = parseHostPort(item);
      if (typeof parsed === 'string') throw new TypeError(`lifeline: option \`${where}\`: ${parsed}`);
      instance = { id: hostPort(parsed.host, parsed.port), host: parsed.host, port: parsed.port, metadata: {} };
    } else if (typeof item === 'object' && item !== null) {
      const parsed = parseHostPort(hostPort(String(item.host), item.port));
      if (typeof parsed === 'string') throw new TypeError(`lifeline: option \`${where}\`: ${parsed}`);
      instance = {
        id: item.id ?? hostPort(parsed.host, parsed.port),
        host: parsed.host,
        port: parsed.port,
        zone: item.zone,
        metadata: item.metadata ?? {},
      };
    } else {
      throw new TypeError(`lifeline: option \`${where}\` must be "host:port" or { host, port }, got ${JSON.stringify(item)}`);
    }
    if (seen.has(instance.id)) throw new TypeError(`lifeline: option \`${where}\` repeats instance "${instance.id}"`);
    seen.add(instance.id);
    return instance;
  });
}
