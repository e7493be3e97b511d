import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { HttpStatusError, LifelineError } from '@lifeline/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bulkhead, BulkheadRejectedError } from './bulkhead.ts';

/**
 * A second copy of @lifeline/core and of the bulkhead, as a dependency tree holding two
 * versions has: the sources copied to a temporary directory, their imports of
 * @lifeline/core pointed at the copied core, so every class is a different object.
 */
let copyDir: string;
let other: { BulkheadRejectedError: typeof BulkheadRejectedError; LifelineError: typeof LifelineError };

beforeAll(async () => {
  copyDir = await mkdtemp(join(tmpdir(), 'lifeline-bulkhead-copy-'));
  const corePackageJson = createRequire(import.meta.url).resolve('@lifeline/core/package.json');
  await cp(join(dirname(corePackageJson), 'src'), join(copyDir, 'core'), { recursive: true, filter: (path) => !path.endsWith('.test.ts') });
  const coreUrl = pathToFileURL(join(copyDir, 'core', 'index.ts')).href;
  const here = dirname(fileURLToPath(import.meta.url));
  for (const file of ['bulkhead.ts', 'diagnostics.ts', 'limiter.ts']) {
    const source = await readFile(join(here, file), 'utf8');
    await writeFile(join(copyDir, file), source.replaceAll("from '@lifeline/core'", `from '${coreUrl}'`));
  }
  const [bulkheadModule, coreModule] = (await Promise.all([
    import(pathToFileURL(join(copyDir, 'bulkhead.ts')).href),
    import(coreUrl),
  ])) as [{ BulkheadRejectedError: typeof BulkheadRejectedError }, { LifelineError: typeof LifelineError }];
  other = { BulkheadRejectedError: bulkheadModule.BulkheadRejectedError, LifelineError: coreModule.LifelineError };
});

afterAll(async () => {
  await rm(copyDir, { recursive: true, force: true });
});

describe('BulkheadRejectedError instanceof across two copies', () => {
  it('loads separate classes', () => {
    expect(other.BulkheadRejectedError).not.toBe(BulkheadRejectedError);
    expect(other.LifelineError).not.toBe(LifelineError);
  });

  it('matches BULKHEAD_REJECTED errors from either copy, both ways', () => {
    expect(new other.BulkheadRejectedError('queue-full', 'full') instanceof BulkheadRejectedError).toBe(true);
    expect(new BulkheadRejectedError('queue-full', 'full') instanceof other.BulkheadRejectedError).toBe(true);
    expect(new other.BulkheadRejectedError('queue-full', 'full') instanceof LifelineError).toBe(true);
    expect(new BulkheadRejectedError('queue-full', 'full') instanceof other.LifelineError).toBe(true);
  });

  it('matches no other code, though it inherits LifelineError\'s hasInstance', () => {
    expect(new LifelineError('CIRCUIT_OPEN', 'open') instanceof BulkheadRejectedError).toBe(false);
    expect(new other.LifelineError('DEADLINE_EXCEEDED', 'late') instanceof BulkheadRejectedError).toBe(false);
    expect(new HttpStatusError(503, {}, '') instanceof BulkheadRejectedError).toBe(false);
    expect(new BulkheadRejectedError('closed', 'closed') instanceof HttpStatusError).toBe(false);
    expect(new Error('full') instanceof BulkheadRejectedError).toBe(false);
  });

  it('a full bulkhead\'s rejection is a BulkheadRejectedError with no captured stack frames', async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 0 });
    let release!: () => void;
    const holding = bulkhead.execute(() => new Promise<void>((resolve) => (release = resolve)));
    const error = await bulkhead.execute(() => 'never').catch((e: unknown) => e);
    release();
    await holding;
    expect(error instanceof other.BulkheadRejectedError).toBe(true);
    expect((error as BulkheadRejectedError).reason).toBe('queue-full');
    expect((error as Error).stack?.split('\n')).toHaveLength(1);
    bulkhead.close();
  });
});
