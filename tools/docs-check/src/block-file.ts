import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CodeBlock } from './extract.ts';

/** A code block written to its own module in the project, and how to map its lines back. */
export interface BlockFile {
  block: CodeBlock;
  /** Path relative to the project directory, `/`-separated (`blocks/docs-errors-L42.ts`). */
  path: string;
  /** Lines of prepended declarations, before the block's own first line. */
  declarationLines: number;
}

export const BLOCKS_DIR = 'blocks';

/**
 * Writes each block to `blocks/<document>-L<line><ext>`: a fragment's declarations first,
 * then the block as written. Each file is its own module (the tsconfig forces module
 * detection), so blocks never see each other's names.
 */
export function writeBlocks(projectDir: string, blocks: readonly CodeBlock[]): BlockFile[] {
  return blocks.map((block) => {
    const slug = block.file.replace(/\.md$/i, '').replace(/[^A-Za-z0-9]+/g, '-');
    const path = `${BLOCKS_DIR}/${slug}-L${block.line}${block.ext}`;
    const declarations = block.declarations ? `${block.declarations.text}\n` : '';
    const absolute = join(projectDir, path);
    mkdirSync(dirname(absolute), { recursive: true });
    writeFileSync(absolute, `${declarations}${block.code}\n`);
    return { block, path, declarationLines: block.declarations ? block.declarations.text.split('\n').length : 0 };
  });
}

/** The document line of a 1-based line of a block's file, and that line's text. */
export function documentLine(file: BlockFile, fileLine: number): { line: number; text: string } {
  const { block, declarationLines } = file;
  if (block.declarations && fileLine <= declarationLines) {
    const text = block.declarations.text.split('\n')[fileLine - 1] ?? '';
    return { line: block.declarations.line + fileLine - 1, text };
  }
  const codeLine = fileLine - declarationLines;
  return { line: block.line + codeLine, text: block.code.split('\n')[codeLine - 1] ?? '' };
}

/** How a block is named in reports: ```ts fragment (line 49). */
export function blockLabel(block: CodeBlock): string {
  return `\`\`\`${block.info} block at line ${block.line}`;
}
