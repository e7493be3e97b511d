import { describe, expect, it } from 'vitest';
import { Discovery } from './discovery.ts';
import { resolveHealthCheck } from './health-check.ts';
import { StaticResolver } from './static-resolver.ts';

describe('healthCheck option', () => {
  it('is on by default, fills in what is left out, and is turned off by false', () => {
    expect(resolveHealthCheck(undefined)).toEqual({ path: '/health/ready', intervalMs: 500, timeoutMs: 1_000 });
    expect(resolveHealthCheck({ path: '/healthz' })).toEqual({ path: '/healthz', intervalMs: 500, timeoutMs: 1_000 });
    expect(resolveHealthCheck({ intervalMs: 2_000, timeoutMs: 300 })).toEqual({ path: '/health/ready', intervalMs: 2_000, timeoutMs: 300 });
    expect(resolveHealthCheck(false)).toBeUndefined();
  });

  it('rejects bad values at construction, naming the option', () => {
    const resolver = new StaticResolver();
    const make = (healthCheck: unknown) => () => new Discovery({ resolver, healthCheck: healthCheck as never });
    expect(make(true)).toThrow(/option `healthCheck` must be an object \(\{ path, intervalMs, timeoutMs \}\) or false, got true/);
    expect(make('/health')).toThrow(/option `healthCheck` must be an object.*got "\/health"/);
    expect(make(null)).toThrow(/option `healthCheck` must be an object.*got null/);
    expect(make({ path: 'health' })).toThrow(/option `healthCheck.path` must be a path starting with "\/".*got "health"/);
    expect(make({ path: '' })).toThrow(/option `healthCheck.path` must be a non-empty string/);
    expect(make({ path: '/a b' })).toThrow(/option `healthCheck.path`/);
    expect(make({ intervalMs: 0 })).toThrow(/option `healthCheck.intervalMs` must be >= 10, got 0/);
    expect(make({ intervalMs: Infinity })).toThrow(/option `healthCheck.intervalMs` must be a finite number/);
    expect(make({ intervalMs: '1s' })).toThrow(/option `healthCheck.intervalMs` must be a number, got "1s"/);
    expect(make({ timeoutMs: 0 })).toThrow(/option `healthCheck.timeoutMs` must be > 0, got 0/);
    expect(make({ timeoutMs: -5 })).toThrow(/option `healthCheck.timeoutMs` must be >= 0, got -5/);
    expect(make({ interval: 500 })).toThrow(/unknown option `healthCheck.interval` \(did you mean `intervalMs`\?\)/);
    expect(() => new Discovery({ resolver, healtCheck: false } as never)).toThrow(/unknown option `healtCheck` \(did you mean `healthCheck`\?\)/);
  });
});
