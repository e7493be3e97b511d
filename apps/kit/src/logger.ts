import { logCorrelation } from '@lifeline/trace';
import { pino, type Logger } from 'pino';

/**
 * The services' logger: JSON lines on stdout, with `service`, `instance`, and the
 * trace_id, span_id and request_id of the request being handled on every line.
 * Authorization, Cookie and Idempotency-Key values are redacted.
 */
export function createLogger(options: { service: string; instance: string; level?: string | undefined }): Logger {
  return pino({
    level: options.level ?? process.env['LOG_LEVEL'] ?? 'info',
    base: { service: options.service, instance: options.instance },
    mixin: logCorrelation,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["idempotency-key"]',
        'headers.authorization',
        'headers.cookie',
        'headers["idempotency-key"]',
      ],
      censor: '[redacted]',
    },
  });
}
