import type { Redis } from 'ioredis';

/**
 * Takes a lease if fewer than `limit` live ones exist. Time is Redis's own (TIME), so the
 * instances' clocks never have to agree. Expired leases (a crashed instance's) are dropped
 * first, so a slot is never lost for longer than the lease.
 * KEYS[1] the lease set; ARGV: lease id, limit, lease ms. Returns 1 when granted.
 */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
  return 1
end
return 0
`;

/** @internal Registers the lease script on the client (ioredis sends it by SHA, loading it once). */
export function defineLease(redis: Redis): void {
  redis.defineCommand('lifelineAcquire', { numberOfKeys: 1, lua: ACQUIRE });
}

/** @internal One attempt to take a fleet-wide slot: resolves `true` when the lease `id` was granted. */
export async function takeLease(redis: Redis, key: string, id: string, limit: number, leaseMs: number): Promise<boolean> {
  return (await (redis as unknown as LeaseCommands).lifelineAcquire(key, id, limit, leaseMs)) === 1;
}

interface LeaseCommands {
  lifelineAcquire(key: string, id: string, limit: number, leaseMs: number): Promise<number>;
}
