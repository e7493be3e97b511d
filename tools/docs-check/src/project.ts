import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeEnd, describeOutput, exec, type ExecResult } from './exec.ts';
import type { Failure } from './report.ts';

/**
 * What a service adopting Lifeline installs beside it: the current OpenTelemetry SDK, its
 * resources, exporters and the undici instrumentation (@lifeline/trace exports the hook
 * that keeps it from duplicating Lifeline's spans), both web frameworks the server half adapts, the logger, the HTTP client, the
 * Redis and etcd clients of the fleet-wide features, and the compiler and types an adopter
 * type-checks with. Unversioned, so npm takes the latest of each and saves a caret range.
 */
export const COMPANIONS = [
  '@opentelemetry/sdk-node',
  '@opentelemetry/api',
  '@opentelemetry/sdk-trace',
  '@opentelemetry/resources',
  '@opentelemetry/exporter-trace-otlp-http',
  '@opentelemetry/exporter-prometheus',
  '@opentelemetry/instrumentation-undici',
  'fastify',
  'express',
  'pino',
  'undici',
  'ioredis',
  'etcd3',
  'typescript',
  '@types/node',
  '@types/express',
] as const;

const INIT_TIMEOUT_MS = 60_000;
const INSTALL_TIMEOUT_MS = 300_000;
const LS_TIMEOUT_MS = 60_000;

// What npm prints when it had to break a peer dependency to finish the install.
const PEER_WARNING = /ERESOLVE|overriding peer dependency/i;

export interface ProjectResult {
  /** False when the install itself failed: nothing can be type-checked or run there. */
  installed: boolean;
  failures: Failure[];
  installMs: number;
}

/**
 * A fresh npm project in `dir`, as a new user makes one (`npm init -y`, ESM), with every
 * tarball and the companions installed by ONE `npm install`, so npm resolves them all
 * together; then the install must have been clean and `npm ls --all` must agree.
 */
export async function createProject(dir: string, tarballs: readonly string[], env: NodeJS.ProcessEnv): Promise<ProjectResult> {
  mkdirSync(dir, { recursive: true });
  const failures: Failure[] = [];
  const fail = (where: string, message: string, result: ExecResult) =>
    failures.push({ group: 'fresh npm project', where, message, detail: describeOutput(result) });

  const init = await exec('npm', ['init', '-y'], { cwd: dir, env, timeoutMs: INIT_TIMEOUT_MS });
  if (init.code !== 0) {
    fail('npm init -y', describeEnd(init, INIT_TIMEOUT_MS), init);
    return { installed: false, failures, installMs: 0 };
  }
  const manifestPath = join(dir, 'package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(manifestPath, `${JSON.stringify({ ...manifest, type: 'module' }, null, 2)}\n`);

  const args = ['install', '--no-audit', '--no-fund', ...tarballs, ...COMPANIONS];
  const install = await exec('npm', args, { cwd: dir, env, timeoutMs: INSTALL_TIMEOUT_MS });
  const where = `npm install <${tarballs.length} tarballs> ${COMPANIONS.join(' ')}`;
  if (install.code !== 0) {
    fail(where, describeEnd(install, INSTALL_TIMEOUT_MS), install);
    return { installed: false, failures, installMs: install.ms };
  }
  const warnings = `${install.stdout}\n${install.stderr}`.split('\n').filter((line) => PEER_WARNING.test(line));
  if (warnings.length > 0) {
    failures.push({
      group: 'fresh npm project',
      where,
      message: 'npm had to override a peer dependency (ERESOLVE): the packages do not install cleanly beside the current companions',
      detail: describeOutput(install),
    });
  }

  const ls = await exec('npm', ['ls', '--all'], { cwd: dir, env, timeoutMs: LS_TIMEOUT_MS });
  if (ls.code !== 0) {
    const problems = `${ls.stdout}\n${ls.stderr}`.split('\n').filter((line) => /invalid|missing|extraneous|ERR!|error/i.test(line));
    failures.push({
      group: 'fresh npm project',
      where: 'npm ls --all',
      message: `${describeEnd(ls, LS_TIMEOUT_MS)}: the installed tree is not valid`,
      detail: problems.length > 0 ? problems.join('\n') : describeOutput(ls),
    });
  }
  return { installed: true, failures, installMs: install.ms };
}

/** The versions npm chose for the companions, for the report (`fastify@5.12.8`). */
export function installedVersions(dir: string): string[] {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  return COMPANIONS.map((name) => {
    try {
      const json = JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
      return `${name}@${json.version}`;
    } catch {
      return `${name}@${manifest.dependencies?.[name] ?? '?'}`;
    }
  });
}
