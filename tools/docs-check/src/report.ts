import { sep } from 'node:path';
import { pathToFileURL } from 'node:url';

/** One thing that is wrong, found by any step of the check. */
export interface Failure {
  /** What the failure is grouped under in the report: a document or a step. */
  group: string;
  /** Where exactly: `docs/errors.md:42`, `@lifeline/client tarball`, `npm install`. */
  where: string;
  /** One line saying what is wrong. */
  message: string;
  /** Supporting text: the offending line, a program's output. */
  detail?: string;
  /** For ordering inside a group. */
  line?: number;
}

/**
 * The failures without repeats (two compiler runs report the same error of a shared .d.ts),
 * with the temporary project's path dropped from their text so paths read
 * `node_modules/@lifeline/…`.
 */
export function uniqueFailures(failures: readonly Failure[], projectDir: string): Failure[] {
  const seen = new Set<string>();
  const prefixes = [pathToFileURL(projectDir).href + '/', projectDir + sep];
  const shorten = (text: string) => prefixes.reduce((out, prefix) => out.replaceAll(prefix, ''), text);
  return failures.map((failure) => ({
    ...failure,
    message: shorten(failure.message),
    ...(failure.detail === undefined ? {} : { detail: shorten(failure.detail) }),
  })).filter((failure) => {
    const key = `${failure.group}\0${failure.where}\0${failure.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The failures grouped by document or step, each with where and what, details indented:
 * the steps first (packing, install, package types), then the documents by name.
 */
export function formatFailures(failures: readonly Failure[], mark = '✗', counted = 'failed'): string {
  const groups = new Map<string, Failure[]>();
  const ordered = [...failures].sort((a, b) => rank(a.group).localeCompare(rank(b.group)));
  for (const failure of ordered) {
    const list = groups.get(failure.group) ?? [];
    list.push(failure);
    groups.set(failure.group, list);
  }
  const out: string[] = [];
  for (const [group, list] of groups) {
    out.push('', `${group} (${list.length} ${counted})`);
    for (const failure of [...list].sort((a, b) => (a.line ?? 0) - (b.line ?? 0))) {
      out.push(`  ${mark} ${failure.where}: ${failure.message}`);
      if (failure.detail) out.push(indent(failure.detail, '      '));
    }
  }
  return out.join('\n');
}

function rank(group: string): string {
  if (!group.endsWith('.md')) return '0';
  return group === 'README.md' ? '1' : `2${group}`;
}

export function indent(text: string, prefix: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((line) => prefix + line)
    .join('\n');
}
