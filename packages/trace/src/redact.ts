const SENSITIVE_HEADERS: readonly (readonly [lower: string, canonical: string])[] = [
  ['authorization', 'Authorization'],
  ['proxy-authorization', 'Proxy-Authorization'],
  ['cookie', 'Cookie'],
  ['set-cookie', 'Set-Cookie'],
  ['idempotency-key', 'Idempotency-Key'],
];

const HEADER_CONTAINERS = ['headers', 'req.headers', 'res.headers', 'request.headers', 'response.headers'] as const;

function pathOf(container: string, name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? `${container}.${name}` : `${container}["${name}"]`;
}

/**
 * Paths for pino's `redact` option: the values of `Authorization`, `Proxy-Authorization`,
 * `Cookie`, `Set-Cookie` and `Idempotency-Key`, in lower case and canonical capitalisation,
 * under `headers`, `req.headers`, `res.headers`, `request.headers` and `response.headers`.
 *
 * @example
 * const logger = pino({ redact: { paths: [...REDACT_PATHS, 'body.password'], censor: '[redacted]' } });
 */
export const REDACT_PATHS: readonly string[] = Object.freeze(
  HEADER_CONTAINERS.flatMap((container) =>
    SENSITIVE_HEADERS.flatMap(([lower, canonical]) => [pathOf(container, lower), pathOf(container, canonical)]),
  ),
);

/**
 * Ready-made pino `redact` option: {@link REDACT_PATHS} replaced by `'[redacted]'`.
 *
 * @example
 * const logger = pino({ redact: redactOptions });
 */
export const redactOptions: { paths: string[]; censor: string } = {
  paths: [...REDACT_PATHS],
  censor: '[redacted]',
};
