import { STATUS_CODES } from 'node:http';

/** @internal A complete answer: status, headers and the body, ready to write. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** @internal An RFC 9457 problem answer, in the shape Lifeline's server writes. */
export function problemAnswer(status: number, code: string, title: string, detail: string, headers: Record<string, string> = {}): Answer {
  const body = JSON.stringify({ type: `urn:lifeline:problem:${code.toLowerCase().replaceAll('_', '-')}`, title, status, detail, code });
  return { status, headers: { 'content-type': 'application/problem+json', ...headers }, body };
}

/** @internal The answer of an `error` fault: its status, a `CHAOS` problem naming the rule, Retry-After when asked. */
export function faultAnswer(ruleId: string, status: number, retryAfterMs: number | undefined): Answer {
  const headers: Record<string, string> = retryAfterMs === undefined ? {} : { 'retry-after': String(Math.ceil(retryAfterMs / 1_000)) };
  return problemAnswer(status, 'CHAOS', STATUS_CODES[status] ?? 'Injected error', `injected by chaos rule ${ruleId}`, headers);
}

/** @internal A JSON answer. */
export function jsonAnswer(status: number, value: unknown, headers: Record<string, string> = {}): Answer {
  return { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }, body: JSON.stringify(value) };
}

/** @internal The 404 of a disabled admin endpoint: the same as for a path that does not exist. */
export const NOT_FOUND: Answer = {
  status: 404,
  headers: { 'content-type': 'application/problem+json' },
  body: JSON.stringify({ type: 'about:blank', title: 'Not Found', status: 404 }),
};
