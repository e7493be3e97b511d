import { checkOptionNames, optionNames } from '@lifeline/core';
import { ChaosConfigError } from './errors.ts';

/**
 * Added delay before the request is handled (server) or sent (client): a fixed `ms`, a
 * uniform draw in `[min, max]`, or a log-normal draw with that `median` and `p99` (a long
 * tail, as real latency has).
 */
export type LatencyFault =
  | { type: 'latency'; ms: number }
  | { type: 'latency'; min: number; max: number }
  | { type: 'latency'; median: number; p99: number };

/**
 * What happens to a request a rule picks:
 *
 * | type | server side | client side |
 * |---|---|---|
 * | `latency` | waits, then runs the handler | waits, then sends |
 * | `error` | answers `status` with a problem body; the handler never runs | the same response, synthesized; nothing is sent |
 * | `reset` | destroys the connection before the handler | fails with a `SocketError` (`UND_ERR_SOCKET`); nothing is sent |
 * | `hang` | never answers; the connection is destroyed after `hangMs` | never sends; ends only when the request is aborted |
 * | `lose-response` | the handler runs and ends its response, which never reaches the client | sends, reads the response, then fails with a `SocketError` |
 */
export type Fault =
  | LatencyFault
  | { type: 'error'; status: number; retryAfterMs?: number }
  | { type: 'reset' }
  | { type: 'hang' }
  | { type: 'lose-response' };

/** The fault types, in the order error messages list them. */
export const FAULT_TYPES = ['latency', 'error', 'reset', 'hang', 'lose-response'] as const;

/**
 * One fault injection rule: requests matching `method` and `path` get `fault`, `percent`
 * of the time.
 *
 * @example
 * const rule: ChaosRule = { method: 'POST', path: '/charges', percent: 20, fault: { type: 'lose-response' } };
 */
export interface ChaosRule {
  /** Assigned (`r1`, `r2`…) when missing; unique. Letters, digits, `.`, `_`, `-`. */
  id?: string;
  /** An HTTP method (`POST`), or `*` (the default) for any. */
  method?: string;
  /** `/charges` (exact), `/users/:id` (a `:param` matches one segment), `/admin/*` (`/admin` and below), or `*`. */
  path: string;
  /** Share of matching requests that get the fault, 0 to 100 (fractions allowed). */
  percent: number;
  fault: Fault;
}

const RULE_KEYS = optionNames<ChaosRule>({ id: true, method: true, path: true, percent: true, fault: true });
const LATENCY_KEYS = optionNames<{ type: 'latency'; ms: number; min: number; max: number; median: number; p99: number }>({
  type: true,
  ms: true,
  min: true,
  max: true,
  median: true,
  p99: true,
});
const ERROR_KEYS = optionNames<{ type: 'error'; status: number; retryAfterMs?: number }>({ type: true, status: true, retryAfterMs: true });
const TYPE_ONLY = optionNames<{ type: string }>({ type: true });

/** The longest delay a timer can wait (2^31 - 1 ms, about 24.8 days); Node fires longer ones at once. */
export const MAX_DELAY_MS = 2_147_483_647;

const ID = /^[A-Za-z0-9._-]{1,64}$/;
const METHOD = /^[A-Za-z]+$/;

/** @internal How a value is quoted in messages: strings in single quotes, objects by kind. */
export function show(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return value.toString();
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return 'undefined';
}

function fail(field: string, message: string): never {
  throw new ChaosConfigError(`${field}: ${message}`);
}

/** Refuses keys `allowed` does not list, with core's did-you-mean message (without its `lifeline: ` prefix). */
function checkKeys(field: string, value: object, allowed: readonly string[]): void {
  try {
    checkOptionNames(field, value, allowed);
  } catch (error) {
    throw new ChaosConfigError((error as Error).message.replace(/^lifeline: /, ''));
  }
}

function object(field: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(field, `must be an object, got ${show(value)}`);
  return value as Record<string, unknown>;
}

function number(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    fail(field, `must be a number from ${min} to ${max}, got ${show(value)}`);
  }
  return value;
}

function delay(field: string, value: unknown): number {
  return number(field, value, 0, MAX_DELAY_MS);
}

function parseLatency(field: string, input: Record<string, unknown>): LatencyFault {
  checkKeys(field, input, LATENCY_KEYS);
  const has = (key: string): boolean => input[key] !== undefined;
  const forms = [has('ms'), has('min') || has('max'), has('median') || has('p99')].filter(Boolean).length;
  if (forms !== 1) {
    fail(field, 'a latency fault needs exactly one of `ms`, `min` with `max`, or `median` with `p99`');
  }
  if (has('ms')) return { type: 'latency', ms: delay(`${field}.ms`, input.ms) };
  if (has('min') || has('max')) {
    const min = delay(`${field}.min`, input.min);
    const max = delay(`${field}.max`, input.max);
    if (max < min) fail(`${field}.max`, `must be >= min (${min}), got ${max}`);
    return { type: 'latency', min, max };
  }
  const median = delay(`${field}.median`, input.median);
  if (median === 0) fail(`${field}.median`, 'must be greater than 0, got 0');
  const p99 = delay(`${field}.p99`, input.p99);
  if (p99 < median) fail(`${field}.p99`, `must be >= median (${median}), got ${p99}`);
  return { type: 'latency', median, p99 };
}

/** @internal Validates one fault; the result holds only the known fields. */
export function parseFault(field: string, value: unknown): Fault {
  const input = object(field, value);
  const type = input.type;
  switch (type) {
    case 'latency':
      return parseLatency(field, input);
    case 'error': {
      checkKeys(field, input, ERROR_KEYS);
      const status = input.status;
      if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599) {
        fail(`${field}.status`, `must be an integer from 400 to 599, got ${show(status)}`);
      }
      if (input.retryAfterMs === undefined) return { type: 'error', status };
      return { type: 'error', status, retryAfterMs: delay(`${field}.retryAfterMs`, input.retryAfterMs) };
    }
    case 'reset':
    case 'hang':
    case 'lose-response':
      checkKeys(field, input, TYPE_ONLY);
      return { type };
    default:
      return fail(`${field}.type`, `must be one of ${FAULT_TYPES.join(', ')}, got ${show(type)}`);
  }
}

function parsePath(field: string, value: unknown): string {
  if (typeof value !== 'string') fail(field, `must be a string such as '/charges', '/users/:id', '/admin/*' or '*', got ${show(value)}`);
  if (value === '*') return value;
  if (!value.startsWith('/') || /[?#\s]/.test(value)) {
    fail(field, `must be '*' or a path starting with '/' (no query), got ${show(value)}`);
  }
  const segments = value.split('/');
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment.includes('*') && (segment !== '*' || i !== segments.length - 1)) {
      fail(field, `'*' may only be the whole last segment ('/admin/*'), got ${show(value)}`);
    }
    if (segment.startsWith(':') && segment.length === 1) fail(field, `a ':' segment needs a name ('/users/:id'), got ${show(value)}`);
  }
  return value;
}

/** @internal Validates one rule. `id` is left undefined when missing; the caller assigns it. */
export function parseRule(field: string, value: unknown): ChaosRule {
  const input = object(field, value);
  checkKeys(field, input, RULE_KEYS);
  const rule: ChaosRule = { path: '', percent: 0, fault: { type: 'reset' } };
  if (input.id !== undefined) {
    if (typeof input.id !== 'string' || !ID.test(input.id)) {
      fail(`${field}.id`, `must be 1 to 64 letters, digits, '.', '_' or '-', got ${show(input.id)}`);
    }
    rule.id = input.id;
  }
  const method = input.method ?? '*';
  if (typeof method !== 'string' || (method !== '*' && !METHOD.test(method))) {
    fail(`${field}.method`, `must be an HTTP method such as 'POST', or '*', got ${show(method)}`);
  }
  rule.method = method.toUpperCase();
  if (input.path === undefined) fail(`${field}.path`, 'is required');
  rule.path = parsePath(`${field}.path`, input.path);
  if (input.percent === undefined) fail(`${field}.percent`, 'is required');
  rule.percent = number(`${field}.percent`, input.percent, 0, 100);
  if (input.fault === undefined) fail(`${field}.fault`, 'is required');
  rule.fault = parseFault(`${field}.fault`, input.fault);
  return rule;
}

/** @internal The next `rN` id not in `taken`, counting up from `after`. */
export function nextId(taken: ReadonlySet<string>, after: number): { id: string; n: number } {
  let n = after;
  let id: string;
  do id = `r${++n}`;
  while (taken.has(id));
  return { id, n };
}

/**
 * Validates a list of rules, all of it before anything is used: the first problem throws a
 * {@link ChaosConfigError} naming the field (`rules[1].fault.type: must be one of latency,
 * error, reset, hang, lose-response, got 'boom'`); unknown keys are refused with the closest
 * allowed name. Returns copies with every id assigned (`r1`, `r2`… where missing) and
 * `method` upper-cased (`*` when missing).
 *
 * @example
 * const rules = parseRules(JSON.parse(await readFile('chaos.json', 'utf8')));
 * chaos.set(rules);
 */
export function parseRules(input: unknown): ChaosRule[] {
  if (!Array.isArray(input)) fail('rules', `must be an array, got ${show(input)}`);
  const rules = input.map((value, i) => parseRule(`rules[${i}]`, value));
  const taken = new Set<string>();
  rules.forEach((rule, i) => {
    if (rule.id === undefined) return;
    if (taken.has(rule.id)) fail(`rules[${i}].id`, `'${rule.id}' is used by an earlier rule`);
    taken.add(rule.id);
  });
  let n = 0;
  for (const rule of rules) {
    if (rule.id !== undefined) continue;
    const next = nextId(taken, n);
    rule.id = next.id;
    n = next.n;
    taken.add(next.id);
  }
  return rules;
}

/** @internal A deep copy of a validated rule. */
export function copyRule(rule: ChaosRule): ChaosRule {
  return { id: rule.id, method: rule.method, path: rule.path, percent: rule.percent, fault: { ...rule.fault } };
}

/**
 * A one-line label for a rule, as a dashboard shows it: `latency 3000 ms on POST /charges (100 %)`,
 * `error 503 on * /users/:id (25 %)`, `lose-response on POST /charges (50 %)`.
 *
 * @example
 * chaos.rules().map(describeRule); // ['latency 200..800 ms on GET /users/:id (10 %)']
 */
export function describeRule(rule: ChaosRule): string {
  const fault = rule.fault;
  let what: string;
  if (fault.type === 'latency') {
    if ('ms' in fault) what = `latency ${fault.ms} ms`;
    else if ('min' in fault) what = `latency ${fault.min}..${fault.max} ms`;
    else what = `latency median ${fault.median} ms, p99 ${fault.p99} ms`;
  } else if (fault.type === 'error') what = `error ${fault.status}`;
  else what = fault.type;
  return `${what} on ${rule.method ?? '*'} ${rule.path} (${rule.percent} %)`;
}
