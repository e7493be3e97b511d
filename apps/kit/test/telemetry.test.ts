import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { trace } from '@opentelemetry/api';
import { afterAll, describe, expect, it } from 'vitest';
import { startTelemetry } from '../src/index.ts';

interface OtlpBody {
  resourceSpans: {
    resource: { attributes: { key: string; value: { stringValue?: string } }[] };
    scopeSpans: { spans: { name: string }[] }[];
  }[];
}

const received: { contentType: string | undefined; body: OtlpBody }[] = [];
const collector = createServer((req: IncomingMessage, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    received.push({ contentType: req.headers['content-type'], body: JSON.parse(Buffer.concat(chunks).toString()) as OtlpBody });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
afterAll(() => new Promise<void>((resolve) => collector.close(() => resolve())));

describe('startTelemetry', () => {
  it('exports spans over OTLP/HTTP JSON with the service name and instance (the 3.x SDK: BatchSpanProcessor takes its exporter in its options)', async () => {
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const { port } = collector.address() as AddressInfo;
    const telemetry = startTelemetry({ service: 'kit-test', instance: 'kit-test-1', otlpUrl: `http://127.0.0.1:${port}/v1/traces` });
    try {
      trace.getTracer('kit-test').startSpan('work').end();
      const deadline = Date.now() + 5_000;
      while (received.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await telemetry.shutdown();
    }
    expect(received).toHaveLength(1);
    const [{ contentType, body }] = received as [(typeof received)[number]];
    expect(contentType).toBe('application/json');
    const [resourceSpans] = body.resourceSpans;
    const attributes = Object.fromEntries(resourceSpans!.resource.attributes.map(({ key, value }) => [key, value.stringValue]));
    expect(attributes).toMatchObject({ 'service.name': 'kit-test', 'service.instance.id': 'kit-test-1' });
    expect(resourceSpans!.scopeSpans.flatMap((scope) => scope.spans.map((span) => span.name))).toEqual(['work']);
  });
});
