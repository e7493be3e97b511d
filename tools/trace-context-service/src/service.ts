// The service the W3C Trace Context test suite (github.com/w3c/trace-context, test/) drives.
// The suite POSTs a JSON array of { url, arguments } with trace headers of its choosing; the
// service POSTs `arguments` to each `url` in turn through @lifeline/client, inside the
// request @lifeline/server is handling, and the suite reads the trace headers of those calls.
//
//   node --conditions=@lifeline/source tools/trace-context-service/src/service.ts [--port 5000] [--sdk]
//
// --sdk registers an OpenTelemetry SDK first (a TracerProvider recording every sampled span
// and exporting nowhere, with an AsyncLocalStorage context manager), so the same requests go
// through the SDK's spans instead of Lifeline's own non-recording trace context.
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { createClient, type LifelineClient } from '@lifeline/client';
import { createLifeline } from '@lifeline/server';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { TracerProvider } from '@opentelemetry/sdk-trace';

interface Action {
  url: string;
  arguments?: unknown;
}

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '5000' },
    host: { type: 'string', default: '127.0.0.1' },
    sdk: { type: 'boolean', default: false },
  },
});

if (values.sdk) {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new TracerProvider());
}

/** One client per origin the suite names (its harness listens on one). */
const clients = new Map<string, LifelineClient>();
function clientFor(origin: string): LifelineClient {
  let client = clients.get(origin);
  if (client === undefined) {
    client = createClient({ name: 'harness', baseUrl: origin, throwOnHttpError: false, timeout: 10_000 });
    clients.set(origin, client);
  }
  return client;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? null : (JSON.parse(text) as unknown);
}

function actions(body: unknown): Action[] {
  const list = Array.isArray(body) ? (body as unknown[]) : [body];
  return list.filter((item): item is Action => typeof item === 'object' && item !== null && typeof (item as Action).url === 'string');
}

const lifeline = createLifeline({ shedding: false });
const server = createServer(
  lifeline.handler(async (req, res) => {
    const results: { url: string; status: number }[] = [];
    for (const action of actions(await readJson(req))) {
      const target = new URL(action.url);
      const response = await clientFor(target.origin).post(target.pathname + target.search, { json: action.arguments ?? [] });
      await response.body.dump();
      results.push({ url: action.url, status: response.status });
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(results));
  }),
);
lifeline.attach(server);
lifeline.closeOnShutdown(() => Promise.all([...clients.values()].map((client) => client.close())));
lifeline.installSignalHandlers();

server.listen(Number(values.port), values.host);
await once(server, 'listening');
const { address, port } = server.address() as AddressInfo;
console.log(`trace-context-service (${values.sdk ? 'OpenTelemetry SDK registered' : 'no SDK'}) on http://${address}:${port}/test`);
