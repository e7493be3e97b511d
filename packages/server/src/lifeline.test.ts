import { describe, expect, it } from 'vitest';
import { createLifeline } from './lifeline.ts';

describe('createLifeline options', () => {
  it('has documented defaults', () => {
    const lifeline = createLifeline();
    expect(lifeline.timeout).toBe(30_000);
    expect(lifeline.trustInbound).toBe(true);
    expect(lifeline.state).toBe('serving');
    expect(lifeline.snapshot()).toEqual({
      state: 'serving',
      requests: { total: 0, inFlight: 0 },
      shedding: {
        maxConcurrent: 100,
        maxQueue: 64,
        adaptive: { minLimit: 20, maxLimit: 256, rttMs: 0, longRttMs: 0 },
        active: 0,
        queued: 0,
        shed: { queueFull: 0, queueTimeout: 0, deadline: 0 },
        abandoned: 0,
      },
      refused: { shuttingDown: 0, deadlineSpent: 0 },
      ignoredHeaders: {
        'x-request-id': 0,
        'x-request-timeout-ms': 0,
        'grpc-timeout': 0,
        'x-envoy-expected-rq-timeout-ms': 0,
        'x-request-attempt': 0,
        'x-request-priority': 0,
        traceparent: 0,
      },
      idempotency: { executed: 0, replayed: 0, inFlight: 0, mismatched: 0, missingKey: 0, invalidKey: 0, released: 0, storeErrors: 0 },
    });
    expect(createLifeline({ shedding: false, health: false }).snapshot().shedding).toBeNull();
  });

  it.each([
    [{ timeout: -1 }, 'lifeline: option `timeout` must be >= 0, got -1'],
    [{ timeout: 0 }, 'lifeline: option `timeout` must be > 0 ms (or Infinity), got 0'],
    [{ timeout: '5s' }, 'lifeline: option `timeout` must be a number, got "5s"'],
    [{ trustInbound: 'no' }, 'lifeline: option `trustInbound` must be a boolean, got string'],
    [{ shedding: { maxConcurrent: 0 } }, 'lifeline: option `shedding.maxConcurrent` must be >= 1, got 0'],
    [{ shedding: { maxQueue: 1.5 } }, 'lifeline: option `shedding.maxQueue` must be an integer, got 1.5'],
    [{ shedding: { queueTimeout: Infinity } }, 'lifeline: option `shedding.queueTimeout` must be a finite number of milliseconds, got Infinity'],
    [{ shedding: 3 }, 'lifeline: option `shedding` must be an object, got 3'],
    [{ health: { livePath: 'health' } }, 'lifeline: option `health.livePath` must be a path starting with "/" and without a query, got "health"'],
    [{ health: { checks: { db: true } } }, 'lifeline: option `health.checks.db` must be a function, got true'],
    [{ shutdown: { drainMs: -5 } }, 'lifeline: option `shutdown.drainMs` must be >= 0, got -5'],
    [{ shutdown: { deregister: [{}] } }, 'lifeline: option `shutdown.deregister[0]` must be a function or an object with a deregister() method, got object'],
    [{ shutdown: { close: 'pool' } }, 'lifeline: option `shutdown.close` must be an array, got string'],
    [{ idempotency: { ttlMs: 0 } }, 'lifeline: option `idempotency.ttlMs` must be >= 1, got 0'],
  ])('rejects %j', (options, message) => {
    expect(() => createLifeline(options as never)).toThrow(message);
  });

  it.each([
    [{ timout: 5_000 }, 'lifeline: unknown option `timout` (did you mean `timeout`?); allowed: timeout, trustInbound, shedding, health, shutdown, idempotency, logger'],
    [{ shedding: { maxConcurent: 10 } }, 'lifeline: unknown option `shedding.maxConcurent` (did you mean `maxConcurrent`?)'],
    [{ shutdown: { drianMs: 10 } }, 'lifeline: unknown option `shutdown.drianMs` (did you mean `drainMs`?)'],
    [{ health: { livepath: '/live' } }, 'lifeline: unknown option `health.livepath` (did you mean `livePath`?)'],
    [{ health: { readiness: {} } }, 'lifeline: unknown option `health.readiness`; allowed: livePath, readyPath, checks, checkTimeoutMs'],
    [{ idempotency: { ttl: 5 } }, 'lifeline: unknown option `idempotency.ttl` (did you mean `ttlMs`?)'],
    [{ idempotency: { required: true } }, 'lifeline: unknown option `idempotency.required`; allowed: store, ttlMs, lockMs'],
  ])('refuses the unknown option in %j, naming the closest one', (options, message) => {
    expect(() => createLifeline(options as never)).toThrow(message);
  });

  it('checks the logger and the default idempotency store', () => {
    expect(() => createLifeline({ logger: console.log as never })).toThrow(
      'lifeline: option `logger` must be a logger with info() and warn() methods (pino, for one), got function',
    );
    expect(() => createLifeline({ logger: { info: () => undefined } as never })).toThrow('got an object without them');
    expect(() => createLifeline({ idempotency: { store: {} as never } })).toThrow('lifeline: option `idempotency.store.begin` must be a function, got undefined');
    expect(() => createLifeline({ idempotency: { store: { begin: () => undefined } as never } })).toThrow(
      'lifeline: option `idempotency.store.complete` must be a function, got undefined',
    );
    expect(() => createLifeline().idempotent({ store: 'redis' as never }, () => undefined)).toThrow(
      'lifeline: option `idempotency.store` must be an object, got "redis"',
    );
    expect(createLifeline({ logger: { info: () => undefined, warn: () => undefined } }).logger).toBeDefined();
  });

  it('refuses an unknown route idempotency option instead of ignoring it', () => {
    const lifeline = createLifeline();
    // A misspelt `required` used to make a required-key route optional.
    expect(() => lifeline.idempotent({ requierd: true } as never, () => undefined)).toThrow(
      'lifeline: unknown option `idempotency.requierd` (did you mean `required`?); allowed: store, required, scope, ttlMs, lockMs, maxBodyBytes',
    );
    expect(() => lifeline.idempotent({ maxBody: 10 } as never, () => undefined)).toThrow('(did you mean `maxBodyBytes`?)');
  });

  it('rejects bad route idempotency options when the route is declared', () => {
    const lifeline = createLifeline();
    expect(() => lifeline.idempotent({ lockMs: 0 }, () => undefined)).toThrow('lifeline: option `idempotency.lockMs` must be >= 1, got 0');
    expect(() => lifeline.idempotent({ scope: 'tenant' as never }, () => undefined)).toThrow(
      'lifeline: option `idempotency.scope` must be a function, got "tenant"',
    );
    expect(() => lifeline.idempotent({ required: 'yes' as never }, () => undefined)).toThrow(
      'lifeline: option `idempotency.required` must be a boolean, got yes',
    );
    expect(() => lifeline.idempotent({ maxBodyBytes: -1 }, () => undefined)).toThrow('lifeline: option `idempotency.maxBodyBytes` must be >= 0, got -1');
    expect(() => lifeline.handler('listener' as never)).toThrow('lifeline: handler() needs a request listener function, got string');
  });
});
