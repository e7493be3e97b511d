// Another process sharing a SqliteIdempotencyStore file.
// Usage: node --conditions=@lifeline/source sqlite-child.ts complete <file> <key>
//        node --conditions=@lifeline/source sqlite-child.ts race <file> <key> <count>
import { SqliteIdempotencyStore } from '../src/index.ts';

const [mode, path, key, count] = process.argv.slice(2);
const store = new SqliteIdempotencyStore({ path: path! });
const options = { lockMs: 60_000, ttlMs: 60_000 };
if (mode === 'complete') {
  const begun = await store.begin('child', key!, 'fp', options);
  if (begun.state !== 'started') throw new Error(`expected started, got ${begun.state}`);
  const body = new Uint8Array([0, 1, 2, 254, 255]);
  await store.complete('child', key!, begun.token, { status: 201, headers: { 'x-from': 'child' }, body }, options.ttlMs);
  process.stdout.write('completed\n');
} else {
  const results = await Promise.all(Array.from({ length: Number(count) }, () => store.begin('race', key!, 'fp', options)));
  process.stdout.write(`${results.filter((r) => r.state === 'started').length}\n`);
}
await store.close();
