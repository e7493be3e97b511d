import { isSpanContextValid, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import type { HeaderRecord } from './headers.ts';
import { injectContext } from './propagation.ts';
import { startTrace } from './start-trace.ts';
import { RANDOM_TRACE_ID_FLAG } from './traceparent.ts';

describe('startTrace', () => {
  it('carries a new local trace: random ids, the random flag, not sampled', () => {
    const spanContext = trace.getSpanContext(startTrace())!;
    expect(isSpanContextValid(spanContext)).toBe(true);
    expect(spanContext.isRemote).toBe(false);
    expect(spanContext.traceFlags).toBe(RANDOM_TRACE_ID_FLAG);
    const headers: HeaderRecord = {};
    injectContext(startTrace(), headers);
    expect(headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-02$/);
  });

  it('starts a different trace each time', () => {
    const ids = new Set(Array.from({ length: 1_000 }, () => trace.getSpanContext(startTrace())!.traceId));
    expect(ids.size).toBe(1_000);
  });

  it('derives from the base context: baggage and other values stay', () => {
    const key = Symbol('k');
    const base = propagation.setBaggage(ROOT_CONTEXT.setValue(key, 'kept'), propagation.createBaggage({ tenant: { value: 'acme' } }));
    const ctx = startTrace(base);
    expect(ctx.getValue(key)).toBe('kept');
    expect(propagation.getBaggage(ctx)?.getEntry('tenant')?.value).toBe('acme');
  });
});
