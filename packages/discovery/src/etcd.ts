// `@lifeline/discovery/etcd`: the etcd resolver and self-registration, apart from the main
// entry so that a service without etcd never loads etcd3 and gRPC (install `etcd3` to use it).
export { EtcdResolver, type EtcdResolverOptions, DEFAULT_ETCD_PREFIX } from './etcd-resolver.ts';
export {
  EtcdRegistration,
  register,
  type EtcdRegistrationOptions,
  type EtcdRegistrationState,
  type EtcdRegistrationSnapshot,
} from './etcd-registration.ts';
export { encodeEntry, parseEntry, type EntryInstance } from './etcd-entry.ts';
