import { createServiceApp, type ServiceApp } from '@lifeline/demo-kit';
import type { Logger } from 'pino';
import { userRoutes } from './routes.ts';
import { type User, UserStore } from './users.ts';

export interface UserServiceOptions {
  /** The users' SQLite file, seeded with u1…u1000 when new. */
  dataPath: string;
  /** This instance's id (`user-1`). */
  instance: string;
  /** Fault injection, off unless `enabled` (`/admin/chaos`). */
  chaos?: { enabled: boolean; seed?: number };
  logger?: Logger;
}

export interface UserService extends ServiceApp {
  users: {
    /** Users in the file. */
    count(): number;
    get(id: string): User | undefined;
  };
  /** Closes the application, then the database. Idempotent. */
  close(): Promise<void>;
}

/**
 * The user service: `GET /users/:id`, `POST /users`, plus the kit's health,
 * `/admin/resilience` and `/admin/chaos`.
 *
 * @example
 * const user = await createUserService({ dataPath: 'data/user.db', instance: 'user-1' });
 * await user.app.listen({ port: 4001 });
 * user.users.get('u1')?.name; // 'Ada Lovelace'
 * await user.close();
 */
export async function createUserService(options: UserServiceOptions): Promise<UserService> {
  const users = new UserStore(options.dataPath);
  let service: ServiceApp;
  try {
    service = await createServiceApp({
      service: 'user',
      instance: options.instance,
      logger: options.logger,
      chaos: options.chaos,
      snapshot: () => ({ users: users.count() }),
    });
    userRoutes(service.app, users);
  } catch (error) {
    users.close();
    throw error;
  }
  const { app } = service;
  app.addHook('onClose', (_instance, done) => {
    users.close();
    done();
  });
  return {
    ...service,
    users: { count: () => users.count(), get: (id) => users.get(id) },
    close: () => app.close(),
  };
}
