import { RetryPolicy } from '@lifeline/retry';
import { describe, expect, it } from 'vitest';
import { createClient, createInterceptor, type ClientOptions } from '../src/index.ts';

const base: ClientOptions = { name: 'dep', baseUrl: 'http://127.0.0.1:1' };

describe('bad configuration throws at construction, naming the option', () => {
  it.each<[Partial<ClientOptions> | Record<string, unknown>, RegExp]>([
    [{ name: '' }, /option `name` must be a non-empty string, got ""/],
    [{ name: 42 }, /option `name` must be a non-empty string, got 42/],
    [{ baseUrl: 'not a url' }, /option `baseUrl` must be an absolute http\(s\) URL, got "not a url"/],
    [{ baseUrl: 'ftp://host' }, /`baseUrl` must use http: or https:, got "ftp:"/],
    [{ baseUrl: 'http://host/?q=1' }, /`baseUrl` must not have a query/],
    [{ timeout: -1 }, /option `timeout` must be >= 0, got -1/],
    [{ timeout: Number.NaN }, /option `timeout` must be a number, got NaN/],
    [{ timeout: '5s' }, /option `timeout` must be a number, got "5s"/],
    [{ attemptTimeout: 0 }, /option `attemptTimeout` must be > 0, got 0/],
    [{ retry: 3 }, /option `retry` must be an object, got 3/],
    [{ retry: { maxAttempts: 0 } }, /option `retry.maxAttempts` must be between 1 and 100, got 0/],
    [{ retry: { budget: { ratio: 2 } } }, /option `retry.budget.ratio` must be between 0 and 1, got 2/],
    [{ headers: { 'x-a': 1 } }, /option `headers.x-a` must be a string/],
    [{ connections: 0 }, /option `connections` must be >= 1, got 0/],
  ])('%j', (override, message) => {
    expect(() => createClient({ ...base, ...override })).toThrow(message);
  });

  it('throws TypeError for wrong types and RangeError for values out of range', () => {
    expect(() => createClient({ ...base, timeout: '1' as unknown as number })).toThrow(TypeError);
    expect(() => createClient({ ...base, timeout: -1 })).toThrow(RangeError);
  });

  it('accepts a shared RetryPolicy and retry: false', async () => {
    const retry = new RetryPolicy({ maxAttempts: 2 });
    const a = createClient({ ...base, retry });
    const b = createClient({ ...base, retry: false });
    expect(a.retry).toBe(retry);
    expect(b.retry.maxAttempts).toBe(1);
    await Promise.all([a.close(), b.close()]);
  });

  it('the interceptor validates too', () => {
    expect(() => createInterceptor({ timeout: -5 })).toThrow(/option `timeout` must be >= 0/);
    expect(() => createInterceptor({ retry: 3 as never })).toThrow(/option `retry` must be an object, got 3/);
  });

  it('bad request options fail that call clearly', async () => {
    const client = createClient(base);
    await expect(client.request({ path: 'users' })).rejects.toThrow(/option `path` must be a string starting with "\/", got "users"/);
    await expect(client.post('/x', { idempotencyKey: 'clé' })).rejects.toThrow(/option `idempotencyKey` must be printable ASCII/);
    await client.close();
  });
});

describe('unknown options are refused, not ignored', () => {
  it('names the option and the closest one, at every level', () => {
    expect(() => createClient({ name: 'dep', baseUrl: 'http://127.0.0.1:1', timout: 5 } as ClientOptions)).toThrow(
      'unknown option `timout` (did you mean `timeout`?)',
    );
    expect(() => createClient({ name: 'dep', baseUrl: 'http://127.0.0.1:1', breaker: { breakDurationMs: 5 } } as ClientOptions)).toThrow(
      'unknown option `breaker.breakDurationMs` (did you mean `breakDuration`?)',
    );
    expect(() => createClient({ name: 'dep', baseUrl: 'http://127.0.0.1:1', retry: { attempts: 2 } } as ClientOptions)).toThrow('unknown option `retry.attempts`');
    expect(() => createClient({ name: 'dep', baseUrl: 'http://127.0.0.1:1', bulkhead: { maxQueued: 2 } } as ClientOptions)).toThrow(
      'unknown option `bulkhead.maxQueued` (did you mean `maxQueue`?)',
    );
    expect(() => createInterceptor({ retries: 2 } as never)).toThrow('unknown option `retries`');
  });
});
