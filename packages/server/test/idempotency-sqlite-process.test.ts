import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteIdempotencyStore } from '../src/index.ts';

const child = fileURLToPath(new URL('./sqlite-child.ts', import.meta.url));
let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lifeline-idem-proc-'));
  file = join(dir, 'idempotency.db');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function run(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--no-warnings', '--conditions=@lifeline/source', child, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    proc.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    proc.once('error', reject);
    proc.once('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`sqlite-child exited ${code}: ${err}`))));
  });
}

describe('SqliteIdempotencyStore across processes', () => {
  it('replays a response completed by another process that has since exited', async () => {
    expect(await run('complete', file, 'k1')).toBe('completed');
    const store = new SqliteIdempotencyStore({ path: file });
    try {
      const replay = await store.begin('child', 'k1', 'fp', { lockMs: 1_000, ttlMs: 60_000 });
      expect(replay.state).toBe('completed');
      if (replay.state !== 'completed') return;
      expect(replay.response.status).toBe(201);
      expect(replay.response.headers).toEqual({ 'x-from': 'child' });
      expect(Array.from(replay.response.body)).toEqual([0, 1, 2, 254, 255]);
      expect((await store.begin('child', 'k1', 'other', { lockMs: 1_000, ttlMs: 60_000 })).state).toBe('mismatch');
    } finally {
      await store.close();
    }
  });

  it('replays after the store is closed and reopened in this process', async () => {
    const first = new SqliteIdempotencyStore({ path: file });
    const begun = await first.begin('s', 'k', 'fp', { lockMs: 1_000, ttlMs: 60_000 });
    if (begun.state !== 'started') throw new Error(begun.state);
    await first.complete('s', 'k', begun.token, { status: 200, headers: {}, body: new Uint8Array([42]) }, 60_000);
    await first.close();
    await expect(first.begin('s', 'k', 'fp', { lockMs: 1_000, ttlMs: 60_000 })).rejects.toThrow('the idempotency store is closed');
    const second = new SqliteIdempotencyStore({ path: file });
    try {
      expect(await second.begin('s', 'k', 'fp', { lockMs: 1_000, ttlMs: 60_000 })).toEqual({
        state: 'completed',
        response: { status: 200, headers: {}, body: new Uint8Array([42]) },
      });
    } finally {
      await second.close();
    }
  });

  it('lets only one of several racing processes claim a key', async () => {
    await new SqliteIdempotencyStore({ path: file }).close();
    const counts = await Promise.all([run('race', file, 'k', '25'), run('race', file, 'k', '25'), run('race', file, 'k', '25')]);
    expect(counts.map(Number).reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('rejects bad configuration', () => {
    expect(() => new SqliteIdempotencyStore({ path: '' })).toThrow('lifeline: option `idempotency.path` must be a non-empty string, got ""');
    expect(() => new SqliteIdempotencyStore({ path: file, busyTimeoutMs: -1 })).toThrow('lifeline: option `idempotency.busyTimeoutMs` must be >= 0');
    expect(() => new SqliteIdempotencyStore(undefined as never)).toThrow('lifeline: option `idempotency.path` must be a non-empty string');
  });
});
