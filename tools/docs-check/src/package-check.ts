import { readFileSync } from 'node:fs';
import type { PackedPackage } from './pack.ts';
import type { Failure } from './report.ts';
import { readTarball } from './tar.ts';

interface Manifest {
  name?: string;
  license?: string;
  repository?: unknown;
  homepage?: string;
  bugs?: unknown;
  engines?: { node?: string };
  main?: string;
  types?: string;
  exports?: unknown;
}

const REQUIRED_FIELDS = ['license', 'repository', 'homepage', 'bugs'] as const;

/**
 * What an adopter's npm and the package page see in each tarball: a LICENSE, the fields a
 * registry page links from, one Node floor across the packages, no `workspace:` range left
 * unresolved, every file the manifest points at present, and README links that still work
 * off GitHub.
 */
export function checkTarballs(packed: readonly PackedPackage[]): Failure[] {
  const failures: Failure[] = [];
  const engines = new Map<string, string[]>();

  for (const pkg of packed) {
    const where = `${pkg.name} tarball`;
    const fail = (message: string, detail?: string) =>
      failures.push({ group: 'tarballs', where, message, ...(detail ? { detail } : {}) });
    const files = readTarball(readFileSync(pkg.tarball));
    const manifestText = files.get('package.json')?.toString('utf8');
    if (manifestText === undefined) {
      fail('has no package.json');
      continue;
    }
    const manifest = JSON.parse(manifestText) as Manifest;

    if (![...files.keys()].some((path) => /^licen[cs]e(\.(md|txt))?$/i.test(path))) fail('has no LICENSE file');
    for (const field of REQUIRED_FIELDS) {
      const value = manifest[field];
      if (value === undefined || value === '' || value === null) fail(`package.json has no "${field}"`);
    }
    const node = manifest.engines?.node;
    if (!node) fail('package.json has no "engines": { "node" }');
    else engines.set(node, [...(engines.get(node) ?? []), pkg.name]);

    for (const [path, value] of stringsOf(manifest)) {
      if (value.startsWith('workspace:')) fail(`package.json ${path} is "${value}": a workspace: range left in the packed manifest`);
    }
    for (const [path, target] of manifestTargets(manifest)) {
      if (!files.has(target.replace(/^\.\//, ''))) fail(`package.json ${path} points at ${target}, which is not in the tarball (not built?)`);
    }

    const readme = files.get('README.md')?.toString('utf8');
    if (readme === undefined) fail('has no README.md');
    else {
      for (const link of relativeLinks(readme)) {
        fail(
          `README.md line ${link.line} links to "${link.target}", a relative link that breaks on the npm package page; use an absolute https:// URL`,
        );
      }
    }
  }

  if (engines.size > 1) {
    failures.push({
      group: 'tarballs',
      where: 'engines.node',
      message: 'differs between packages; one Node floor for all of them',
      detail: [...engines].map(([range, names]) => `${range}: ${names.join(', ')}`).join('\n'),
    });
  }
  return failures;
}

/** Every string in a JSON value, with its path (`dependencies["@lifeline/core"]`). */
function* stringsOf(value: unknown, path = ''): Generator<[string, string]> {
  if (typeof value === 'string') yield [path, value];
  else if (Array.isArray(value)) for (const [i, item] of value.entries()) yield* stringsOf(item, `${path}[${i}]`);
  else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      yield* stringsOf(item, /^[\w$]+$/.test(key) ? `${path}${path ? '.' : ''}${key}` : `${path}[${JSON.stringify(key)}]`);
    }
  }
}

/** Files the manifest makes importable: main, types and every exports target (not patterns). */
function* manifestTargets(manifest: Manifest): Generator<[string, string]> {
  if (manifest.main) yield ['main', manifest.main];
  if (manifest.types) yield ['types', manifest.types];
  for (const [path, value] of stringsOf(manifest.exports, 'exports')) {
    if (value.startsWith('./') && !value.includes('*')) yield [path, value];
  }
}

/** Links of a Markdown document that are neither absolute URLs nor in-page anchors. */
export function relativeLinks(markdown: string): { line: number; target: string }[] {
  const found: { line: number; target: string }[] = [];
  let fence: string | undefined;
  for (const [index, raw] of markdown.split(/\r?\n/).entries()) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(raw)?.[1];
    if (fence) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length && raw.trim() === marker) fence = undefined;
      continue;
    }
    if (marker) {
      fence = marker;
      continue;
    }
    const text = raw.replace(/`[^`]*`/g, '');
    const targets = [
      ...[...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]),
      ...[...text.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/g)].map((m) => m[1]),
      ...[...text.matchAll(/\b(?:href|src)\s*=\s*["']([^"']+)["']/gi)].map((m) => m[1]),
    ];
    for (const target of targets) {
      if (target && !/^([a-z][a-z\d+.-]*:|#|\/\/)/i.test(target)) found.push({ line: index + 1, target });
    }
  }
  return found;
}
