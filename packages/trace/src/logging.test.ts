import { Writable } from 'node:stream';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { context, trace } from '@opentelemetry/api';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { extractContext } from './propagation.ts';
import { redactOptions } from './redact.ts';
import { logCorrelation, requestLogger } from './logging.ts';
import { runWithRequestContext } from './request-context.ts';
import { isLifelineRequest } from './undici-hook.ts';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';

function capture(): { logger: pino.Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const logger = pino({ mixin: logCorrelation, redact: redactOptions }, stream);
  return { logger, lines: () => chunks.join('').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>) };
}

function inbound(requestId = 'req-7') {
  return {
    requestId,
    deadline: undefined,
    signal: undefined,
    attempt: undefined,
    context: extractContext({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` }),
  };
}

describe('logCorrelation', () => {
  afterEach(() => {
    trace.disable();
    context.disable();
  });

  it('is empty outside any request and trace', () => {
    expect(logCorrelation()).toEqual({});
  });

  it('puts the inbound trace and the request id in every pino line with no SDK registered', async () => {
    const { logger, lines } = capture();
    await runWithRequestContext(inbound(), async () => {
      logger.info('first');
      await new Promise((resolve) => setTimeout(resolve, 1));
      logger.info({ headers: { authorization: 'Bearer secret', 'Idempotency-Key': 'k-1' } }, 'second');
    });
    logger.info('outside');
    const [first, second, outside] = lines();
    expect(first).toMatchObject({ trace_id: TRACE_ID, span_id: SPAN_ID, request_id: 'req-7', msg: 'first' });
    expect(second).toMatchObject({ trace_id: TRACE_ID, request_id: 'req-7' });
    expect(second!.headers).toEqual({ authorization: '[redacted]', 'Idempotency-Key': '[redacted]' });
    expect(outside).not.toHaveProperty('trace_id');
    expect(outside).not.toHaveProperty('request_id');
  });

  it('names the active span when an SDK records one', () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    const provider = new TracerProvider();
    trace.setGlobalTracerProvider(provider);
    const { logger, lines } = capture();
    runWithRequestContext(inbound(), () => {
      const span = trace.getTracer('test').startSpan('work');
      context.with(trace.setSpan(context.active(), span), () => logger.info('in span'));
      span.end();
      const [line] = lines();
      expect(line).toMatchObject({ trace_id: TRACE_ID, span_id: span.spanContext().spanId, request_id: 'req-7' });
      expect(span.spanContext().spanId).not.toBe(SPAN_ID);
    });
  });

  it('binds the fields once with requestLogger', () => {
    const { logger, lines } = capture();
    const child = runWithRequestContext(inbound('req-9'), () => requestLogger(logger));
    child.info('later, outside the request');
    expect(lines()[0]).toMatchObject({ request_id: 'req-9', trace_id: TRACE_ID });
  });
});

describe('isLifelineRequest', () => {
  it('recognises the attempt header in every form undici reports headers', () => {
    expect(isLifelineRequest({ headers: ['host', 'a', 'X-Request-Attempt', '1'] })).toBe(true);
    expect(isLifelineRequest({ headers: 'host: a\r\nx-request-attempt: 2\r\n' })).toBe(true);
    expect(isLifelineRequest({ headers: ['host', 'a', 'x-request-id', 'r'] })).toBe(false);
    expect(isLifelineRequest({ headers: 'host: a\r\n' })).toBe(false);
    expect(isLifelineRequest({})).toBe(false);
    expect(isLifelineRequest(undefined)).toBe(false);
    expect(isLifelineRequest({ headers: [1, 2] as unknown as string[] })).toBe(false);
  });
});
