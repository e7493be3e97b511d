import { spawn } from 'node:child_process';
import { delimiter, dirname, join, sep } from 'node:path';

export interface ExecResult {
  /** Exit code, or null when the process was ended by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when the process outlived its time bound and was killed. */
  timedOut: boolean;
  ms: number;
}

export interface ExecOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
}

// Kept output per stream: enough to read any failure, bounded so a chatty child cannot
// exhaust memory.
const MAX_OUTPUT = 256 * 1024;

// Process groups still running, so an interrupted check can end them (they are detached,
// so the terminal's Ctrl-C does not reach them).
const running = new Set<number>();

/**
 * Runs a command in its own process group with a time bound, capturing its output. When it
 * exits or times out, the whole group is killed: a program that started a server or a
 * child and forgot it leaves nothing running behind the check.
 */
export function exec(command: string, args: readonly string[], options: ExecOptions): Promise<ExecResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const out = { stdout: '', stderr: '' };
    const append = (key: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const next = out[key] + chunk.toString('utf8');
      out[key] = next.length > MAX_OUTPUT ? `…(earlier output cut)\n${next.slice(-MAX_OUTPUT)}` : next;
    };
    child.stdout.on('data', append('stdout'));
    child.stderr.on('data', append('stderr'));

    let timedOut = false;
    const pid = child.pid;
    if (pid !== undefined) running.add(pid);
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(pid);
    }, options.timeoutMs);

    let spawnError: Error | undefined;
    child.on('error', (error) => {
      spawnError = error;
    });
    // 'exit' fires when the process ends; its pipes may still be held open by children it
    // started, so the group goes first, then 'close' reports once the pipes are drained.
    child.on('exit', () => killGroup(pid));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (pid !== undefined) running.delete(pid);
      resolve({
        code: spawnError ? 127 : code,
        signal,
        stdout: out.stdout,
        stderr: spawnError ? `${out.stderr}could not start ${command}: ${spawnError.message}\n` : out.stderr,
        timedOut,
        ms: performance.now() - started,
      });
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // The group is already gone.
  }
}

/** Kills every process group this module started that is still running. */
export function killAll(): void {
  for (const pid of running) killGroup(pid);
  running.clear();
}

/** Output of a finished command, for a failure report. */
export function describeOutput(result: ExecResult): string {
  const parts: string[] = [];
  if (result.stdout.trim()) parts.push(`stdout:\n${result.stdout.trimEnd()}`);
  if (result.stderr.trim()) parts.push(`stderr:\n${result.stderr.trimEnd()}`);
  return parts.join('\n') || '(no output)';
}

/** How a finished command ended, in words. */
export function describeEnd(result: ExecResult, timeoutMs: number): string {
  if (result.timedOut) return `did not finish within ${timeoutMs / 1000} s and was killed`;
  if (result.signal) return `was killed by ${result.signal}`;
  return `exited with code ${String(result.code)}`;
}

// Variables `pnpm run`, turbo and vitest set for the workspace's own scripts. A user's
// shell has none of them: pnpm passes its whole configuration down as npm_config_*
// (its own globalconfig among them), which npm in the fresh project would read as its own.
const WORKSPACE_ONLY = /^(npm_|pnpm_|PNPM_|VITEST|TURBO_|NODE_OPTIONS$|NODE_ENV$)/i;
// Except how to reach the registry, which the user's npm needs too.
const NETWORK = /^npm_config_(registry|.+_registry|proxy|https_proxy|noproxy|cafile|ca|strict_ssl|cert|key)$/i;

/**
 * The environment of a user's shell for the fresh project: the workspace's pnpm/turbo/vitest
 * variables and the workspace's node_modules/.bin folders removed (pnpm run puts them on
 * PATH), network and registry settings (proxies, CA certificates, npm_config_* registry
 * options) kept, and this Node first on PATH so `node` and npm run on the same Node as the
 * check.
 */
export function userEnv(root: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && (!WORKSPACE_ONLY.test(key) || NETWORK.test(key))) env[key] = value;
  }
  const toolchain = join(root, '.toolchain');
  const workspaceBin = (dir: string) =>
    (dir.startsWith(root + sep) && !dir.startsWith(toolchain + sep) && /node_modules[\\/]\.bin$/.test(dir)) || /node-gyp-bin$/.test(dir);
  const path = (env['PATH'] ?? '').split(delimiter).filter((dir) => dir !== '' && !workspaceBin(dir));
  env['PATH'] = [dirname(process.execPath), ...path].join(delimiter);
  return env;
}
