import { setTimeout as delay } from 'node:timers/promises';
import { Deadline } from '@lifeline/core';
import { context, ROOT_CONTEXT, trace, type Context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { describe, expect, it } from 'vitest';
import { extractContext } from './propagation.ts';
import { currentRequestContext, parentContext, runWithRequestContext, type RequestContext, type RequestWatcher } from './request-context.ts';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

function request(): RequestContext {
  return {
    requestId: 'req-1',
    deadline: Deadline.after(1_000),
    signal: undefined,
    attempt: 2,
    context: extractContext({ traceparent: TRACEPARENT }),
  };
}

describe('request context', () => {
  it('is undefined outside a request', () => {
    expect(currentRequestContext()).toBeUndefined();
    expect(parentContext()).toBe(context.active());
  });

  it('follows async work started inside the request', async () => {
    const req = request();
    const seen = await runWithRequestContext(req, async () => {
      await delay(1);
      return new Promise<RequestContext | undefined>((resolve) => setImmediate(() => resolve(currentRequestContext())));
    });
    expect(seen).toBe(req);
    expect(currentRequestContext()).toBeUndefined();
  });

  it('gives the inbound trace as the parent with no OpenTelemetry context manager registered', () => {
    const req = request();
    runWithRequestContext(req, () => {
      // No SDK in this test: the active OpenTelemetry context stays the root one.
      expect(context.active()).toBe(ROOT_CONTEXT);
      const parent = trace.getSpanContext(parentContext());
      expect(parent?.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
      expect(parent?.spanId).toBe('b7ad6b7169203331');
      expect(parent?.isRemote).toBe(true);
    });
  });

  it('nests: the inner request context wins and the outer comes back', () => {
    const outer = request();
    const inner = { ...request(), requestId: 'req-2' };
    runWithRequestContext(outer, () => {
      runWithRequestContext(inner, () => expect(currentRequestContext()?.requestId).toBe('req-2'));
      expect(currentRequestContext()?.requestId).toBe('req-1');
    });
  });

  it('hands over a request that can be watched as it is: a watcher registered inside is told of its cancellation', async () => {
    const watchers = new Set<RequestWatcher>();
    const req: RequestContext = {
      ...request(),
      watch: (watcher) => void watchers.add(watcher),
      unwatch: (watcher) => void watchers.delete(watcher),
    };
    const reasons: unknown[] = [];
    const watcher: RequestWatcher = { onRequestAbort: (reason) => reasons.push(reason) };
    await runWithRequestContext(req, async () => {
      await delay(1);
      expect(currentRequestContext()?.watch?.(watcher)).toBeUndefined();
    });
    const reason = new Error('gone');
    for (const w of watchers) w.onRequestAbort(reason);
    expect(reasons).toEqual([reason]);
    currentRequestContext()?.unwatch?.(watcher); // outside the request: nothing to unwatch through
    expect(watchers.size).toBe(1);
    runWithRequestContext(req, () => currentRequestContext()?.unwatch?.(watcher));
    expect(watchers.size).toBe(0);
  });

  it('passes arguments to fn and, with no context manager, never reads the request\'s context', () => {
    let reads = 0;
    const req = request();
    const lazy: RequestContext = {
      ...req,
      get context() {
        reads++;
        return req.context;
      },
    };
    expect(runWithRequestContext(lazy, (a: number, b: string) => `${currentRequestContext()?.requestId} ${a} ${b}`, 7, 'x')).toBe('req-1 7 x');
    expect(reads).toBe(0);
  });

  it('with a context manager registered, makes the request\'s context the active one (and notices the manager being replaced)', () => {
    const req = request();
    const first = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(first);
    try {
      runWithRequestContext(req, (expected: Context) => expect(context.active()).toBe(expected), req.context);
    } finally {
      context.disable();
      first.disable();
    }
    // Back to no manager: fn runs, and the active context is the root one again.
    runWithRequestContext(req, () => expect(context.active()).toBe(ROOT_CONTEXT));
    const second = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(second);
    try {
      runWithRequestContext(req, () => expect(trace.getSpanContext(context.active())?.spanId).toBe('b7ad6b7169203331'));
    } finally {
      context.disable();
      second.disable();
    }
  });
});
