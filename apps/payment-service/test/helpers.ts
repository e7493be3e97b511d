import { call, tempDir as kitTempDir, type Answer } from '@lifeline/demo-kit/testing';
import { pino } from 'pino';
import { createPaymentService, type PaymentService, type PaymentServiceOptions } from '../src/service.ts';

export { call, type Answer };

/** A temporary directory for SQLite files, and its removal. */
export const tempDir = (): { path: string; remove(): void } => kitTempDir('payment');

export interface RunningPayment {
  service: PaymentService;
  url: string;
}

/** A payment instance listening on 127.0.0.1, port 0, logging nothing. */
export async function startPayment(options: Omit<PaymentServiceOptions, 'logger'>): Promise<RunningPayment> {
  const service = await createPaymentService({ ...options, logger: pino({ level: 'silent' }) });
  const url = await service.app.listen({ host: '127.0.0.1', port: 0 });
  return { service, url };
}

/** `POST /charges` with an Idempotency-Key. */
export function charge(url: string, key: string | undefined, json: unknown): Promise<Answer> {
  return call(url, 'POST', '/charges', { json, headers: key === undefined ? {} : { 'idempotency-key': key } });
}
