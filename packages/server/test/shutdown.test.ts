import { isLifelineError } from '@lifeline/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createLifeline, requestContext, type LifelineOptions } from '../src/index.ts';
import { gate, rawConnection, send, startServer, waitFor } from './helpers.ts';

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

describe('Lifeline.shutdown()', () => {
  it('keeps serving, with connection: close, while readiness fails and deregistration runs', async () => {
    const deregistering = gate();
    const events: string[] = [];
    const options: LifelineOptions = {
      shedding: false,
      shutdown: {
        deregister: [
          async () => {
            events.push('deregister:fn');
            await deregistering.promise;
          },
          { deregister: () => void events.push('deregister:object') },
        ],
        close: [{ close: () => void events.push('close:object') }, () => events.push('close:fn')],
      },
    };
    const lifeline = createLifeline(options);
    const { server, url, close } = await startServer(lifeline.handler((_req, res) => res.end('ok')));
    lifeline.attach(server);
    stop = close;

    const shutdown = lifeline.shutdown();
    expect(lifeline.shutdown()).toBe(shutdown);
    expect(lifeline.state).toBe('stopping');
    const ready = await send(url, { path: '/health/ready' });
    expect([ready.status, JSON.parse(ready.body)]).toEqual([503, { status: 'fail', reason: 'shutting down' }]);
    expect((await send(url, { path: '/health/live' })).status).toBe(200);
    const served = await send(url);
    expect([served.status, served.headers.connection]).toEqual([200, 'close']);
    expect(events).toEqual(['deregister:fn', 'deregister:object']);

    deregistering.open();
    const report = await shutdown;
    expect(report).toMatchObject({ drained: true, abandoned: 0, failedHooks: 0 });
    expect(events).toEqual(['deregister:fn', 'deregister:object', 'close:object', 'close:fn']);
    expect(lifeline.state).toBe('stopped');
    expect(server.listening).toBe(false);
  });

  it('answers a request arriving on a kept-alive connection during the drain with 503 and connection: close', async () => {
    const lifeline = createLifeline({ shedding: false });
    const finish = gate();
    const { server, url, close } = await startServer(
      lifeline.handler(async (req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first ');
        await finish.promise;
        res.end(`done ${req.url}`);
      }),
    );
    lifeline.attach(server);
    stop = close;
    const conn = await rawConnection(url);
    conn.socket.write('GET /first HTTP/1.1\r\nhost: localhost\r\n\r\n');
    await waitFor(() => conn.received().includes('first '), 5_000, 'the first response to start');

    const shutdown = lifeline.shutdown();
    await waitFor(() => lifeline.state === 'draining', 5_000, 'draining');
    conn.socket.write('GET /second HTTP/1.1\r\nhost: localhost\r\n\r\n');
    await waitFor(() => lifeline.snapshot().refused.shuttingDown === 1, 5_000, 'the second request');
    finish.open();
    await conn.closed;

    const [first, second] = conn.received().split(/(?=HTTP\/1\.1 )/);
    expect(first).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(first).toContain('done /first');
    expect(second).toMatch(/^HTTP\/1\.1 503 Service Unavailable/);
    expect(second).toMatch(/\r\nconnection: close\r\n/i);
    expect(second).toContain('"code":"SHUTTING_DOWN"');
    expect((await shutdown).drained).toBe(true);
  });

  it('destroys connections still busy after drainMs, aborting their handlers', async () => {
    const lifeline = createLifeline({ shedding: false, shutdown: { drainMs: 150 } });
    let reason: unknown;
    const { server, url, close } = await startServer(
      lifeline.handler((req) => {
        const signal = requestContext(req)!.signal!;
        signal.addEventListener('abort', () => {
          reason = signal.reason;
        });
      }),
    );
    lifeline.attach(server);
    stop = close;
    const stuck = send(url, { path: '/forever' });
    await waitFor(() => lifeline.snapshot().requests.inFlight === 1, 5_000, 'the request');
    const report = await lifeline.shutdown();
    expect(report).toMatchObject({ drained: false, abandoned: 1 });
    await expect(stuck).rejects.toThrow();
    await waitFor(() => reason !== undefined, 5_000, 'the abort');
    expect(isLifelineError(reason, 'ABORTED')).toBe(true);
    expect(lifeline.snapshot().requests.inFlight).toBe(0);
  });

  it('counts hooks that fail or time out, and carries on', async () => {
    const warnings: string[] = [];
    const lifeline = createLifeline({
      logger: { info: () => undefined, warn: (_: object, message: string) => void warnings.push(message) },
      shutdown: {
        hookTimeoutMs: 100,
        deregister: [() => Promise.reject(new Error('etcd unreachable')), () => new Promise(() => undefined)],
        close: [
          () => {
            throw new Error('pool already closed');
          },
        ],
      },
    });
    const report = await lifeline.shutdown();
    expect(report).toMatchObject({ drained: true, failedHooks: 3 });
    expect(warnings.filter((message) => message.includes('hook failed'))).toHaveLength(3);
  });

  it('shuts down on a signal, exits 0, and exits 1 at once on a second signal', async () => {
    const exits: number[] = [];
    const closed = gate();
    const lifeline = createLifeline({ shutdown: { exit: (code) => void exits.push(code), close: [() => closed.promise] } });
    const handle = lifeline.installSignalHandlers(['SIGUSR2']);
    try {
      process.emit('SIGUSR2', 'SIGUSR2');
      await waitFor(() => lifeline.state === 'draining', 5_000, 'the shutdown');
      process.emit('SIGUSR2', 'SIGUSR2');
      expect(exits).toEqual([1]);
      closed.open();
      await waitFor(() => exits.length === 2, 5_000, 'the exit');
      expect(exits).toEqual([1, 0]);
    } finally {
      handle.dispose();
    }
    expect(process.listenerCount('SIGUSR2')).toBe(0);
  });
});
