import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { writeBlocks } from './block-file.ts';
import { commonJsTypeCheck, runCommonJsConsumer, writeCommonJsConsumers } from './commonjs.ts';
import { userEnv } from './exec.ts';
import { extractBlocks, type CodeBlock } from './extract.ts';
import { checkImports } from './imports.ts';
import { packPackages } from './pack.ts';
import { checkTarballs } from './package-check.ts';
import { createProject, installedVersions } from './project.ts';
import { uniqueFailures, type Failure } from './report.ts';
import { runBlocks } from './run-blocks.ts';
import { ADOPTER_COMPILER_OPTIONS, typeCheck, type ExtraFile } from './typecheck.ts';
import { separateUpstream, upstreamTypeErrors } from './upstream.ts';

export interface CheckOptions {
  /** The repository root. */
  root: string;
  /** Check only this document (a path relative to the root or absolute). */
  only?: string;
  /** An empty directory outside the repository for the tarballs and the project. */
  tempDir: string;
  /** Progress lines. */
  log: (line: string) => void;
}

export interface CheckResult {
  failures: Failure[];
  /** Errors in a companion's own .d.ts that it shows without Lifeline too: reported, not counted. */
  upstream: Failure[];
  blocks: number;
  runnable: number;
  tarballs: number;
}

/** The documents whose blocks are checked: README.md, docs/*.md and packages/*\/README.md. */
export function documents(root: string): string[] {
  const found = ['README.md'];
  const docs = join(root, 'docs');
  if (existsSync(docs)) {
    for (const name of readdirSync(docs).sort()) if (name.endsWith('.md')) found.push(`docs/${name}`);
  }
  for (const name of readdirSync(join(root, 'packages')).sort()) {
    if (existsSync(join(root, 'packages', name, 'README.md'))) found.push(`packages/${name}/README.md`);
  }
  return found.filter((file) => existsSync(join(root, file)));
}

/**
 * Checks that every package a block imports is a dependency of the project, type-checks
 * every block with the project's compiler (one tsc run), then runs the runnable ones. The
 * project must have `typescript` and `@types/node` installed.
 */
export async function checkBlocks(
  projectDir: string,
  blocks: readonly CodeBlock[],
  env: NodeJS.ProcessEnv,
  options: { extras?: readonly ExtraFile[]; runTimeoutMs?: number } = {},
): Promise<Failure[]> {
  const files = writeBlocks(projectDir, blocks);
  const typeFailures = await typeCheck(
    projectDir,
    { tsconfig: 'tsconfig.docs.json', compilerOptions: ADOPTER_COMPILER_OPTIONS, blocks: files, extras: options.extras ?? [] },
    env,
  );
  const runFailures = await runBlocks(projectDir, files, env, options.runTimeoutMs);
  return [...checkImports(projectDir, files), ...typeFailures, ...runFailures];
}

export async function runDocsCheck(options: CheckOptions): Promise<CheckResult> {
  const { root, log, tempDir } = options;
  const failures: Failure[] = [];
  // The early returns below hand back this same list; the last step replaces it de-duplicated.
  const result: CheckResult = { failures, upstream: [], blocks: 0, runnable: 0, tarballs: 0 };
  const env = userEnv(root);
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;

  // 1. The blocks, and anything wrong with how they are written.
  let docs = documents(root);
  if (options.only !== undefined) {
    const only = relative(root, resolve(root, options.only)).split(sep).join('/');
    if (!existsSync(join(root, only))) {
      failures.push({ group: 'docs-check', where: '--only', message: `${options.only} does not exist` });
      return result;
    }
    docs = [only];
  }
  const blocks: CodeBlock[] = [];
  for (const file of docs) {
    const extracted = extractBlocks(readFileSync(join(root, file), 'utf8'), file);
    blocks.push(...extracted.blocks);
    for (const problem of extracted.problems) {
      failures.push({ group: problem.file, where: `${problem.file}:${problem.line}`, line: problem.line, message: problem.message });
    }
  }
  result.blocks = blocks.length;
  result.runnable = blocks.filter((b) => b.kind === 'run').length;
  if (blocks.length === 0) failures.push({ group: 'docs-check', where: docs.join(', '), message: 'no ts/js code block found' });
  log(`› ${blocks.length} block${blocks.length === 1 ? '' : 's'} in ${docs.length} document${docs.length === 1 ? '' : 's'}`);

  // 2. The tarballs.
  const tarballDir = join(tempDir, 'tarballs');
  mkdirSync(tarballDir);
  // Packing is the workspace's own business: pnpm runs with the workspace's environment.
  const packed = await packPackages(root, tarballDir, process.env);
  failures.push(...packed.failures);
  result.tarballs = packed.packed.length;
  failures.push(...checkTarballs(packed.packed));
  log(`› packed ${packed.packed.length} packages (${elapsed()})`);
  if (packed.packed.length === 0) return result;

  // 3. The fresh project.
  const projectDir = join(tempDir, 'project');
  log('› npm install of the tarballs and the current companions in a fresh project…');
  const project = await createProject(projectDir, packed.packed.map((p) => p.tarball), env);
  failures.push(...project.failures);
  if (!project.installed) {
    failures.push({ group: 'docs-check', where: projectDir, message: 'the blocks were not checked: the fresh project could not be installed' });
    return result;
  }
  log(`› installed in ${(project.installMs / 1000).toFixed(1)} s: ${installedVersions(projectDir).join(' ')}`);

  // 4. The blocks and the CommonJS consumers, type-checked then run.
  const extras = writeCommonJsConsumers(projectDir);
  const [blockFailures, commonJsTypeFailures, upstream] = await Promise.all([
    checkBlocks(projectDir, blocks, env, { extras }),
    typeCheck(projectDir, commonJsTypeCheck(), env),
    upstreamTypeErrors(projectDir, env),
  ]);
  const commonJsRunFailures = await runCommonJsConsumer(projectDir, env);
  const separated = separateUpstream([...failures, ...blockFailures, ...commonJsTypeFailures, ...commonJsRunFailures], upstream);
  result.failures = uniqueFailures(separated.own, projectDir);
  result.upstream = uniqueFailures(separated.upstream, projectDir);
  log(`› type-checked ${blocks.length} block${blocks.length === 1 ? '' : 's'} and ran ${result.runnable} (${elapsed()})`);
  return result;
}

/** A new directory in the system's temp folder, outside any workspace npm could walk up to. */
export function makeTempDir(): string {
  return mkdtempSync(join(tmpdir(), 'lifeline-docs-check-'));
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
