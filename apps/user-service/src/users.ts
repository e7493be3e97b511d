import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { openDatabase } from '@lifeline/demo-kit';

export type Tier = 'standard' | 'gold';

export interface User {
  /** `u` and a number: `u42`. */
  id: string;
  name: string;
  email: string;
  tier: Tier;
  /** ISO 8601. */
  updatedAt: string;
}

interface UserRow {
  id: string;
  name: string;
  email: string;
  tier: Tier;
  updated_at: number;
}

/** How many users a new file is seeded with: `u1` … `u1000`. */
export const SEEDED_USERS = 1_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT NOT NULL,
  tier TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
`;

const FIRST = ['Ada', 'Grace', 'Alan', 'Barbara', 'Edsger', 'Frances', 'Donald', 'Radia', 'Ken', 'Margaret'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Liskov', 'Dijkstra', 'Allen', 'Knuth', 'Perlman', 'Thompson', 'Hamilton'];

/** The seeded user number `n` (1-based): the same on every machine and every run. */
export function seedUser(n: number): Omit<UserRow, 'updated_at'> {
  const first = FIRST[(n - 1) % FIRST.length]!;
  const last = LAST[Math.floor((n - 1) / FIRST.length) % LAST.length]!;
  return {
    id: `u${n}`,
    name: `${first} ${last}`,
    email: `${first.toLowerCase()}.${last.toLowerCase()}.${n}@example.com`,
    tier: n % 5 === 0 ? 'gold' : 'standard',
  };
}

function toUser(row: UserRow): User {
  return { id: row.id, name: row.name, email: row.email, tier: row.tier, updatedAt: new Date(row.updated_at).toISOString() };
}

/**
 * The users, in a SQLite file. A new (empty) file is seeded with {@link SEEDED_USERS} users in
 * one transaction; a file that already has users is left as it is.
 *
 * @example
 * const users = new UserStore('data/user.db');
 * users.get('u1'); // { id: 'u1', name: 'Ada Lovelace', … }
 */
export class UserStore {
  readonly #db: DatabaseSync;
  readonly #get: StatementSync;
  readonly #insert: StatementSync;
  readonly #count: StatementSync;
  readonly #lastNumber: StatementSync;
  #closed = false;

  constructor(path: string) {
    this.#db = openDatabase(path);
    try {
      this.#db.exec(SCHEMA);
      this.#get = this.#db.prepare('SELECT id, name, email, tier, updated_at FROM users WHERE id = ?');
      this.#insert = this.#db.prepare('INSERT INTO users (id, name, email, tier, updated_at) VALUES (?, ?, ?, ?, ?)');
      this.#count = this.#db.prepare('SELECT COUNT(*) AS n FROM users');
      this.#lastNumber = this.#db.prepare('SELECT COALESCE(MAX(CAST(SUBSTR(id, 2) AS INTEGER)), 0) AS n FROM users');
      this.#seed();
    } catch (error) {
      this.#db.close();
      throw error;
    }
  }

  get(id: string): User | undefined {
    const row = this.#get.get(id) as UserRow | undefined;
    return row === undefined ? undefined : toUser(row);
  }

  /** Adds a user under the next free number (`u1001` after the seed), tier `standard`. */
  create(user: { name: string; email: string }): User {
    return this.#transaction(() => {
      const n = (this.#lastNumber.get() as { n: number }).n + 1;
      const row: UserRow = { id: `u${n}`, name: user.name, email: user.email, tier: 'standard', updated_at: Date.now() };
      this.#insert.run(row.id, row.name, row.email, row.tier, row.updated_at);
      return toUser(row);
    });
  }

  count(): number {
    return (this.#count.get() as { n: number }).n;
  }

  /** Closes the file handle. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  #seed(): void {
    // Counted inside the write transaction: two processes starting on one new file seed it once.
    this.#transaction(() => {
      if (this.count() > 0) return;
      const now = Date.now();
      for (let n = 1; n <= SEEDED_USERS; n++) {
        const user = seedUser(n);
        this.#insert.run(user.id, user.name, user.email, user.tier, now);
      }
    });
  }

  /** Runs `fn` in a `BEGIN IMMEDIATE` transaction: other processes' writers wait (busy timeout). */
  #transaction<T>(fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.#db.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw error;
    }
  }
}
