import { parseArgs } from 'node:util';
import { startDemo, summaryLine } from './demo.ts';

const usage = `usage:
  pnpm demo [--port 4000] [--rate 10] [--registry etcd://host:port]
      start user, order and two payment instances, drive traffic, serve the dashboard
  pnpm demo scenario <cascade|retry-storm|lost-response|dead-instance|metastable|all> [--short] [--out dir] [--rate n]
      run the scripted failures against a naive client, then Lifeline, and write the table
      (to apps/demo/results only for the full run of all; else to --out or a new temporary directory)`;

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'scenario') {
    const { runScenarioCommand } = await import('./scenario/index.ts');
    return runScenarioCommand(argv.slice(1));
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { port: { type: 'string', default: '4000' }, rate: { type: 'string', default: '10' }, registry: { type: 'string' }, help: { type: 'boolean' } },
      strict: true,
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  if (values.help === true) {
    console.log(usage);
    return 0;
  }
  const port = Number(values.port);
  const rate = Number(values.rate);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) return fail(`--port must be an integer from 0 to 65535, got ${values.port}`);
  if (!Number.isFinite(rate) || rate < 0 || rate > 500) return fail(`--rate must be a number from 0 to 500 (orders per second), got ${values.rate}`);
  if (values.registry !== undefined && !/^etcd:\/\/[^/\s]+\/?$/.test(values.registry)) return fail(`--registry must look like etcd://host:port, got ${values.registry}`);

  console.log('starting user-1, payment-1, payment-2, order-1 …');
  let demo;
  try {
    demo = await startDemo({ port, rate, registry: values.registry });
  } catch (error) {
    console.error(`demo: ${error instanceof Error ? error.message.split('\n')[0]! : String(error)}`);
    return 1;
  }
  const { stack } = demo;
  console.log(`
  dashboard      ${demo.url}
  order-1        ${stack.url('order-1')}   (POST /orders, GET /orders/:id)
  user-1         ${stack.url('user-1')}
  payment-1      ${stack.url('payment-1')}
  payment-2      ${stack.url('payment-2')}
  traffic        ${rate} orders/s

  Open the dashboard and break payment from it; Ctrl-C stops everything.
`);
  const timer = setInterval(() => console.log(summaryLine(demo.collector.state)), 2_000);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(timer);
  console.log('\nstopping …');
  await demo.stop();
  console.log('stopped.');
  return 0;
}

function fail(message: string): number {
  console.error(`${message}\n\n${usage}`);
  return 2;
}

process.exitCode = await main(process.argv.slice(2));
