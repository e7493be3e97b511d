// mitata micro-benchmarks of what W3C trace context costs per request and per outgoing
// attempt when no OpenTelemetry SDK is registered:
//
//   (a) one random id: this package's pooled draw against a CSPRNG call per id;
//   (b) per incoming request that brought no traceparent: startTrace();
//   (c) per outgoing attempt: OutgoingTraceHeaders.next(), against formatting the inbound
//       traceparent again (what was sent before every attempt had its own parent-id).
//
//   node --conditions=@lifeline/source packages/trace/bench/trace-ids.ts
import { randomBytes, randomUUID } from 'node:crypto';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { bench, do_not_optimize, group, run, summary } from 'mitata';
import { extractContext, injectContext, newSpanId, newTraceId, OutgoingTraceHeaders, startTrace } from '../src/index.ts';

const spanBytes = new Uint8Array(8);

group('(a) one random id', () => {
  summary(() => {
    bench('newSpanId() (pooled, 8 bytes → hex)', () => do_not_optimize(newSpanId())).baseline();
    bench('newTraceId() (pooled, 16 bytes → hex)', () => do_not_optimize(newTraceId()));
    bench("randomBytes(8).toString('hex')", () => do_not_optimize(randomBytes(8).toString('hex')));
    bench('crypto.getRandomValues(8 bytes) → hex', () =>
      do_not_optimize(Buffer.from(crypto.getRandomValues(spanBytes).buffer).toString('hex')),
    );
    bench('randomUUID()', () => do_not_optimize(randomUUID()));
  });
});

group('(b) a new trace for a request that brought none', () => {
  bench('startTrace()', () => do_not_optimize(startTrace(ROOT_CONTEXT)));
});

const inbound = extractContext({
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
});
const outgoing = new OutgoingTraceHeaders(inbound, { 'x-request-id': 'req-1' });

group('(c) the trace headers of one outgoing attempt', () => {
  summary(() => {
    bench('injectContext(inbound) (the inbound traceparent again)', () => {
      const headers: Record<string, string> = { 'x-request-id': 'req-1' };
      injectContext(inbound, headers);
      return do_not_optimize(headers);
    }).baseline();
    bench('OutgoingTraceHeaders.next() (a new parent-id)', () => do_not_optimize(outgoing.next()));
    bench('new OutgoingTraceHeaders(inbound) + next() (a call of one attempt)', () =>
      do_not_optimize(new OutgoingTraceHeaders(inbound, { 'x-request-id': 'req-1' }).next()),
    );
  });
});

await run();
