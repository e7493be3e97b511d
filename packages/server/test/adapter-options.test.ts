import express from 'express';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { idempotent, lifelineErrorHandler, lifelineMiddleware } from '../src/express.ts';
import { lifelinePlugin } from '../src/fastify.ts';
import { createLifeline, type Lifeline } from '../src/index.ts';

describe('Express adapter options are checked when the app is set up, not per request', () => {
  it('refuses a missing or wrong Lifeline at once', () => {
    expect(() => lifelineMiddleware(undefined as never)).toThrow(
      'lifeline: lifelineMiddleware() needs the Lifeline made by createLifeline(), got undefined',
    );
    expect(() => lifelineMiddleware({ timeout: 5 } as never)).toThrow('lifelineMiddleware() needs the Lifeline made by createLifeline(), got another object');
    expect(() => lifelineErrorHandler(undefined as never)).toThrow('lifeline: lifelineErrorHandler() needs the Lifeline made by createLifeline(), got undefined');
    expect(() => idempotent(undefined as never)).toThrow('lifeline: idempotent() needs the Lifeline made by createLifeline(), got undefined');
  });

  it('refuses unknown idempotent() options, naming the closest one', () => {
    const lifeline = createLifeline();
    expect(() => idempotent(lifeline, { requierd: true } as never)).toThrow(
      'lifeline: unknown option `idempotency.requierd` (did you mean `required`?); allowed: store, required, scope, ttlMs, lockMs',
    );
    // maxBodyBytes belongs to the node:http route only: Express reads bodies with its parsers.
    expect(() => idempotent(lifeline, { maxBodyBytes: 10 } as never)).toThrow('unknown option `idempotency.maxBodyBytes`');
    expect(() => express().post('/charges', express.json(), idempotent(lifeline, { required: true }))).not.toThrow();
  });
});

describe('Fastify plugin options', () => {
  async function register(options: Record<string, unknown>): Promise<void> {
    const app = Fastify();
    try {
      await app.register(lifelinePlugin, options as never);
      await app.ready();
    } finally {
      await app.close();
    }
  }

  it('refuses unknown plugin options and non-boolean switches', async () => {
    const lifeline: Lifeline = createLifeline();
    await expect(register({ lifeline, errorHandlr: false })).rejects.toThrow(
      'lifeline: unknown option `errorHandlr` (did you mean `errorHandler`?); allowed: lifeline, errorHandler, attach, prefix, logLevel, logSerializers',
    );
    await expect(register({ lifeline, attach: 'no' })).rejects.toThrow('lifeline: option `attach` of the Fastify plugin must be a boolean, got string');
    await expect(register({ lifeline, errorHandler: false, attach: false, logLevel: 'warn' })).resolves.toBeUndefined();
  });

  it('refuses an unknown route idempotency option when the route is declared', async () => {
    const lifeline = createLifeline();
    const app = Fastify();
    await app.register(lifelinePlugin, { lifeline, attach: false });
    expect(() => app.post('/charges', { config: { idempotency: { requierd: true } as never } }, () => 'ok')).toThrow(
      'lifeline: unknown option `idempotency.requierd` (did you mean `required`?)',
    );
    await app.close();
  });
});
