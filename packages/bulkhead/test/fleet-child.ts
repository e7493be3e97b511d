// A second instance of a service, in its own process: holds `hold` fleet-wide slots until
// told to release them on stdin. Usage: node --conditions=@lifeline/source fleet-child.ts <port> <hold> <leaseMs>
import { Redis } from 'ioredis';
import { FleetBulkhead } from '@lifeline/bulkhead/redis';

const [port, hold, leaseMs] = process.argv.slice(2).map(Number);
const redis = new Redis({ port, host: '127.0.0.1', enableOfflineQueue: false, maxRetriesPerRequest: 0 });
await new Promise((resolve) => redis.once('ready', resolve));
const bulkhead = new FleetBulkhead({ redis, key: 'shared-test', maxConcurrent: 3, leaseMs });
for (let i = 0; i < hold!; i++) await bulkhead.acquire();
process.stdout.write(`held ${bulkhead.snapshot().leasesHeld}\n`);
process.stdin.once('data', () => {
  for (let i = 0; i < hold!; i++) bulkhead.release();
  setTimeout(() => {
    process.stdout.write('released\n');
    redis.disconnect();
    process.exit(0);
  }, 50);
});
