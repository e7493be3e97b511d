import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMPANIONS } from './project.ts';
import type { Failure } from './report.ts';
import { ADOPTER_COMPILER_OPTIONS, typeCheck } from './typecheck.ts';

const CONTROL_PATH = 'control/companions.ts';

/**
 * With skipLibCheck off, a companion's own .d.ts can carry errors (ioredis 6's import an
 * untyped package) that a block importing it cannot avoid and Lifeline cannot fix. A
 * control program that imports only the companions, checked with the same settings, tells
 * them apart: an error in a third-party .d.ts that the control shows too is upstream's;
 * one it does not show was brought in by Lifeline's types or the docs, and stays a failure.
 */
export async function upstreamTypeErrors(projectDir: string, env: NodeJS.ProcessEnv): Promise<Failure[]> {
  const typed = COMPANIONS.filter((name) => !name.startsWith('@types/') && name !== 'typescript');
  mkdirSync(join(projectDir, 'control'), { recursive: true });
  writeFileSync(join(projectDir, CONTROL_PATH), typed.map((name, i) => `import type * as companion${i} from '${name}';\n`).join(''));
  const failures = await typeCheck(
    projectDir,
    { tsconfig: 'tsconfig.control.json', compilerOptions: ADOPTER_COMPILER_OPTIONS, blocks: [], extras: [{ path: CONTROL_PATH, group: 'control' }] },
    env,
  );
  return failures.filter((failure) => failure.where.startsWith('node_modules/'));
}

/** Splits failures into Lifeline's and upstream's: third-party .d.ts errors the control also shows. */
export function separateUpstream(failures: readonly Failure[], upstream: readonly Failure[]): { own: Failure[]; upstream: Failure[] } {
  const key = (failure: Failure) => `${failure.where}\0${failure.message}`;
  const known = new Set(upstream.map(key));
  const isUpstream = (failure: Failure) =>
    failure.where.startsWith('node_modules/') && !failure.where.startsWith('node_modules/@lifeline/') && known.has(key(failure));
  return { own: failures.filter((f) => !isUpstream(f)), upstream: failures.filter(isUpstream) };
}
