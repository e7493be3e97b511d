export { type Instance, type Resolver, type ResolverState, hostPort, parseHostPort } from './instance.ts';
export { ResolverBase } from './resolver-base.ts';
export { StaticResolver, type StaticResolverOptions, type StaticInstance, ENV_PREFIX } from './static-resolver.ts';
export { Discovery, type DiscoveryOptions, type DiscoverySnapshot } from './discovery.ts';
export { ServicePool, type BalancerKind, type PoolMode, type PoolSnapshot, type EjectionEvent } from './service-pool.ts';
export { Endpoint, type EndpointHealth, type EndpointSnapshot } from './endpoint.ts';
export { DnsResolver, type DnsResolverOptions, type DnsRecordType } from './dns-resolver.ts';
export { DnsQueryError } from './dns-query-error.ts';
