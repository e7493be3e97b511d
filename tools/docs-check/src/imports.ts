import { readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join } from 'node:path';
import { blockLabel, documentLine, type BlockFile } from './block-file.ts';
import type { Failure } from './report.ts';

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"]([^'"]+)['"]/g;

/** The packages a piece of code imports or requires (type-only imports included), by line. */
export function importedPackages(code: string): { name: string; line: number }[] {
  const found: { name: string; line: number }[] = [];
  for (const [index, text] of code.split('\n').entries()) {
    for (const match of text.matchAll(SPECIFIER)) {
      const specifier = match[1] ?? '';
      if (specifier.startsWith('.') || specifier.startsWith('/') || isBuiltin(specifier)) continue;
      const parts = specifier.split('/');
      const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
      found.push({ name, line: index + 1 });
    }
  }
  return found;
}

/**
 * Every package a block (or its declarations) imports must be a dependency of the fresh
 * project. One that is only there as some other package's dependency works by accident:
 * an adopter following the docs' install line would not have it.
 */
export function checkImports(projectDir: string, files: readonly BlockFile[]): Failure[] {
  const manifest = JSON.parse(readFileSync(join(projectDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const installed = new Set(Object.keys(manifest.dependencies ?? {}));
  const failures: Failure[] = [];
  for (const file of files) {
    const text = `${file.block.declarations ? `${file.block.declarations.text}\n` : ''}${file.block.code}`;
    for (const { name, line } of importedPackages(text)) {
      if (installed.has(name)) continue;
      const at = documentLine(file, line);
      failures.push({
        group: file.block.file,
        where: `${file.block.file}:${at.line}`,
        line: at.line,
        message: `${blockLabel(file.block)} imports ${name}, which the fresh project does not install (add it to the docs' install line and to COMPANIONS in tools/docs-check/src/project.ts)`,
        detail: `${at.line} | ${at.text}`,
      });
    }
  }
  return failures;
}
