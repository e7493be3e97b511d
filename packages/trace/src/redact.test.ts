import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { REDACT_PATHS, redactOptions } from './redact.ts';

function capture(): { lines: Record<string, unknown>[]; write: (line: string) => void } {
  const lines: Record<string, unknown>[] = [];
  return { lines, write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) };
}

describe('redact', () => {
  it('covers both spellings under req, res and bare headers', () => {
    expect(REDACT_PATHS).toContain('req.headers.authorization');
    expect(REDACT_PATHS).toContain('req.headers["idempotency-key"]');
    expect(REDACT_PATHS).toContain('res.headers["set-cookie"]');
    expect(REDACT_PATHS).toContain('headers.Authorization');
    expect(REDACT_PATHS).toContain('headers["Idempotency-Key"]');
    expect(redactOptions).toEqual({ paths: [...REDACT_PATHS], censor: '[redacted]' });
  });

  it('a real pino logger writes censored values and keeps the rest', () => {
    const stream = capture();
    const logger = pino({ redact: redactOptions }, stream);
    logger.info(
      {
        req: {
          headers: {
            authorization: 'Bearer secret',
            cookie: 'session=secret',
            'idempotency-key': '"key-1"',
            'proxy-authorization': 'Basic secret',
            host: 'api.example',
          },
        },
        res: { headers: { 'set-cookie': ['a=secret', 'b=secret'], 'content-type': 'text/plain' } },
        headers: { Authorization: 'Bearer secret', 'Idempotency-Key': 'key-2', Cookie: 'c=secret', 'Set-Cookie': 'd=secret' },
      },
      'request',
    );
    expect(stream.lines).toHaveLength(1);
    const line = stream.lines[0]!;
    expect(line.req).toEqual({
      headers: {
        authorization: '[redacted]',
        cookie: '[redacted]',
        'idempotency-key': '[redacted]',
        'proxy-authorization': '[redacted]',
        host: 'api.example',
      },
    });
    expect(line.res).toEqual({ headers: { 'set-cookie': '[redacted]', 'content-type': 'text/plain' } });
    expect(line.headers).toEqual({
      Authorization: '[redacted]',
      'Idempotency-Key': '[redacted]',
      Cookie: '[redacted]',
      'Set-Cookie': '[redacted]',
    });
    expect(JSON.stringify(line)).not.toContain('secret');
  });

  it('leaves log lines without these headers untouched', () => {
    const stream = capture();
    pino({ redact: redactOptions }, stream).info({ req: { method: 'GET' } }, 'ok');
    expect(stream.lines[0]).toMatchObject({ req: { method: 'GET' }, msg: 'ok' });
  });
});
