import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeEnd, describeOutput, exec } from './exec.ts';
import type { Failure } from './report.ts';
import type { ExtraFile, TypeCheckRun } from './typecheck.ts';

export const COMMONJS_GROUP = 'CommonJS consumer';
const DIR = 'commonjs';
const RUN_TIMEOUT_MS = 30_000;

// A CommonJS service's first lines: the ESM-only packages loaded with require() (Node
// >= 22.12 loads ESM synchronously when it has no top-level await).
const SCRIPT = `'use strict';
const assert = require('node:assert/strict');
const { createClient } = require('@lifeline/client');
const { createLifeline } = require('@lifeline/server');

assert.equal(typeof createLifeline, 'function');
const client = createClient({ name: 'commonjs', baseUrl: 'http://127.0.0.1:9' });
client.close().then(() => console.log('required @lifeline/client and @lifeline/server'));
`;

// The same from TypeScript compiled to CommonJS: ESM import syntax in a .cts, which the
// compiler turns into require() — it must accept importing the ESM-only packages.
const TYPESCRIPT = `import { createClient, type ClientOptions } from '@lifeline/client';
import { createLifeline } from '@lifeline/server';

const options: ClientOptions = { name: 'commonjs', baseUrl: 'http://127.0.0.1:9' };
const client = createClient(options);
void client.close();
export const start: typeof createLifeline = createLifeline;
`;

export const SCRIPT_PATH = `${DIR}/consumer.cjs`;
const TYPESCRIPT_PATH = `${DIR}/consumer.cts`;

/** Writes the CommonJS consumers; the .cjs joins the main type-check (checkJs). */
export function writeCommonJsConsumers(projectDir: string): ExtraFile[] {
  mkdirSync(join(projectDir, DIR), { recursive: true });
  writeFileSync(join(projectDir, SCRIPT_PATH), SCRIPT);
  writeFileSync(join(projectDir, TYPESCRIPT_PATH), TYPESCRIPT);
  return [{ path: SCRIPT_PATH, group: COMMONJS_GROUP }];
}

/**
 * The .cts consumer's own type-check: a TypeScript project that compiles to CommonJS
 * (module nodenext, strict, no verbatimModuleSyntax since it writes `import … from` for a
 * require()).
 */
export function commonJsTypeCheck(): TypeCheckRun {
  return {
    tsconfig: 'tsconfig.commonjs.json',
    compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2023', noEmit: true, skipLibCheck: false, types: ['node'] },
    blocks: [],
    extras: [{ path: TYPESCRIPT_PATH, group: COMMONJS_GROUP }],
  };
}

/** Runs the .cjs consumer with this Node: it must load both packages and exit 0. */
export async function runCommonJsConsumer(projectDir: string, env: NodeJS.ProcessEnv): Promise<Failure[]> {
  const result = await exec(process.execPath, [SCRIPT_PATH], { cwd: projectDir, env, timeoutMs: RUN_TIMEOUT_MS });
  if (result.code === 0 && result.stdout.includes('required @lifeline/client and @lifeline/server')) return [];
  return [
    {
      group: COMMONJS_GROUP,
      where: SCRIPT_PATH,
      message: `require('@lifeline/client') and require('@lifeline/server') from CommonJS: ${describeEnd(result, RUN_TIMEOUT_MS)}`,
      detail: `${SCRIPT}\n${describeOutput(result)}`,
    },
  ];
}
