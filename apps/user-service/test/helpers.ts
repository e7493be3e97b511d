import { call, tempDir as kitTempDir, type Answer } from '@lifeline/demo-kit/testing';
import { pino } from 'pino';
import { createUserService, type UserService, type UserServiceOptions } from '../src/service.ts';

export { call, type Answer };

/** A temporary directory for SQLite files, and its removal. */
export const tempDir = (): { path: string; remove(): void } => kitTempDir('user');

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
