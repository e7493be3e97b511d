export * from './idempotency/index.ts';
