import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { request } from 'undici';
import { createUserService, type UserService, type UserServiceOptions } from '../src/service.ts';

/** A temporary directory for SQLite files, and its removal. */
export function tempDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'lifeline-user-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface RunningUser {
  service: UserService;
  url: string;
}

/** A user instance listening on 127.0.0.1, port 0, logging nothing. */
export async function startUser(options: Omit<UserServiceOptions, 'logger'>): Promise<RunningUser> {
  const service = await createUserService({ ...options, logger: pino({ level: 'silent' }) });
  const url = await service.app.listen({ host: '127.0.0.1', port: 0 });
  return { service, url };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** A JSON request; the body is parsed whatever the content type. */
export async function call(url: string, method: 'GET' | 'POST', path: string, json?: unknown): Promise<Answer> {
  const response = await request(`${url}${path}`, {
    method,
    headers: json === undefined ? {} : { 'content-type': 'application/json' },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) };
}
