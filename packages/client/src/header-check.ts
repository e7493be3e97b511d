import { LifelineError } from '@lifeline/core';

// What undici refuses in a header (lib/core/util.js): a name that is not an RFC 9110 token,
// a value with a control character other than a tab, or a character above U+00FF.
/** @internal */
export const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** @internal */
export const BAD_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * @internal The first header of `headers` (in any form undici takes: a record, a flat
 * `[name, value, …]` array, or an iterable of pairs) that undici would refuse, as a
 * {@link LifelineError} `INVALID_HEADER` naming it (never quoting the value, which may be a
 * secret). `undefined` when every header is valid. Run only after undici refused a request,
 * so valid calls never pay for it.
 */
export function invalidHeaderError(headers: unknown, service: string, cause?: unknown): LifelineError | undefined {
  if (headers === null || typeof headers !== 'object') return undefined;
  let pairs: Iterable<readonly [unknown, unknown]>;
  if (Array.isArray(headers)) {
    const flat: [unknown, unknown][] = [];
    for (let i = 0; i + 1 < headers.length; i += 2) flat.push([headers[i], headers[i + 1]]);
    pairs = flat;
  } else if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    pairs = headers as Iterable<[unknown, unknown]>;
  } else {
    pairs = Object.entries(headers);
  }
  for (const [name, value] of pairs) {
    const key = String(name);
    if (!HEADER_NAME.test(key)) {
      return new LifelineError('INVALID_HEADER', `${service}: header name ${JSON.stringify(key)} is not a valid HTTP token; nothing was sent`, { service, cause });
    }
    const values: unknown[] = Array.isArray(value) ? value : [value];
    if (values.some((v) => typeof v === 'string' && BAD_HEADER_VALUE.test(v))) {
      return new LifelineError(
        'INVALID_HEADER',
        `${service}: header \`${key}\` has a CR, LF or NUL in its value (or another character a header cannot hold); nothing was sent`,
        { service, cause },
      );
    }
  }
  return undefined;
}

