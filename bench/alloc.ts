// Allocations and CPU per call of one variant, in a client-only loop (64 concurrent callers)
// against a loopback server in a child process.
//
//   node --expose-gc --max-semi-space-size=256 --min-semi-space-size=256 alloc.ts \
//        [--variant lifeline|undici|lifeline-fetch|undici-fetch] [--calls 200000] [--window 5000]
//
// bytes per call: the growth of the used heap over a window of calls in which no GC ran,
// median over up to 7 windows (a window that saw a GC is dropped). Add --cpu-prof to the
// node flags to profile the same loop.
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { PerformanceObserver } from 'node:perf_hooks';

const { values } = parseArgs({
  options: {
    variant: { type: 'string', default: 'lifeline' },
    calls: { type: 'string', default: '200000' },
    server: { type: 'boolean', default: false },
    window: { type: 'string', default: '5000' },
  },
});

if (values.server) {
  const body = Buffer.from('ok');
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    process.send!(address.port);
  });
  process.on('disconnect', () => process.exit(0));
} else {
  const child = fork(new URL(import.meta.url).pathname, ['--server'], { execArgv: [], stdio: 'inherit' });
  const port = await new Promise<number>((resolve) => child.once('message', (m) => resolve(m as number)));
  const origin = `http://127.0.0.1:${port}`;
  const { Pool, fetch } = await import('undici');
  const { createClient, createDispatcher } = await import('@lifeline/client');
  let one: () => Promise<unknown>;
  let close: () => Promise<unknown>;
  switch (values.variant) {
    case 'undici': {
      const pool = new Pool(origin, { connections: 64 });
      one = async () => (await pool.request({ path: '/', method: 'GET' })).body.text();
      close = () => pool.close();
      break;
    }
    case 'lifeline': {
      const client = createClient({ name: 'bench', baseUrl: origin, connections: 64 });
      one = async () => (await client.get('/')).body.text();
      close = () => client.close();
      break;
    }
    case 'undici-fetch': {
      const pool = new Pool(origin, { connections: 64 });
      one = async () => (await fetch(`${origin}/`, { dispatcher: pool })).text();
      close = () => pool.close();
      break;
    }
    case 'lifeline-fetch': {
      const dispatcher = createDispatcher({ name: 'bench', baseUrl: origin, connections: 64 });
      one = async () => (await fetch(`${origin}/`, { dispatcher })).text();
      close = () => dispatcher.close();
      break;
    }
    default:
      throw new Error(`unknown variant ${values.variant}`);
  }
  const calls = Number(values.calls);
  async function run(n: number): Promise<void> {
    let left = n;
    const worker = async (): Promise<void> => {
      while (left-- > 0) await one();
    };
    await Promise.all(Array.from({ length: 64 }, worker));
  }
  await run(20_000); // warm-up
  // Bytes allocated per call: the growth of the used heap over a window of calls in which no
  // GC ran (the young generation is made large by the flags below, and a window that saw a
  // scavenge is discarded), median over windows. CPU and scavenges over the whole run.
  const { getHeapStatistics } = await import('node:v8');
  let gcs = 0;
  const obs = new PerformanceObserver((list) => {
    gcs += list.getEntries().length;
  });
  obs.observe({ entryTypes: ['gc'] });
  const windows: number[] = [];
  const window = Number(values.window);
  for (let i = 0; i < 15 && windows.length < 7; i++) {
    globalThis.gc!();
    await new Promise((r) => setTimeout(r, 20));
    const g0 = gcs;
    const before = getHeapStatistics().used_heap_size;
    await run(window);
    const after = getHeapStatistics().used_heap_size;
    await new Promise((r) => setTimeout(r, 20));
    if (gcs === g0) windows.push((after - before) / window);
  }
  windows.sort((a, b) => a - b);
  obs.disconnect();
  const t0 = process.cpuUsage();
  const start = performance.now();
  await run(calls);
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(t0);
  console.log(JSON.stringify({
    variant: values.variant,
    bytesPerCall: windows.length === 0 ? null : Math.round(windows[windows.length >> 1]!),
    bytesPerCallRange: windows.length === 0 ? null : [Math.round(windows[0]!), Math.round(windows.at(-1)!)],
    windows: windows.length,
    cpuUsPerCall: +((cpu.user + cpu.system) / calls).toFixed(2),
    reqPerS: Math.round(calls / (ms / 1000)),
  }));
  await close();
  child.disconnect();
}
