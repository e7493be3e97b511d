// An instance of a service in its own process: registers itself in etcd, says "registered" on
// stdout, then stays up (keeping its lease alive) until killed.
// Usage: node --conditions=@lifeline/source etcd-registrant.ts <hosts> <service> <port> [ttlSeconds]
import { register } from '../src/etcd-registration.ts';

const [hosts, service, port, ttl] = process.argv.slice(2);
const registration = await register({
  hosts: hosts!,
  service: service!,
  instance: { host: '127.0.0.1', port: Number(port), zone: 'child' },
  ttlSeconds: Number(ttl ?? 2),
});
process.stdout.write(`registered ${registration.snapshot().leaseId}\n`);
process.stdin.resume();
process.stdin.once('end', () => {
  void registration.deregister().then(() => process.exit(0));
});
