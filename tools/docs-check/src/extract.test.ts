import { describe, expect, it } from 'vitest';
import { extractBlocks } from './extract.ts';

const fence = '```';

describe('extractBlocks', () => {
  it('takes ts/js blocks with their line, kind and file extension, and skips every other fence', () => {
    const markdown = [
      '# Title', //                                    1
      `${fence}sh`, //                                 2
      'npm install @lifeline/client', //               3
      fence, //                                        4
      `${fence}ts`, //                                 5
      "import { createClient } from '@lifeline/client';",
      fence, //                                        7
      `${fence}js`, //                                 8
      "console.log('esm');",
      fence, //                                        10
      `${fence}js cjs`, //                             11
      "require('node:fs');",
      fence, //                                        13
      `${fence}cjs`, //                                14
      "require('node:os');",
      fence, //                                        16
      `${fence}typescript fragment`, //                17
      'client.close();',
      fence, //                                        19
      `${fence}ts cjs`, //                             20
      'export {};',
      fence, //                                        22
      `${fence}json`, //                               23
      '{}',
      fence, //                                        25
    ].join('\n');
    const { blocks, problems } = extractBlocks(markdown, 'docs/a.md');
    expect(problems).toEqual([]);
    expect(blocks.map((b) => [b.line, b.kind, b.ext, b.code])).toEqual([
      [5, 'run', '.ts', "import { createClient } from '@lifeline/client';"],
      [8, 'run', '.mjs', "console.log('esm');"],
      [11, 'run', '.cjs', "require('node:fs');"],
      [14, 'run', '.cjs', "require('node:os');"],
      [17, 'fragment', '.ts', 'client.close();'],
      [20, 'run', '.cts', 'export {};'],
    ]);
    expect(blocks.every((b) => b.file === 'docs/a.md')).toBe(true);
  });

  it('takes an indented fence (in a list item) and removes the indentation from its lines', () => {
    const markdown = ['1. Install, then:', '', `   ${fence}ts`, '   const a = 1;', '     const b = 2;', `   ${fence}`].join('\n');
    const [block] = extractBlocks(markdown, 'x.md').blocks;
    expect(block).toMatchObject({ line: 3, code: 'const a = 1;\n  const b = 2;' });
  });

  it('does not take a ts block shown inside another fence, and honours ~~~ and longer fences', () => {
    const markdown = [
      `${fence}\`md`, //                     1: a four-backtick fence
      `${fence}ts`,
      'not a block of this document',
      fence, //                              4: shorter, does not close
      `${fence}\``, //                       5: closes
      '~~~ts',
      'const tilde = true;',
      '~~~',
    ].join('\n');
    const { blocks } = extractBlocks(markdown, 'x.md');
    expect(blocks.map((b) => [b.line, b.code])).toEqual([[6, 'const tilde = true;']]);
  });

  it('attaches a declare comment directly above a fragment, keeping its lines', () => {
    const markdown = [
      'Some text.', //                                                     1
      '<!-- declare: declare const payment: import("@lifeline/client").LifelineClient;', // 2
      'declare const log: { info(message: string): void };', //             3
      '-->', //                                                             4
      `${fence}ts fragment`, //                                             5
      "await payment.get('/x');",
      fence,
    ].join('\n');
    const { blocks, problems } = extractBlocks(markdown, 'x.md');
    expect(problems).toEqual([]);
    expect(blocks[0]?.declarations).toEqual({
      line: 2,
      text: ' declare const payment: import("@lifeline/client").LifelineClient;\ndeclare const log: { info(message: string): void };\n',
    });
  });

  it('reports a declare comment above a runnable block, away from any block, or never closed', () => {
    const markdown = [
      '<!-- declare: declare const a: number; -->', // 1
      `${fence}ts`, //                               2
      'console.log(a);',
      fence, //                                      4
      '<!-- declare: declare const b: number; -->', // 5
      'Text between the comment and the block.', //   6
      `${fence}ts fragment`,
      'b;',
      fence, //                                      9
      '<!-- declare: declare const c: number;', //    10
    ].join('\n');
    const { blocks, problems } = extractBlocks(markdown, 'x.md');
    expect(blocks.map((b) => [b.line, b.declarations])).toEqual([[7, undefined]]);
    expect(problems.map((p) => [p.line, p.message])).toEqual([
      [1, expect.stringContaining('runnable')],
      [5, expect.stringContaining('not directly above')],
      [10, expect.stringContaining('never closed')],
    ]);
  });

  it('reports an unknown word in the info string and an unclosed block instead of guessing', () => {
    const markdown = [`${fence}ts fragmnet`, 'x;', fence, `${fence}ts`, 'y;'].join('\n');
    const { blocks, problems } = extractBlocks(markdown, 'x.md');
    expect(blocks).toEqual([]);
    expect(problems.map((p) => [p.line, p.message])).toEqual([
      [1, expect.stringContaining("unknown word 'fragmnet'")],
      [4, expect.stringContaining('never closed')],
    ]);
  });
});
