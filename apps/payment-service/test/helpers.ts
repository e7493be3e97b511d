import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { request } from 'undici';
import { createPaymentService, type PaymentService, type PaymentServiceOptions } from '../src/service.ts';

/** A temporary directory for SQLite files, and its removal. */
export function tempDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'lifeline-payment-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

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

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** A JSON request; the body is parsed whatever the content type. */
export async function call(
  url: string,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  options: { json?: unknown; body?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  const response = await request(`${url}${path}`, {
    method,
    headers,
    body: options.json === undefined ? options.body : JSON.stringify(options.json),
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) };
}

/** `POST /charges` with an Idempotency-Key. */
export function charge(url: string, key: string | undefined, json: unknown): Promise<Answer> {
  return call(url, 'POST', '/charges', { json, headers: key === undefined ? {} : { 'idempotency-key': key } });
}
