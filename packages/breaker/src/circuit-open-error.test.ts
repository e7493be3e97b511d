import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { HttpStatusError, LifelineError } from '@lifeline/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CircuitBreaker } from './circuit-breaker.ts';
import { CircuitOpenError } from './circuit-open-error.ts';

/**
 * A second copy of @lifeline/core and of this error class, as a dependency tree holding two
 * versions has: the sources copied to a temporary directory, the class's import of
 * @lifeline/core pointed at the copied core, so every class is a different object.
 */
let copyDir: string;
let other: { CircuitOpenError: typeof CircuitOpenError; LifelineError: typeof LifelineError };

beforeAll(async () => {
  copyDir = await mkdtemp(join(tmpdir(), 'lifeline-breaker-copy-'));
  const corePackageJson = createRequire(import.meta.url).resolve('@lifeline/core/package.json');
  await cp(join(dirname(corePackageJson), 'src'), join(copyDir, 'core'), { recursive: true, filter: (path) => !path.endsWith('.test.ts') });
  const source = await readFile(join(dirname(fileURLToPath(import.meta.url)), 'circuit-open-error.ts'), 'utf8');
  const coreUrl = pathToFileURL(join(copyDir, 'core', 'index.ts')).href;
  expect(source).toContain("from '@lifeline/core'");
  await writeFile(join(copyDir, 'circuit-open-error.ts'), source.replace("from '@lifeline/core'", `from '${coreUrl}'`));
  const [errorModule, coreModule] = (await Promise.all([
    import(pathToFileURL(join(copyDir, 'circuit-open-error.ts')).href),
    import(coreUrl),
  ])) as [{ CircuitOpenError: typeof CircuitOpenError }, { LifelineError: typeof LifelineError }];
  other = { CircuitOpenError: errorModule.CircuitOpenError, LifelineError: coreModule.LifelineError };
});

afterAll(async () => {
  await rm(copyDir, { recursive: true, force: true });
});

describe('CircuitOpenError instanceof across two copies', () => {
  it('loads separate classes', () => {
    expect(other.CircuitOpenError).not.toBe(CircuitOpenError);
    expect(other.LifelineError).not.toBe(LifelineError);
  });

  it('matches CIRCUIT_OPEN errors from either copy, both ways', () => {
    expect(new other.CircuitOpenError('payment', 'open', 1_000) instanceof CircuitOpenError).toBe(true);
    expect(new CircuitOpenError('payment', 'open', 1_000) instanceof other.CircuitOpenError).toBe(true);
    expect(new other.CircuitOpenError('payment', 'open', 1_000) instanceof LifelineError).toBe(true);
    expect(new CircuitOpenError('payment', 'open', 1_000) instanceof other.LifelineError).toBe(true);
  });

  it('matches no other code, though it inherits LifelineError\'s hasInstance', () => {
    expect(new LifelineError('BULKHEAD_REJECTED', 'full') instanceof CircuitOpenError).toBe(false);
    expect(new other.LifelineError('DEADLINE_EXCEEDED', 'late') instanceof CircuitOpenError).toBe(false);
    expect(new HttpStatusError(503, {}, '') instanceof CircuitOpenError).toBe(false);
    expect(new CircuitOpenError('payment', 'open', undefined) instanceof HttpStatusError).toBe(false);
    expect(new Error('open') instanceof CircuitOpenError).toBe(false);
  });

  it('a breaker\'s rejection is a CircuitOpenError with no captured stack frames', async () => {
    const breaker = new CircuitBreaker({ name: 'payment' });
    breaker.forceOpen();
    const error = await breaker.execute(() => 'never').catch((e: unknown) => e);
    expect(error instanceof other.CircuitOpenError).toBe(true);
    expect((error as Error).stack?.split('\n')).toHaveLength(1);
  });
});
