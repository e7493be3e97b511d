import { problemReply } from '@lifeline/demo-kit';
import type { FastifyInstance } from 'fastify';
import type { UserStore } from './users.ts';

/** The problem code of a user id that is well formed but unknown. */
export const USER_NOT_FOUND = 'USER_NOT_FOUND';

const userParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^u[0-9]{1,9}$' } },
} as const;

const newUserBody = {
  type: 'object',
  required: ['name', 'email'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 100 },
    email: { type: 'string', minLength: 3, maxLength: 254, pattern: '^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$' },
  },
} as const;

/**
 * `GET /users/:id` and `POST /users`.
 *
 * @internal
 */
export function userRoutes(app: FastifyInstance, users: UserStore): void {
  app.get<{ Params: { id: string } }>('/users/:id', { schema: { params: userParams } }, (request, reply) => {
    const user = users.get(request.params.id);
    if (user === undefined) {
      return problemReply(request, reply, 404, USER_NOT_FOUND, 'User not found', `no user ${request.params.id}`);
    }
    return user;
  });

  app.post<{ Body: { name: string; email: string } }>('/users', { schema: { body: newUserBody } }, (request, reply) =>
    reply.code(201).send(users.create(request.body)),
  );
}
