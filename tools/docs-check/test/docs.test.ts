import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBlocks } from '../src/check.ts';
import { exec, userEnv } from '../src/exec.ts';
import { extractBlocks } from '../src/extract.ts';
import { importedPackages } from '../src/imports.ts';
import { relativeLinks } from '../src/package-check.ts';
import { formatFailures } from '../src/report.ts';
import { parseDiagnostics } from '../src/typecheck.ts';
import { separateUpstream } from '../src/upstream.ts';

const root = resolve(import.meta.dirname, '../../..');
const fence = '```';

describe('a broken example', () => {
  // A project with the workspace's own compiler and Node types: enough for blocks that do
  // not import Lifeline, without an npm install.
  let project = '';
  beforeAll(() => {
    project = mkdtempSync(join(tmpdir(), 'lifeline-docs-check-test-'));
    writeFileSync(join(project, 'package.json'), '{ "name": "broken-docs", "private": true, "type": "module" }\n');
    symlinkSync(join(root, 'node_modules'), join(project, 'node_modules'), 'dir');
  });
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  const markdown = [
    '# Broken', //                                          1
    '', //                                                  2
    `${fence}ts`, //                                        3
    "console.log('this one is fine');", //                  4
    fence, //                                               5
    '', //                                                  6
    `${fence}ts`, //                                        7
    "const reason: string = 'boom from the docs';", //      8
    'throw new Error(reason);', //                          9
    fence, //                                               10
    '', //                                                  11
    '<!-- declare: declare const count: number; -->', //    12
    `${fence}ts fragment`, //                               13
    "throw new Error('a fragment is never run');", //       14
    'const label: string = count;', //                      15
    fence, //                                               16
    '', //                                                  17
    `${fence}js`, //                                        18
    'setInterval(() => {}, 1_000);', //                     19
    fence, //                                               20
    '', //                                                  21
    '<!-- declare: declare const broken: Strnig; -->', //   22
    `${fence}ts fragment`, //                               23
    'broken;', //                                           24
    fence, //                                               25
    '', //                                                  26
    `${fence}ts fragment`, //                               27
    "import { pad } from 'left-pad';", //                   28
    'pad;', //                                              29
    fence, //                                               30
  ].join('\n');

  it('is reported with its file and line, each failure once, and nothing else is', async () => {
    const { blocks, problems } = extractBlocks(markdown, 'docs/broken.md');
    expect(problems).toEqual([]);
    const failures = await checkBlocks(project, blocks, userEnv(root), { runTimeoutMs: 2_000 });
    const report = formatFailures(failures);

    expect(failures.map((f) => f.where).sort(), report).toEqual([
      'docs/broken.md:15', // the fragment's type error
      'docs/broken.md:18', // the program that never exits
      'docs/broken.md:22', // the type error in the declare comment, at the comment's line
      'docs/broken.md:28', // a package the project does not install …
      'docs/broken.md:28', // … which the compiler cannot find either
      'docs/broken.md:7', //  the program that throws
    ]);
    const byWhere = new Map(failures.map((f) => [f.where, f]));
    expect(byWhere.get('docs/broken.md:7')?.message).toContain('exited with code 1');
    // The stack frame names the document's line, not the temporary file's.
    expect(byWhere.get('docs/broken.md:7')?.detail).toContain('boom from the docs');
    expect(byWhere.get('docs/broken.md:7')?.detail).toContain('docs/broken.md:9');
    expect(byWhere.get('docs/broken.md:15')?.message).toMatch(/does not type-check: TS2322 /);
    expect(byWhere.get('docs/broken.md:15')?.detail).toContain('15 | const label: string = count;');
    expect(byWhere.get('docs/broken.md:18')?.message).toContain('did not finish within 2 s');
    expect(byWhere.get('docs/broken.md:22')?.message).toMatch(/TS2552 Cannot find name 'Strnig'/);
    expect(failures.find((f) => f.where === 'docs/broken.md:28' && f.message.includes('imports left-pad'))).toBeDefined();
    expect(report).toContain('docs/broken.md (6 failed)');
  });
});

describe('relativeLinks', () => {
  it('finds links that break off GitHub, ignoring absolute URLs, anchors and code', () => {
    const markdown = [
      'See [errors](../../docs/errors.md), [site](https://example.com/x) and [below](#usage).',
      '![chart](./chart.svg "Chart")',
      '`[not](a-link.md)`',
      fence,
      '[in](code.md)',
      fence,
      '[ref]: ../bench/README.md',
      '<a href="docs/x.md">x</a> <img src="https://example.com/a.png">',
    ].join('\n');
    expect(relativeLinks(markdown)).toEqual([
      { line: 1, target: '../../docs/errors.md' },
      { line: 2, target: './chart.svg' },
      { line: 7, target: '../bench/README.md' },
      { line: 8, target: 'docs/x.md' },
    ]);
  });
});

describe('importedPackages', () => {
  it('names the package of every import, export-from, dynamic import and require, not builtins or relative files', () => {
    const code = [
      "import { createClient } from '@lifeline/client';",
      "import type { Logger } from 'pino';",
      "export { lifelinePlugin } from '@lifeline/server/fastify';",
      "import 'dotenv/config'; import { readFile } from 'node:fs/promises'; import os from 'os';",
      "const { Redis } = await import('ioredis'); const local = require('./local.cjs');",
      "declare const d: import('undici').Dispatcher; Array.from('abc');",
    ].join('\n');
    expect(importedPackages(code)).toEqual([
      { name: '@lifeline/client', line: 1 },
      { name: 'pino', line: 2 },
      { name: '@lifeline/server', line: 3 },
      { name: 'dotenv', line: 4 },
      { name: 'ioredis', line: 5 },
      { name: 'undici', line: 6 },
    ]);
  });
});

describe('separateUpstream', () => {
  it("sets aside only third-party .d.ts errors that the companions show on their own", () => {
    const error = (where: string, message = 'TS7016 Could not find a declaration file') => ({ group: 'g', where, message });
    const upstream = [error('node_modules/ioredis/built/errors/WatchError.d.ts:1'), error('node_modules/@lifeline/x/dist/a.d.ts:1')];
    const failures = [
      error('node_modules/ioredis/built/errors/WatchError.d.ts:1'), //           upstream's
      error('node_modules/ioredis/built/errors/WatchError.d.ts:1', 'TS2300 other'), // not in the control
      error('node_modules/pino/types.d.ts:3'), //                                 not in the control
      error('node_modules/@lifeline/x/dist/a.d.ts:1'), //                         Lifeline's, always counted
      error('docs/a.md:3'),
    ];
    const { own, upstream: set } = separateUpstream(failures, upstream);
    expect(set).toEqual([failures[0]]);
    expect(own).toEqual(failures.slice(1));
  });
});

describe('parseDiagnostics', () => {
  it("reads tsc's --pretty false output, elaborations included", () => {
    const output = [
      "blocks/a-L3.ts(2,7): error TS2322: Type 'number' is not assignable to type 'string'.",
      "  Type 'number' is not assignable to type 'string'.",
      'error TS5083: Cannot read file tsconfig.base.json.',
    ].join('\n');
    expect(parseDiagnostics(output)).toEqual([
      { file: 'blocks/a-L3.ts', line: 2, code: 'TS2322', message: "Type 'number' is not assignable to type 'string'.", more: ["Type 'number' is not assignable to type 'string'."] },
      { code: 'TS5083', message: 'Cannot read file tsconfig.base.json.', more: [] },
    ]);
  });
});

describe('the docs', () => {
  // The whole check: pack, install into a fresh npm project, type-check and run every
  // block. Its own bounds (npm install 5 min, 30 s a block) end well inside this one.
  it('type-check and run against the packed packages in a fresh npm project', async () => {
    const result = await exec(process.execPath, [join(root, 'tools/docs-check/src/cli.ts')], {
      cwd: root,
      env: process.env,
      timeoutMs: 570_000,
    });
    expect(result.code, `${result.stderr}\n${result.stdout}`).toBe(0);
    expect(result.stdout).toMatch(/docs-check: \d+ blocks .* 9 tarballs — 0 failed/);
  }, 600_000);
});
