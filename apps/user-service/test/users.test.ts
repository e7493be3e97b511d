import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEEDED_USERS, seedUser } from '../src/users.ts';
import { call, type RunningUser, startUser, tempDir } from './helpers.ts';

const dir = tempDir();
const dataPath = join(dir.path, 'user.db');
let user: RunningUser;
let url: string;

beforeAll(async () => {
  user = await startUser({ dataPath, instance: 'user-1' });
  url = user.url;
});

afterAll(async () => {
  await user?.service.close();
  dir.remove();
});

describe('GET /users/:id', () => {
  it('answers a seeded user', async () => {
    const answer = await call(url, 'GET', '/users/u1');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      id: 'u1',
      name: 'Ada Lovelace',
      email: 'ada.lovelace.1@example.com',
      tier: 'standard',
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
    });
    expect((await call(url, 'GET', '/users/u1000')).body).toMatchObject({ id: 'u1000', tier: 'gold' });
  });

  it('answers 404 USER_NOT_FOUND for an unknown id', async () => {
    const answer = await call(url, 'GET', '/users/u99999');
    expect(answer.status).toBe(404);
    expect(answer.headers['content-type']).toBe('application/problem+json');
    expect(answer.body).toMatchObject({ status: 404, code: 'USER_NOT_FOUND', detail: 'no user u99999' });
  });

  it.each(['x1', 'u', 'u1a', 'U1', 'u1234567890'])('answers 400 INVALID_REQUEST for the id %s', async (id) => {
    const answer = await call(url, 'GET', `/users/${id}`);
    expect(answer.status).toBe(400);
    expect(answer.headers['content-type']).toBe('application/problem+json');
    expect(answer.body).toMatchObject({ code: 'INVALID_REQUEST', detail: expect.stringContaining('params/id') });
  });
});

describe('POST /users', () => {
  it('adds a user under the next number', async () => {
    const answer = await call(url, 'POST', '/users', { json: { name: 'Katherine Johnson', email: 'kj@example.com' } });
    expect(answer.status).toBe(201);
    expect(answer.body).toEqual({
      id: `u${SEEDED_USERS + 1}`,
      name: 'Katherine Johnson',
      email: 'kj@example.com',
      tier: 'standard',
      updatedAt: expect.any(String),
    });
    expect((await call(url, 'GET', `/users/u${SEEDED_USERS + 1}`)).body).toEqual(answer.body);
    const next = await call(url, 'POST', '/users', { json: { name: 'Dorothy Vaughan', email: 'dv@example.com' } });
    expect(next.body).toMatchObject({ id: `u${SEEDED_USERS + 2}` });
  });

  it.each([
    [{ email: 'a@b.co' }, 'name'],
    [{ name: '', email: 'a@b.co' }, '/name'],
    [{ name: 'n'.repeat(101), email: 'a@b.co' }, '/name'],
    [{ name: 'Ann' }, 'email'],
    [{ name: 'Ann', email: 'not-an-email' }, '/email'],
    [{ name: 'Ann', email: 'a @b.co' }, '/email'],
    [{ name: 'Ann', email: 'a@b.co', tier: 'gold' }, 'additional properties'],
  ])('refuses %j with a 400 problem naming %s', async (json, field) => {
    const before = user.service.users.count();
    const answer = await call(url, 'POST', '/users', { json });
    expect(answer.status).toBe(400);
    expect(answer.headers['content-type']).toBe('application/problem+json');
    expect(answer.body).toMatchObject({ code: 'INVALID_REQUEST', detail: expect.stringContaining(field) });
    expect(user.service.users.count()).toBe(before);
  });
});

describe('seeding', () => {
  it('seeds 1000 deterministic users once, and not again on a restart on the same file', async () => {
    const seeded = join(dir.path, 'seeded.db');
    const first = await startUser({ dataPath: seeded, instance: 'user-1' });
    try {
      expect(first.service.users.count()).toBe(SEEDED_USERS);
      expect(first.service.users.get('u1000')).toMatchObject(seedUser(1000));
      expect(first.service.users.get('u1001')).toBeUndefined();
      expect((await call(first.url, 'POST', '/users', { json: { name: 'Mary Jackson', email: 'mj@example.com' } })).status).toBe(201);
    } finally {
      await first.service.close();
    }
    const second = await startUser({ dataPath: seeded, instance: 'user-1' });
    try {
      expect(second.service.users.count()).toBe(SEEDED_USERS + 1);
      expect((await call(second.url, 'GET', '/users/u1001')).body).toMatchObject({ name: 'Mary Jackson' });
    } finally {
      await second.service.close();
    }
  });

  it('gives gold to every fifth user and distinct emails to all', () => {
    const users = Array.from({ length: SEEDED_USERS }, (_, i) => seedUser(i + 1));
    expect(users.filter((u) => u.tier === 'gold')).toHaveLength(SEEDED_USERS / 5);
    expect(new Set(users.map((u) => u.email)).size).toBe(SEEDED_USERS);
  });
});
