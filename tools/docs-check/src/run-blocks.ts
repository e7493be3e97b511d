import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { blockLabel, documentLine, type BlockFile } from './block-file.ts';
import { describeEnd, describeOutput, exec } from './exec.ts';
import type { Failure } from './report.ts';

export const RUN_TIMEOUT_MS = 30_000;

/**
 * Runs each runnable block with this Node (a .ts block on its type stripping), in the
 * project directory so it imports the installed tarballs; it must exit 0 within the
 * bound. One at a time: examples may listen on the same fixed port.
 */
export async function runBlocks(
  projectDir: string,
  files: readonly BlockFile[],
  env: NodeJS.ProcessEnv,
  timeoutMs = RUN_TIMEOUT_MS,
): Promise<Failure[]> {
  const failures: Failure[] = [];
  for (const file of files) {
    if (file.block.kind !== 'run') continue;
    const result = await exec(process.execPath, [file.path], { cwd: projectDir, env, timeoutMs });
    if (result.code === 0 && !result.timedOut) continue;
    const { block } = file;
    failures.push({
      group: block.file,
      where: `${block.file}:${block.line}`,
      line: block.line,
      message: `${blockLabel(block)} ${describeEnd(result, timeoutMs)} (run as ${file.path})`,
      detail: toDocumentLines(describeOutput(result), projectDir, file),
    });
  }
  return failures;
}

/** Stack frames `…/blocks/README-L7.ts:3:9` rewritten to the document's line, `README.md:10:9`. */
function toDocumentLines(output: string, projectDir: string, file: BlockFile): string {
  const absolute = join(projectDir, file.path);
  const names = [pathToFileURL(absolute).href, absolute, file.path].map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const frame = new RegExp(`(?:${names.join('|')}):(\\d+)`, 'g');
  return output.replace(frame, (_, line: string) => `${file.block.file}:${documentLine(file, Number(line)).line}`);
}
