import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createServiceApp, openDatabase, parseServiceArgs, UsageError } from '../src/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'lifeline-kit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseServiceArgs', () => {
  it('reads the common options and the service’s own', () => {
    const { config, values } = parseServiceArgs('order', ['--port', '4201', '--chaos', '--client', 'naive'], { client: { type: 'string' } }, { port: 1, data: 'd.db' });
    expect(config).toMatchObject({ port: 4201, chaos: true, instance: 'order-1', data: 'd.db', host: '127.0.0.1' });
    expect(values.client).toBe('naive');
  });

  it('names the bad value', () => {
    expect(() => parseServiceArgs('x', ['--port', '70000'], {}, { port: 1, data: 'd' })).toThrow(new UsageError('--port must be an integer from 0 to 65535, got "70000"'));
    expect(() => parseServiceArgs('x', ['--registry', 'redis://a'], {}, { port: 1, data: 'd' })).toThrow(/--registry must look like etcd:\/\/host:port/);
    expect(() => parseServiceArgs('x', ['--prot', '1'], {}, { port: 1, data: 'd' })).toThrow(/--prot/);
  });
});

describe('openDatabase', () => {
  it('lets two handles open one new file at once (WAL, busy timeout)', () => {
    const path = join(dir, 'shared.db');
    const a = openDatabase(path);
    const b = openDatabase(path);
    a.exec('CREATE TABLE IF NOT EXISTS t (x INTEGER)');
    b.exec('CREATE TABLE IF NOT EXISTS t (x INTEGER)');
    a.prepare('INSERT INTO t VALUES (1)').run();
    expect(b.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: 1 });
    expect(a.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
    a.close();
    b.close();
  });
});

describe('createServiceApp', () => {
  it('answers bad input, unknown routes and errors with problem responses, and reports its state', async () => {
    const { app } = await createServiceApp({ service: 'demo', instance: 'demo-1', logger: pino({ level: 'silent' }), snapshot: () => ({ extra: 1 }) });
    app.post('/things', { schema: { body: { type: 'object', additionalProperties: false, required: ['n'], properties: { n: { type: 'integer', minimum: 1 } } } } }, () => ({ ok: true }));
    app.get('/boom', () => {
      throw new Error('secret detail');
    });
    const invalid = await app.inject({ method: 'POST', url: '/things', payload: { n: 0 } });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.headers['content-type']).toContain('application/problem+json');
    expect(invalid.json()).toMatchObject({ code: 'INVALID_REQUEST', detail: 'body/n must be >= 1' });
    const extra = await app.inject({ method: 'POST', url: '/things', payload: { n: 1, m: 2 } });
    expect(extra.json()).toMatchObject({ status: 400, detail: 'body must NOT have additional properties' });
    const malformed = await app.inject({ method: 'POST', url: '/things', headers: { 'content-type': 'application/json' }, payload: '{' });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.headers['content-type']).toContain('application/problem+json');
    const missing = await app.inject({ url: '/nope' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'NOT_FOUND' });
    const boom = await app.inject({ url: '/boom' });
    expect(boom.statusCode).toBe(500);
    expect(boom.body).not.toContain('secret detail');
    await app.inject({ method: 'POST', url: '/things', payload: { n: 1 } });
    const state = (await app.inject({ url: '/admin/resilience' })).json();
    expect(state).toMatchObject({ service: 'demo', instance: 'demo-1', extra: 1, chaos: { enabled: false } });
    expect(state.received['POST /things']).toBe(4);
    // Fault injection is off: its admin endpoint does not exist.
    expect((await app.inject({ url: '/admin/chaos' })).statusCode).toBe(404);
    await app.close();
  });
});
