import { existsSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { blockLabel, documentLine, type BlockFile } from './block-file.ts';
import { describeEnd, describeOutput, exec } from './exec.ts';
import type { Failure } from './report.ts';

/**
 * The compiler settings of a strict ESM adopter on Node's type stripping. skipLibCheck is
 * off so the packages' published .d.ts are checked as that adopter's compiler sees them;
 * moduleDetection is forced so every block is its own module even without an import;
 * allowJs/checkJs so ```js blocks are checked as well as run.
 */
export const ADOPTER_COMPILER_OPTIONS = {
  strict: true,
  module: 'nodenext',
  moduleResolution: 'nodenext',
  target: 'es2023',
  noEmit: true,
  allowImportingTsExtensions: true,
  verbatimModuleSyntax: true,
  skipLibCheck: false,
  types: ['node'],
  moduleDetection: 'force',
  allowJs: true,
  checkJs: true,
} as const;

const TSC_TIMEOUT_MS = 180_000;

/** A file checked besides the blocks, and the group its errors are reported under. */
export interface ExtraFile {
  path: string;
  group: string;
}

export interface TypeCheckRun {
  /** Project-relative name of the tsconfig to write. */
  tsconfig: string;
  compilerOptions: Record<string, unknown>;
  blocks: readonly BlockFile[];
  extras: readonly ExtraFile[];
}

/**
 * One `tsc -p` over every file of the run, with the project's own compiler; each error
 * mapped back to the document line of its block, or to the package or file it is in.
 */
export async function typeCheck(projectDir: string, run: TypeCheckRun, env: NodeJS.ProcessEnv): Promise<Failure[]> {
  const files = [...run.blocks.map((b) => b.path), ...run.extras.map((e) => e.path)];
  if (files.length === 0) return [];
  writeFileSync(join(projectDir, run.tsconfig), `${JSON.stringify({ compilerOptions: run.compilerOptions, files }, null, 2)}\n`);

  const tsc = join(projectDir, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) {
    return [{ group: 'type-check', where: run.tsconfig, message: `the project has no TypeScript compiler at ${tsc}` }];
  }
  const result = await exec(process.execPath, [tsc, '-p', run.tsconfig, '--pretty', 'false'], {
    cwd: projectDir,
    env,
    timeoutMs: TSC_TIMEOUT_MS,
  });
  if (result.timedOut || result.signal) {
    return [{ group: 'type-check', where: `tsc -p ${run.tsconfig}`, message: describeEnd(result, TSC_TIMEOUT_MS), detail: describeOutput(result) }];
  }

  const byPath = new Map(run.blocks.map((b) => [b.path, b]));
  const extras = new Map(run.extras.map((e) => [e.path, e]));
  const failures: Failure[] = [];
  for (const diagnostic of parseDiagnostics(result.stdout + result.stderr)) {
    const path = diagnostic.file === undefined ? undefined : toProjectPath(projectDir, diagnostic.file);
    const block = path === undefined ? undefined : byPath.get(path);
    if (block && diagnostic.line !== undefined) {
      const at = documentLine(block, diagnostic.line);
      failures.push({
        group: block.block.file,
        where: `${block.block.file}:${at.line}`,
        line: at.line,
        message: `${blockLabel(block.block)} does not type-check: ${diagnostic.code} ${diagnostic.message}`,
        detail: [`${at.line} | ${at.text}`, ...diagnostic.more].join('\n'),
      });
      continue;
    }
    const extra = path === undefined ? undefined : extras.get(path);
    const group = extra?.group ?? (path?.startsWith('node_modules/@lifeline/') ? 'package types (.d.ts in the tarballs)' : path?.startsWith('node_modules/') ? 'third-party .d.ts reached from the blocks or the packages (tsc --explainFiles in a --keep project says how)' : 'type-check');
    failures.push({
      group,
      where: path === undefined ? `tsc -p ${run.tsconfig}` : `${path}${diagnostic.line === undefined ? '' : `:${diagnostic.line}`}`,
      message: `${diagnostic.code} ${diagnostic.message}`,
      ...(diagnostic.more.length > 0 ? { detail: diagnostic.more.join('\n') } : {}),
    });
  }
  if (result.code !== 0 && failures.length === 0) {
    failures.push({ group: 'type-check', where: `tsc -p ${run.tsconfig}`, message: `${describeEnd(result, TSC_TIMEOUT_MS)} without a diagnostic this check understands`, detail: describeOutput(result) });
  }
  return failures;
}

interface Diagnostic {
  file?: string;
  line?: number;
  code: string;
  message: string;
  /** Continuation lines of the message (elaborations), as printed. */
  more: string[];
}

const LOCATED = /^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/;
const GLOBAL = /^error (TS\d+): (.*)$/;

/** tsc's `--pretty false` output: `file(line,col): error TSn: message`, elaborations indented below. */
export function parseDiagnostics(output: string): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const line of output.split(/\r?\n/)) {
    const located = LOCATED.exec(line);
    const global = located ? undefined : GLOBAL.exec(line);
    if (located) {
      const [, file = '', row = '0', , code = '', message = ''] = located;
      diagnostics.push({ file, line: Number(row), code, message, more: [] });
    } else if (global) {
      const [, code = '', message = ''] = global;
      diagnostics.push({ code, message, more: [] });
    } else if (line.trim() !== '' && /^\s/.test(line)) {
      diagnostics.at(-1)?.more.push(line.trim());
    }
  }
  return diagnostics;
}

function toProjectPath(projectDir: string, file: string): string {
  const rel = isAbsolute(file) ? relative(projectDir, file) : file;
  return rel.split(sep).join('/').replace(/^\.\//, '');
}
