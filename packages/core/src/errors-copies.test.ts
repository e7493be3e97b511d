import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LifelineError } from './errors.ts';
import { HttpStatusError } from './http-status-error.ts';
import type * as here from './index.ts';

type Core = typeof here;

/**
 * A second, independent copy of this package, as a dependency tree with two versions of
 * @lifeline/core has: the sources copied to a temporary directory and imported from there,
 * so every module (and so every class) is a different object from this copy's. (A query
 * string on one entry file would not do: its relative imports resolve to the same modules.)
 */
let copyDir: string;
let other: Core;

beforeAll(async () => {
  const src = dirname(fileURLToPath(import.meta.url));
  copyDir = await mkdtemp(join(tmpdir(), 'lifeline-core-copy-'));
  await cp(src, copyDir, { recursive: true, filter: (path) => !path.endsWith('.test.ts') });
  other = (await import(pathToFileURL(join(copyDir, 'index.ts')).href)) as Core;
});

afterAll(async () => {
  await rm(copyDir, { recursive: true, force: true });
});

describe('instanceof across two copies of @lifeline/core', () => {
  it('loads a genuinely separate copy', () => {
    expect(other.LifelineError).not.toBe(LifelineError);
    expect(other.HttpStatusError).not.toBe(HttpStatusError);
  });

  it('LifelineError matches a Lifeline error of any code from either copy', () => {
    const foreign = new other.LifelineError('CONNECT', 'refused');
    const local = new LifelineError('CONNECT', 'refused');
    expect(foreign instanceof LifelineError).toBe(true);
    expect(local instanceof other.LifelineError).toBe(true);
    expect(new other.HttpStatusError(503, {}, '') instanceof LifelineError).toBe(true);
    expect(foreign instanceof Error).toBe(true);
  });

  it('HttpStatusError matches HTTP_STATUS errors from either copy, and nothing else', () => {
    expect(new other.HttpStatusError(503, {}, 'busy') instanceof HttpStatusError).toBe(true);
    expect(new HttpStatusError(503, {}, 'busy') instanceof other.HttpStatusError).toBe(true);
    // The base class's hasInstance is inherited: it must not make every Lifeline error an HttpStatusError.
    expect(new other.LifelineError('CONNECT', 'refused') instanceof HttpStatusError).toBe(false);
    expect(new LifelineError('DEADLINE_EXCEEDED', 'late') instanceof HttpStatusError).toBe(false);
    expect(new LifelineError('DEADLINE_EXCEEDED', 'late') instanceof other.HttpStatusError).toBe(false);
  });

  it('plain errors and non-objects match neither class', () => {
    for (const value of [new Error('x'), null, undefined, 'HTTP_STATUS', 42, { code: 'HTTP_STATUS' }]) {
      expect(value instanceof LifelineError).toBe(false);
      expect(value instanceof HttpStatusError).toBe(false);
      expect(value instanceof other.LifelineError).toBe(false);
    }
  });

  it('the errors a copy throws itself (a deadline, an abort) match this copy\'s classes', async () => {
    const deadline = other.Deadline.after(0);
    const reason: unknown = deadline.signal().reason;
    expect(reason instanceof LifelineError && reason.code === 'DEADLINE_EXCEEDED').toBe(true);
    const controller = new AbortController();
    controller.abort();
    const aborted = await other.sleep(10, controller.signal).catch((error: unknown) => error);
    expect(aborted instanceof LifelineError).toBe(true);
    expect(aborted instanceof HttpStatusError).toBe(false);
  });
});

describe('instanceof for subclasses', () => {
  class PaymentDeclined extends LifelineError {
    constructor() {
      super('HTTP_STATUS', 'declined');
    }
  }
  class TeapotError extends HttpStatusError {}

  it('a subclass with no hasInstance of its own uses the prototype chain, not the inherited marker check', () => {
    expect(new PaymentDeclined() instanceof PaymentDeclined).toBe(true);
    expect(new LifelineError('HTTP_STATUS', 'x') instanceof PaymentDeclined).toBe(false);
    expect(new HttpStatusError(402, {}, '') instanceof PaymentDeclined).toBe(false);
    expect(new TeapotError(418, {}, '') instanceof TeapotError).toBe(true);
    expect(new HttpStatusError(418, {}, '') instanceof TeapotError).toBe(false);
    expect(new TeapotError(418, {}, '') instanceof HttpStatusError).toBe(true);
    expect(new TeapotError(418, {}, '') instanceof LifelineError).toBe(true);
  });

  it('narrows in TypeScript to the class on the right (the method returns boolean, not a predicate)', () => {
    const caught: unknown = new HttpStatusError(404, {}, 'no such user');
    if (caught instanceof HttpStatusError) expect(caught.status).toBe(404);
    else expect.unreachable();
  });
});
