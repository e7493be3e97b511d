/**
 * Code blocks of a Markdown document that the check type-checks and runs.
 *
 * A fence is three or more backticks or tildes, at any indentation (blocks inside list
 * items are indented), closed by a line of the same character at least as long. Only
 * blocks whose info string starts with ts, typescript, js, javascript, mjs or cjs are
 * taken; every other fence is skipped whole, so a ```ts shown inside a ```md block is
 * not taken either.
 */

export type BlockKind = 'run' | 'fragment';
export type BlockExt = '.ts' | '.cts' | '.mjs' | '.cjs';

export interface Declarations {
  /** The declarations, line i of which is line `line + i` of the document. */
  text: string;
  /** 1-based line of the `<!-- declare:` comment. */
  line: number;
}

export interface CodeBlock {
  /** The document, as shown in reports (relative to the repository root). */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The info string after the fence, trimmed. */
  info: string;
  /** `run`: a program, type-checked then run. `fragment`: type-checked only. */
  kind: BlockKind;
  /** The file extension the block is written to, which decides ESM or CommonJS. */
  ext: BlockExt;
  /** The block's text, the fence's indentation removed; line i is line `line + 1 + i`. */
  code: string;
  /** From an HTML comment `<!-- declare: … -->` directly above a fragment. */
  declarations?: Declarations;
}

/** Something wrong with how a block is written, found before anything runs. */
export interface ExtractProblem {
  file: string;
  line: number;
  message: string;
}

export interface Extracted {
  blocks: CodeBlock[];
  problems: ExtractProblem[];
}

const LANGUAGES: Readonly<Record<string, 'ts' | 'js'>> = {
  ts: 'ts',
  typescript: 'ts',
  js: 'js',
  javascript: 'js',
  mjs: 'js',
  cjs: 'js',
};
const WORDS = new Set(['fragment', 'cjs']);

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^`]*?)\s*$/;
const DECLARE_START = /^\s*<!--\s*declare:/;

export function extractBlocks(markdown: string, file: string): Extracted {
  const lines = markdown.split(/\r?\n/);
  const blocks: CodeBlock[] = [];
  const problems: ExtractProblem[] = [];
  let pending: Declarations | undefined;

  for (let i = 0; i < lines.length; i++) {
    const text = lines[i] ?? '';
    const open = FENCE.exec(text);
    if (!open) {
      if (DECLARE_START.test(text)) {
        if (pending) problems.push(strayDeclarations(file, pending));
        const comment = readDeclarations(lines, i);
        if (!comment) {
          problems.push({ file, line: i + 1, message: '<!-- declare: comment is never closed with -->' });
          pending = undefined;
          continue;
        }
        pending = comment.declarations;
        i = comment.endIndex;
      } else if (text.trim() !== '' && pending) {
        problems.push(strayDeclarations(file, pending));
        pending = undefined;
      }
      continue;
    }

    const [, indent = '', marker = '', info = ''] = open;
    const close = findClose(lines, i + 1, marker);
    const body = lines.slice(i + 1, close).map((line) => dedent(line, indent.length));
    const fenceLine = i + 1;
    const declarations = pending;
    pending = undefined;
    i = close;

    const [language = '', ...words] = info.split(/\s+/);
    const family = LANGUAGES[language.toLowerCase()];
    if (!family) {
      if (declarations) {
        problems.push({ file, line: declarations.line, message: `<!-- declare: comment above a \`\`\`${info} block, which is not checked` });
      }
      continue;
    }
    if (close === lines.length) {
      problems.push({ file, line: fenceLine, message: `\`\`\`${info} block is never closed` });
      continue;
    }
    const unknown = words.filter((word) => !WORDS.has(word));
    if (unknown.length > 0) {
      problems.push({
        file,
        line: fenceLine,
        message: `unknown word${unknown.length > 1 ? 's' : ''} ${unknown.map((w) => `'${w}'`).join(', ')} in the info string \`\`\`${info} (known: ${[...WORDS].join(', ')})`,
      });
      continue;
    }
    const kind: BlockKind = words.includes('fragment') ? 'fragment' : 'run';
    if (declarations && kind === 'run') {
      problems.push({
        file,
        line: declarations.line,
        message: `<!-- declare: comment above a runnable \`\`\`${info} block: declarations are for \`\`\`${language} fragment blocks; a runnable block must work as pasted`,
      });
      continue;
    }
    const commonjs = words.includes('cjs') || language.toLowerCase() === 'cjs';
    const ext: BlockExt = family === 'ts' ? (commonjs ? '.cts' : '.ts') : commonjs ? '.cjs' : '.mjs';
    blocks.push({ file, line: fenceLine, info, kind, ext, code: body.join('\n'), ...(declarations ? { declarations } : {}) });
  }
  if (pending) problems.push(strayDeclarations(file, pending));
  return { blocks, problems };
}

function strayDeclarations(file: string, declarations: Declarations): ExtractProblem {
  return { file, line: declarations.line, message: '<!-- declare: comment is not directly above a code block' };
}

function findClose(lines: readonly string[], from: number, marker: string): number {
  const char = marker[0] ?? '`';
  for (let j = from; j < lines.length; j++) {
    const trimmed = (lines[j] ?? '').trim();
    if (trimmed.length >= marker.length && [...trimmed].every((c) => c === char)) return j;
  }
  return lines.length;
}

function dedent(line: string, width: number): string {
  let n = 0;
  while (n < width && line[n] === ' ') n++;
  return line.slice(n);
}

function readDeclarations(lines: readonly string[], start: number): { declarations: Declarations; endIndex: number } | undefined {
  const parts: string[] = [];
  for (let j = start; j < lines.length; j++) {
    let text = lines[j] ?? '';
    if (j === start) text = text.replace(DECLARE_START, '');
    const end = text.indexOf('-->');
    if (end >= 0) {
      parts.push(text.slice(0, end));
      return { declarations: { text: parts.join('\n'), line: start + 1 }, endIndex: j };
    }
    parts.push(text);
  }
  return undefined;
}
