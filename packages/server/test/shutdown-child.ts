// A service that shuts down gracefully on SIGTERM, for the shutdown tests. It reports what
// it does on stdout, one line per event. Environment: DRAIN_MS (default 10 000),
// DEREGISTER_MS (how long deregistration takes, default 500).
// Usage: node --conditions=@lifeline/source shutdown-child.ts
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLifeline } from '../src/index.ts';

const log = (line: string): void => void process.stdout.write(`${line}\n`);

const lifeline = createLifeline({
  shutdown: {
    drainMs: Number(process.env.DRAIN_MS ?? 10_000),
    deregister: [
      {
        async deregister() {
          log('deregister:start');
          await sleep(Number(process.env.DEREGISTER_MS ?? 500));
          log('deregister:done');
        },
      },
    ],
    close: [() => log('close')],
    exit: (code) => {
      log(`exit:${code}`);
      process.exit(code);
    },
  },
});

const server = lifeline.attach(
  createServer(
    lifeline.handler(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname === '/slow') {
        log('slow:start');
        await sleep(Number(url.searchParams.get('ms') ?? 1_000));
      }
      res.end('ok');
    }),
  ),
);
lifeline.installSignalHandlers();
server.listen(0, '127.0.0.1', () => log(`listening:${(server.address() as AddressInfo).port}`));
