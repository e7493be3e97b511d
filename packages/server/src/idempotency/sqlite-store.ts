import { randomUUID } from 'node:crypto';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type * as Sqlite from 'node:sqlite';
import { checkDuration, checkInteger, checkObject, checkString, type Clock } from '@lifeline/core';
import {
  checkBeginOptions,
  checkResponse,
  settle,
  type BeginOptions,
  type BeginResult,
  type IdempotencyStore,
  type StoredResponse,
} from './store.ts';

/** Options of {@link SqliteIdempotencyStore}. */
export interface SqliteIdempotencyStoreOptions {
  /** The database file (created if missing), shared by every process using the store. `:memory:` works for one handle. */
  path: string;
  /**
   * Time source, epoch milliseconds. Default `Date.now`. The times are written to the file
   * and read by other processes, so it must be a wall clock shared by all of them (not the
   * process-relative `systemClock`).
   */
  clock?: Clock;
  /** How long a write waits for another process's transaction, ms. Default 5 000. */
  busyTimeoutMs?: number;
  /** Expired rows are deleted by `begin` at most this often, ms. Default 60 000. */
  cleanupIntervalMs?: number;
}

interface Row {
  fingerprint: string;
  state: string;
  expires_at: number;
  status: number | null;
  headers: string | null;
  body: Uint8Array | null;
}

const wallClock: Clock = { now: () => Date.now() };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS lifeline_idempotency (
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  state TEXT NOT NULL,
  token TEXT NOT NULL,
  locked_until INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  status INTEGER,
  headers TEXT,
  body BLOB,
  PRIMARY KEY (scope, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS lifeline_idempotency_expires ON lifeline_idempotency (expires_at);
`;

/**
 * An {@link IdempotencyStore} in a SQLite file (`node:sqlite`, WAL mode): survives restarts
 * and is shared by every process on the host that opens the same file. `node:sqlite` is
 * loaded by the constructor, so importing the package never needs it. `begin` runs in one
 * `BEGIN IMMEDIATE` transaction, so two processes can never both claim a key. Expired rows
 * are deleted lazily (by `begin`, every `cleanupIntervalMs`).
 *
 * @example
 * const store = new SqliteIdempotencyStore({ path: '/var/lib/orders/idempotency.db' });
 * process.once('SIGTERM', () => void store.close());
 */
export class SqliteIdempotencyStore implements IdempotencyStore {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #clock: Clock;
  readonly #cleanupIntervalMs: number;
  readonly #select: StatementSync;
  readonly #claim: StatementSync;
  readonly #complete: StatementSync;
  readonly #release: StatementSync;
  readonly #cleanup: StatementSync;
  #lastCleanup = -Infinity;
  #closed = false;

  constructor(options: SqliteIdempotencyStoreOptions) {
    checkObject('idempotency', options);
    if (options === undefined) throw new TypeError('lifeline: option `idempotency.path` must be a non-empty string, got undefined');
    this.path = checkString('idempotency.path', options.path);
    const busyTimeoutMs = checkInteger('idempotency.busyTimeoutMs', options.busyTimeoutMs ?? 5_000, 0);
    this.#cleanupIntervalMs = checkDuration('idempotency.cleanupIntervalMs', options.cleanupIntervalMs ?? 60_000);
    this.#clock = options.clock ?? wallClock;
    const sqlite = process.getBuiltinModule('node:sqlite') as typeof Sqlite | undefined;
    if (sqlite === undefined) throw new Error('lifeline: SqliteIdempotencyStore needs node:sqlite (Node >= 22.13)');
    this.#db = new sqlite.DatabaseSync(this.path, { timeout: busyTimeoutMs });
    try {
      this.#db.exec('PRAGMA journal_mode = WAL');
      this.#db.exec('PRAGMA synchronous = NORMAL');
      this.#db.exec(SCHEMA);
      this.#select = this.#db.prepare(
        'SELECT fingerprint, state, expires_at, status, headers, body FROM lifeline_idempotency WHERE scope = ? AND key = ?',
      );
      this.#claim = this.#db.prepare(
        `INSERT OR REPLACE INTO lifeline_idempotency (scope, key, fingerprint, state, token, locked_until, expires_at)
         VALUES (?, ?, ?, 'in-flight', ?, ?, ?)`,
      );
      this.#complete = this.#db.prepare(
        `UPDATE lifeline_idempotency SET state = 'completed', expires_at = ?, status = ?, headers = ?, body = ?
         WHERE scope = ? AND key = ? AND token = ? AND state = 'in-flight'`,
      );
      this.#release = this.#db.prepare(
        `DELETE FROM lifeline_idempotency WHERE scope = ? AND key = ? AND token = ? AND state = 'in-flight'`,
      );
      this.#cleanup = this.#db.prepare('DELETE FROM lifeline_idempotency WHERE expires_at <= ?');
    } catch (error) {
      this.#db.close();
      throw error;
    }
  }

  begin(scope: string, key: string, fingerprint: string, options: BeginOptions): Promise<BeginResult> {
    return settle(() => {
      const { lockMs } = checkBeginOptions(options);
      this.#open();
      const now = this.#clock.now();
      if (now - this.#lastCleanup >= this.#cleanupIntervalMs) {
        this.#lastCleanup = now;
        this.#cleanup.run(now);
      }
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        const result = this.#claimOrRead(scope, key, fingerprint, now, lockMs);
        this.#db.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
        throw error;
      }
    });
  }

  complete(scope: string, key: string, token: string, response: StoredResponse, ttlMs: number): Promise<void> {
    return settle(() => {
      checkInteger('idempotency.ttlMs', ttlMs, 1);
      checkResponse(response);
      this.#open();
      this.#complete.run(
        this.#clock.now() + ttlMs,
        response.status,
        JSON.stringify(response.headers),
        response.body,
        scope,
        key,
        token,
      );
    });
  }

  release(scope: string, key: string, token: string): Promise<void> {
    return settle(() => {
      this.#open();
      this.#release.run(scope, key, token);
    });
  }

  /** Closes the database handle; further calls reject. Idempotent. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#db.close();
    }
    return Promise.resolve();
  }

  #open(): void {
    if (this.#closed) throw new Error('lifeline: the idempotency store is closed');
  }

  #claimOrRead(scope: string, key: string, fingerprint: string, now: number, lockMs: number): BeginResult {
    const row = this.#select.get(scope, key) as Row | undefined;
    if (row !== undefined && row.expires_at > now) {
      if (row.fingerprint !== fingerprint) return { state: 'mismatch' };
      if (row.state !== 'completed') return { state: 'in-flight' };
      return {
        state: 'completed',
        response: {
          status: row.status ?? 500,
          headers: JSON.parse(row.headers ?? '{}') as Record<string, string | string[]>,
          body: row.body ?? new Uint8Array(0),
        },
      };
    }
    const token = randomUUID();
    this.#claim.run(scope, key, fingerprint, token, now + lockMs, now + lockMs);
    return { state: 'started', token };
  }
}
