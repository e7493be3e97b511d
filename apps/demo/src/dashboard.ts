import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Collector } from './collector.ts';
import { applyFault, FaultError } from './faults.ts';
import type { Stack } from './stack.ts';
import type { TraceCollector } from './traces.ts';

const publicDir = fileURLToPath(new URL('../public/', import.meta.url));
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
const MAX_BODY = 8 * 1024 * 1024;

function problem(res: ServerResponse, status: number, code: string, detail: string): void {
  res.writeHead(status, { 'content-type': 'application/problem+json' });
  res.end(JSON.stringify({ type: `urn:lifeline:problem:${code.toLowerCase().replaceAll('_', '-')}`, title: code, status, detail, code }));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new FaultError(`the body is larger than ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * The dashboard's HTTP server: the page (`/`), its state (`/api/state`, and live on
 * `/events` as Server-Sent Events every `intervalMs`), the fault buttons (`POST /api/faults`),
 * and the OTLP/HTTP JSON receiver the services export their spans to (`POST /v1/traces`).
 */
export class Dashboard {
  readonly server: Server;
  readonly stack: Stack;
  readonly collector: Collector;
  readonly traces: TraceCollector;
  readonly #clients = new Set<ServerResponse>();
  readonly #timer: NodeJS.Timeout;
  #refreshing = false;

  constructor(stack: Stack, collector: Collector, traces: TraceCollector, intervalMs = 500) {
    this.stack = stack;
    this.collector = collector;
    this.traces = traces;
    this.server = createServer((req, res) => {
      this.#route(req, res).catch((error: unknown) => {
        if (!res.headersSent) problem(res, 500, 'INTERNAL', error instanceof Error ? error.message : String(error));
        else res.destroy();
      });
    });
    this.#timer = setInterval(() => void this.#tick(), intervalMs);
  }

  async listen(port: number, host = '127.0.0.1'): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, resolve);
    });
    const address = this.server.address() as { port: number };
    return `http://${host}:${address.port}`;
  }

  async #tick(): Promise<void> {
    if (this.#refreshing) return;
    this.#refreshing = true;
    try {
      const state = await this.collector.refresh();
      const event = `event: state\ndata: ${JSON.stringify(state)}\n\n`;
      for (const client of this.#clients) client.write(event);
    } finally {
      this.#refreshing = false;
    }
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method === 'POST' && path === '/v1/traces') {
      if (!(req.headers['content-type'] ?? '').includes('json')) {
        return problem(res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'send OTLP/HTTP as JSON (application/json)');
      }
      try {
        this.traces.ingest(JSON.parse((await readBody(req)).toString('utf8')));
      } catch (error) {
        return problem(res, 400, 'INVALID_OTLP', error instanceof Error ? error.message : String(error));
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end('{}');
    }
    if (req.method === 'POST' && path === '/api/faults') {
      let body: unknown;
      try {
        body = JSON.parse((await readBody(req)).toString('utf8'));
      } catch {
        return problem(res, 400, 'INVALID_FAULT', 'the body must be JSON, e.g. {"action":"slow-payment"}');
      }
      try {
        const text = await applyFault(this.stack, body);
        this.collector.note(text);
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ ok: true, text }));
      } catch (error) {
        if (error instanceof FaultError || error instanceof RangeError) return problem(res, 400, 'INVALID_FAULT', error.message);
        throw error;
      }
    }
    if (req.method !== 'GET') return problem(res, 405, 'METHOD_NOT_ALLOWED', `${req.method ?? ''} ${path} is not served`);
    if (path === '/api/state') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      return void res.end(JSON.stringify(this.collector.state));
    }
    if (path === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write(`retry: 1000\nevent: state\ndata: ${JSON.stringify(this.collector.state)}\n\n`);
      this.#clients.add(res);
      req.once('close', () => this.#clients.delete(res));
      return;
    }
    const file = path === '/' ? 'index.html' : path.slice(1);
    if (!/^[a-z0-9-]+\.(html|js|css)$/.test(file)) return problem(res, 404, 'NOT_FOUND', `no page ${path}`);
    try {
      const content = await readFile(join(publicDir, file));
      res.writeHead(200, { 'content-type': TYPES[extname(file)]!, 'cache-control': 'no-cache' });
      res.end(content);
    } catch {
      problem(res, 404, 'NOT_FOUND', `no page ${path}`);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    for (const client of this.#clients) client.end();
    this.#clients.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
