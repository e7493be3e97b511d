/**
 * docs-check: packs the public packages, installs the tarballs into a fresh npm project
 * outside the repository beside the current OpenTelemetry SDK and frameworks, checks the
 * tarballs and the install, then type-checks every ts/js block of the docs there and runs
 * the runnable ones. Every failure is reported, grouped by document or step; exit 1 if any.
 *
 *   node tools/docs-check/src/cli.ts [--keep] [--only <file.md>]
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeTempDir, removeTempDir, runDocsCheck } from './check.ts';
import { killAll } from './exec.ts';
import { formatFailures } from './report.ts';

const root = resolve(import.meta.dirname, '../../..');

let args: { keep: boolean; only: string | undefined; help: boolean };
try {
  const { values } = parseArgs({
    options: { keep: { type: 'boolean', default: false }, only: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
    strict: true,
  });
  args = { keep: values.keep, only: values.only, help: values.help };
} catch (error) {
  console.error(`docs-check: ${(error as Error).message}\nusage: node tools/docs-check/src/cli.ts [--keep] [--only <file.md>]`);
  process.exit(2);
}
if (args.help) {
  console.log('usage: node tools/docs-check/src/cli.ts [--keep] [--only <file.md>]\n  --keep          keep the temporary tarballs and project, and print where\n  --only <file>   check only the blocks of this document');
  process.exit(0);
}

const tempDir = makeTempDir();
const interrupted = (signal: NodeJS.Signals) => {
  killAll();
  if (!args.keep) removeTempDir(tempDir);
  console.error(`docs-check: interrupted by ${signal}`);
  process.exit(signal === 'SIGINT' ? 130 : 143);
};
process.once('SIGINT', interrupted);
process.once('SIGTERM', interrupted);

const started = performance.now();
let result;
try {
  result = await runDocsCheck({
    root,
    ...(args.only === undefined ? {} : { only: args.only }),
    tempDir,
    log: (line) => console.error(line),
  });
} finally {
  killAll();
  if (args.keep) console.error(`› kept ${tempDir}`);
  else removeTempDir(tempDir);
}

const { failures, upstream } = result;
if (upstream.length > 0) {
  console.log("\nNot counted: errors in a companion's own .d.ts, which it shows without Lifeline too (skipLibCheck: false)");
  console.log(formatFailures(upstream, '·', 'not counted'));
}
if (failures.length > 0) console.log(formatFailures(failures));
const seconds = ((performance.now() - started) / 1000).toFixed(0);
const notCounted = upstream.length > 0 ? `, ${upstream.length} upstream type error${upstream.length === 1 ? '' : 's'} not counted` : '';
console.log(
  `\ndocs-check: ${result.blocks} block${result.blocks === 1 ? '' : 's'} (${result.runnable} run, ${result.blocks - result.runnable} type-checked), ${result.tarballs} tarballs — ${failures.length} failed${notCounted} (${seconds} s)`,
);
process.exitCode = failures.length > 0 ? 1 : 0;
