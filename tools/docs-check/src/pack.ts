import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeEnd, describeOutput, exec } from './exec.ts';
import type { Failure } from './report.ts';

export interface PackedPackage {
  name: string;
  /** The package's folder in the repository, relative to the root (`packages/client`). */
  folder: string;
  /** Absolute path of the .tgz. */
  tarball: string;
}

const PACK_TIMEOUT_MS = 120_000;

/** The packages an adopter installs: every packages/* folder whose package.json is not private. */
export function publicPackages(root: string): { name: string; folder: string }[] {
  const found: { name: string; folder: string }[] = [];
  for (const entry of readdirSync(join(root, 'packages'), { withFileTypes: true })) {
    const manifest = join(root, 'packages', entry.name, 'package.json');
    if (!entry.isDirectory() || !existsSync(manifest)) continue;
    const json = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; private?: boolean };
    if (json.name && json.private !== true) found.push({ name: json.name, folder: `packages/${entry.name}` });
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Packs the public packages with `pnpm pack` (which rewrites `workspace:` ranges, as
 * publishing does) into `destination`. The packages must be built: what is packed is
 * what is on disk.
 */
export async function packPackages(
  root: string,
  destination: string,
  env: NodeJS.ProcessEnv,
): Promise<{ packed: PackedPackage[]; failures: Failure[] }> {
  const packages = publicPackages(root);
  const filters = packages.flatMap((pkg) => ['--filter', pkg.name]);
  const args = ['-r', ...filters, 'pack', '--pack-destination', destination, '--json'];
  const result = await exec('pnpm', args, { cwd: root, env, timeoutMs: PACK_TIMEOUT_MS });
  const fail = (message: string, detail?: string): { packed: PackedPackage[]; failures: Failure[] } => ({
    packed: [],
    failures: [{ group: 'pnpm pack', where: `pnpm ${args.join(' ')}`, message, ...(detail ? { detail } : {}) }],
  });
  if (result.code !== 0) return fail(describeEnd(result, PACK_TIMEOUT_MS), describeOutput(result));

  let listed: unknown;
  try {
    listed = JSON.parse(result.stdout);
  } catch {
    return fail('printed something other than JSON', describeOutput(result));
  }
  const entries = (Array.isArray(listed) ? listed : [listed]) as { name?: string; filename?: string }[];
  const packed: PackedPackage[] = [];
  const failures: Failure[] = [];
  for (const pkg of packages) {
    const entry = entries.find((e) => e.name === pkg.name);
    if (entry?.filename && existsSync(entry.filename)) {
      packed.push({ ...pkg, tarball: entry.filename });
    } else {
      failures.push({ group: 'pnpm pack', where: pkg.folder, message: `no tarball was written for ${pkg.name}` });
    }
  }
  return { packed, failures };
}
