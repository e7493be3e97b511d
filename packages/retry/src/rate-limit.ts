/**
 * The IETF `RateLimit` and `RateLimit-Policy` fields (draft-ietf-httpapi-ratelimit-headers
 * -08 and later), plus the draft-07 `RateLimit` dictionary still sent by many servers.
 *
 * Both fields are Structured Fields (RFC 9651). The small parser below covers the whole
 * List and Dictionary grammar, including types these fields never use, because the RFC
 * makes validity a property of the whole field: one malformed member anywhere means the
 * field is ignored, and the draft repeats that malformed fields MUST be ignored. So any
 * syntax error yields `[]`; a well-formed member with wrong-typed or out-of-range values
 * is skipped on its own. Nothing here throws, whatever the input.
 */

/** One `RateLimit-Policy` member: a quota the server enforces. */
export interface RateLimitPolicy {
  name: string;
  /** `q`: the quota, in quota units, allocated per window. */
  quota?: number;
  /** `w`: the window the quota applies to, in seconds (0 is accepted: draft-08 allowed it, -11 does not). */
  windowSeconds?: number;
  /** `qu`: what the quota counts (`"requests"` when absent, or `"content-bytes"`, ...). */
  quotaUnit?: string;
  /** `pk`: the partition the quota is allocated to, as the base64 text the server sent. */
  partitionKey?: string;
}

/** One `RateLimit` member: the quota left under a policy, as of this response. */
export interface RateLimitState {
  /** The policy it reports on; absent for the draft-07 dictionary form. */
  name?: string;
  /** `r` (draft-07: `remaining`): quota units still available. */
  remaining: number;
  /** `t` (draft-07: `reset`): seconds within which no more than `remaining` may be used. */
  resetSeconds?: number;
  /** `pk`: the partition, as the base64 text the server sent. */
  partitionKey?: string;
}

/**
 * The members of a `RateLimit-Policy` field. Duplicate header lines are combined, as
 * Structured Fields lists are. Malformed fields give `[]`.
 *
 * @example
 * parseRateLimitPolicy('"burst";q=100;w=60,"daily";q=1000;w=86400');
 * // [{ name: 'burst', quota: 100, windowSeconds: 60 }, { name: 'daily', quota: 1000, windowSeconds: 86400 }]
 */
export function parseRateLimitPolicy(value: string | string[] | undefined): RateLimitPolicy[] {
  const text = fieldValue(value);
  const members = text === undefined ? undefined : parseField(text, parseList);
  if (members === undefined) return [];
  const policies: RateLimitPolicy[] = [];
  for (const member of members) {
    if (member.type !== 'item') continue;
    const name = policyName(member.value);
    const { params } = member;
    const quota = nonNegativeInteger(params.get('q'));
    const windowSeconds = nonNegativeInteger(params.get('w'));
    const quotaUnit = params.get('qu');
    const partitionKey = params.get('pk');
    if (
      name === undefined ||
      quota === INVALID ||
      windowSeconds === INVALID ||
      (quotaUnit !== undefined && quotaUnit.type !== 'string') ||
      (partitionKey !== undefined && partitionKey.type !== 'binary')
    ) {
      continue;
    }
    const policy: RateLimitPolicy = { name };
    if (quota !== undefined) policy.quota = quota;
    if (windowSeconds !== undefined) policy.windowSeconds = windowSeconds;
    if (quotaUnit !== undefined) policy.quotaUnit = quotaUnit.value;
    if (partitionKey !== undefined) policy.partitionKey = partitionKey.value;
    policies.push(policy);
  }
  return policies;
}

/**
 * The members of a `RateLimit` field: `"name";r=..;t=..` items, or the draft-07
 * `limit=.., remaining=.., reset=..` dictionary (one state, without a name). Duplicate
 * header lines are combined. Malformed fields give `[]`.
 *
 * @example
 * parseRateLimit('"default";r=50;t=30'); // [{ name: 'default', remaining: 50, resetSeconds: 30 }]
 * parseRateLimit('limit=100, remaining=0, reset=10'); // [{ remaining: 0, resetSeconds: 10 }]
 */
export function parseRateLimit(value: string | string[] | undefined): RateLimitState[] {
  const text = fieldValue(value);
  if (text === undefined) return [];
  const members = parseField(text, parseList);
  // The two forms cannot be confused: any `key=value` member is a syntax error in a List,
  // and a quoted name is a syntax error in a Dictionary.
  if (members === undefined) return draft07State(parseField(text, parseDictionary));
  const states: RateLimitState[] = [];
  for (const member of members) {
    if (member.type !== 'item') continue;
    const name = policyName(member.value);
    const { params } = member;
    const remaining = nonNegativeInteger(params.get('r'));
    const resetSeconds = nonNegativeInteger(params.get('t'));
    const partitionKey = params.get('pk');
    if (
      name === undefined ||
      remaining === undefined ||
      remaining === INVALID ||
      resetSeconds === INVALID ||
      (partitionKey !== undefined && partitionKey.type !== 'binary')
    ) {
      continue;
    }
    const state: RateLimitState = { name, remaining };
    if (resetSeconds !== undefined) state.resetSeconds = resetSeconds;
    if (partitionKey !== undefined) state.partitionKey = partitionKey.value;
    states.push(state);
  }
  return states;
}

/**
 * How long to wait before the next request according to the `ratelimit` header: when a
 * policy has no quota left and says when that changes, the longest such wait in ms;
 * otherwise `undefined` (quota left, or no way to know).
 *
 * `ratelimit-policy` is not consulted: its window `w` is the policy's period, not when
 * quota returns (a sliding window can refill sooner), and the draft calls it informative.
 * `Retry-After`, when present, takes precedence over this (draft §7); that choice is the
 * caller's. Like `Retry-After`, the result is uncapped.
 *
 * @example
 * rateLimitWaitMs({ ratelimit: '"default";r=0;t=30' }); // 30_000
 * rateLimitWaitMs({ ratelimit: '"default";r=5;t=30' }); // undefined
 */
export function rateLimitWaitMs(headers: Record<string, string | string[] | undefined>): number | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined;
  let wait: number | undefined;
  for (const state of parseRateLimit(headers.ratelimit)) {
    if (state.remaining > 0 || state.resetSeconds === undefined) continue;
    const ms = state.resetSeconds * 1000;
    if (wait === undefined || ms > wait) wait = ms;
  }
  return wait;
}

// --- Interpretation -------------------------------------------------------------------

/** A parameter that is present but not a non-negative Integer: the member is skipped. */
const INVALID = Symbol('invalid');

function nonNegativeInteger(value: BareItem | undefined): number | undefined | typeof INVALID {
  if (value === undefined) return undefined;
  return value.type === 'integer' && value.value >= 0 ? value.value : INVALID;
}

/**
 * The drafts say a String; a Token is accepted too, because an interim editor's draft
 * allowed one (`burst;q=100`) and nothing else could be meant by it.
 */
function policyName(value: BareItem): string | undefined {
  return value.type === 'string' || value.type === 'token' ? value.value : undefined;
}

/** Draft-07: `limit` and `reset` are Integers when present; `remaining` is what we need. */
function draft07State(dict: Map<string, Member> | undefined): RateLimitState[] {
  if (dict === undefined) return [];
  const integer = (key: string): number | undefined | typeof INVALID => {
    const member = dict.get(key);
    if (member === undefined) return undefined;
    return member.type === 'item' ? nonNegativeInteger(member.value) : INVALID;
  };
  const limit = integer('limit');
  const remaining = integer('remaining');
  const resetSeconds = integer('reset');
  if (limit === INVALID || remaining === undefined || remaining === INVALID || resetSeconds === INVALID) return [];
  return resetSeconds === undefined ? [{ remaining }] : [{ remaining, resetSeconds }];
}

/**
 * Combines duplicate header lines the way RFC 9651 §4.2 does, with a comma. Empty lines add
 * no members, so they are dropped rather than turned into a stray comma.
 */
function fieldValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (!Array.isArray(value)) return undefined;
  const lines: string[] = [];
  for (const line of value as unknown[]) {
    if (typeof line !== 'string') return undefined;
    if (!/^[ \t]*$/.test(line)) lines.push(line);
  }
  return lines.join(', ');
}

// --- Structured Fields (RFC 9651 §4.2) -----------------------------------------------
// Each function consumes from `p.pos` and returns undefined on a syntax error, which the
// caller passes straight up: there is no recovery inside a field.

type BareItem =
  | { type: 'integer' | 'decimal' | 'date'; value: number }
  | { type: 'string' | 'token' | 'display'; value: string }
  /** The base64 text between the colons, validated but not decoded. */
  | { type: 'binary'; value: string }
  | { type: 'boolean'; value: boolean };
type Params = Map<string, BareItem>;
type Item = { type: 'item'; value: BareItem; params: Params };
type Member = Item | { type: 'inner-list'; items: Item[]; params: Params };

const utf8 = new TextDecoder('utf-8', { fatal: true });
const NON_ASCII = /[\u0080-\uffff]/;
const SP = /^ $/;
const OWS = /^[ \t]$/;
const DIGIT = /^[0-9]$/;
const ALPHA = /^[A-Za-z]$/;
const KEY_START = /^[a-z*]$/;
const KEY_CHAR = /^[a-z0-9_\-.*]$/;
/** tchar (RFC 9110 §5.6.2) plus ':' and '/'. */
const TOKEN_CHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z:/]$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const LOWER_HEX2 = /^[0-9a-f]{2}$/;

interface Parser {
  readonly s: string;
  pos: number;
}

function parseField<T>(text: string, parseTop: (p: Parser) => T | undefined): T | undefined {
  // Field values are ASCII (§4.2 step 1); anything else is a failure, not something to skip.
  if (NON_ASCII.test(text)) return undefined;
  const p: Parser = { s: text, pos: 0 };
  skip(p, SP);
  const result = parseTop(p);
  if (result === undefined) return undefined;
  skip(p, SP);
  return p.pos === p.s.length ? result : undefined;
}

function parseList(p: Parser): Member[] | undefined {
  const members: Member[] = [];
  while (p.pos < p.s.length) {
    const member = parseItemOrInnerList(p);
    if (member === undefined) return undefined;
    members.push(member);
    const next = afterMember(p);
    if (next !== 'more') return next === 'end' ? members : undefined;
  }
  return members;
}

function parseDictionary(p: Parser): Map<string, Member> | undefined {
  const dict = new Map<string, Member>();
  while (p.pos < p.s.length) {
    const key = parseKey(p);
    if (key === undefined) return undefined;
    let member: Member | undefined;
    if (p.s[p.pos] === '=') {
      p.pos++;
      member = parseItemOrInnerList(p);
    } else {
      // A bare key is Boolean true (with parameters).
      const params = parseParameters(p);
      member = params && { type: 'item', value: { type: 'boolean', value: true }, params };
    }
    if (member === undefined) return undefined;
    dict.set(key, member); // A repeated key overwrites, per §4.2.2.
    const next = afterMember(p);
    if (next !== 'more') return next === 'end' ? dict : undefined;
  }
  return dict;
}

/**
 * After a List or Dictionary member: OWS, then either the end of input or a comma, OWS
 * and another member. A trailing comma is an error.
 */
function afterMember(p: Parser): 'end' | 'more' | 'error' {
  skip(p, OWS);
  if (p.pos === p.s.length) return 'end';
  if (p.s[p.pos] !== ',') return 'error';
  p.pos++;
  skip(p, OWS);
  return p.pos === p.s.length ? 'error' : 'more';
}

function parseItemOrInnerList(p: Parser): Member | undefined {
  return p.s[p.pos] === '(' ? parseInnerList(p) : parseItem(p);
}

function parseInnerList(p: Parser): Member | undefined {
  p.pos++; // '('
  const items: Item[] = [];
  while (p.pos < p.s.length) {
    skip(p, SP);
    if (p.s[p.pos] === ')') {
      p.pos++;
      const params = parseParameters(p);
      return params && { type: 'inner-list', items, params };
    }
    const item = parseItem(p);
    if (item === undefined) return undefined;
    items.push(item);
    const next = p.s[p.pos];
    if (next !== ' ' && next !== ')') return undefined;
  }
  return undefined; // No closing parenthesis.
}

function parseItem(p: Parser): Item | undefined {
  const value = parseBareItem(p);
  if (value === undefined) return undefined;
  const params = parseParameters(p);
  return params && { type: 'item', value, params };
}

function parseParameters(p: Parser): Params | undefined {
  const params: Params = new Map();
  while (p.s[p.pos] === ';') {
    p.pos++;
    skip(p, SP);
    const key = parseKey(p);
    if (key === undefined) return undefined;
    let value: BareItem | undefined = { type: 'boolean', value: true };
    if (p.s[p.pos] === '=') {
      p.pos++;
      value = parseBareItem(p);
      if (value === undefined) return undefined;
    }
    params.set(key, value); // A repeated key overwrites, per §4.2.3.2.
  }
  return params;
}

function parseKey(p: Parser): string | undefined {
  const start = p.pos;
  if (!KEY_START.test(p.s[p.pos] ?? '')) return undefined;
  p.pos++;
  while (p.pos < p.s.length && KEY_CHAR.test(p.s[p.pos] ?? '')) p.pos++;
  return p.s.slice(start, p.pos);
}

function parseBareItem(p: Parser): BareItem | undefined {
  const c = p.s[p.pos] ?? '';
  if (c === '-' || DIGIT.test(c)) return parseNumber(p);
  if (c === '"') return parseString(p);
  if (c === '*' || ALPHA.test(c)) return parseToken(p);
  if (c === ':') return parseBinary(p);
  if (c === '?') return parseBoolean(p);
  if (c === '@') return parseDate(p);
  if (c === '%') return parseDisplayString(p);
  return undefined;
}

/** Integer (at most 15 digits) or Decimal (at most 12 + 3 digits), §4.2.4. */
function parseNumber(p: Parser): BareItem | undefined {
  const start = p.pos;
  if (p.s[p.pos] === '-') p.pos++;
  const intStart = p.pos;
  while (p.pos < p.s.length && DIGIT.test(p.s[p.pos] ?? '')) p.pos++;
  const intDigits = p.pos - intStart;
  if (intDigits === 0) return undefined;
  if (p.s[p.pos] !== '.') {
    if (intDigits > 15) return undefined;
    // `|| 0` turns -0 into 0, so "-0" compares and prints like the zero it is.
    return { type: 'integer', value: Number(p.s.slice(start, p.pos)) || 0 };
  }
  if (intDigits > 12) return undefined;
  p.pos++; // '.'
  const fracStart = p.pos;
  while (p.pos < p.s.length && DIGIT.test(p.s[p.pos] ?? '')) p.pos++;
  const fracDigits = p.pos - fracStart;
  if (fracDigits === 0 || fracDigits > 3) return undefined;
  return { type: 'decimal', value: Number(p.s.slice(start, p.pos)) || 0 };
}

/** Printable ASCII between double quotes; only `\"` and `\\` are escapes (§4.2.5). */
function parseString(p: Parser): BareItem | undefined {
  p.pos++; // '"'
  let value = '';
  while (p.pos < p.s.length) {
    const c = p.s[p.pos++] ?? '';
    if (c === '\\') {
      const escaped = p.s[p.pos++];
      if (escaped !== '"' && escaped !== '\\') return undefined;
      value += escaped;
    } else if (c === '"') {
      return { type: 'string', value };
    } else if (c < ' ' || c > '~') {
      return undefined;
    } else {
      value += c;
    }
  }
  return undefined; // Unterminated.
}

function parseToken(p: Parser): BareItem | undefined {
  const start = p.pos;
  p.pos++; // ALPHA or '*', checked by the caller
  while (p.pos < p.s.length && TOKEN_CHAR.test(p.s[p.pos] ?? '')) p.pos++;
  return { type: 'token', value: p.s.slice(start, p.pos) };
}

/**
 * `:base64:` (§4.2.7). Padding is optional, as the RFC advises parsers to allow, but when
 * present it must complete a 4-character group, and a lone trailing character (6 bits)
 * can never be valid base64.
 */
function parseBinary(p: Parser): BareItem | undefined {
  const end = p.s.indexOf(':', p.pos + 1);
  if (end < 0) return undefined;
  const b64 = p.s.slice(p.pos + 1, end);
  p.pos = end + 1;
  if (!BASE64.test(b64)) return undefined;
  if (b64.endsWith('=') ? b64.length % 4 !== 0 : b64.length % 4 === 1) return undefined;
  return { type: 'binary', value: b64 };
}

function parseBoolean(p: Parser): BareItem | undefined {
  const c = p.s[p.pos + 1];
  if (c !== '0' && c !== '1') return undefined;
  p.pos += 2;
  return { type: 'boolean', value: c === '1' };
}

/** `@` and an Integer of epoch seconds (RFC 9651 §4.2.9). */
function parseDate(p: Parser): BareItem | undefined {
  p.pos++; // '@'
  const n = parseNumber(p);
  return n?.type === 'integer' ? { type: 'date', value: n.value } : undefined;
}

/** `%"..."`: printable ASCII with `%xx` (lower-case hex) escapes of UTF-8 bytes (§4.2.10). */
function parseDisplayString(p: Parser): BareItem | undefined {
  if (p.s[p.pos + 1] !== '"') return undefined;
  p.pos += 2;
  const bytes: number[] = [];
  while (p.pos < p.s.length) {
    const c = p.s[p.pos++] ?? '';
    if (c < ' ' || c > '~') return undefined;
    if (c === '"') {
      try {
        return { type: 'display', value: utf8.decode(new Uint8Array(bytes)) };
      } catch {
        return undefined; // Not UTF-8: `fatal` makes the decoder throw instead of substituting.
      }
    }
    if (c === '%') {
      const hex = p.s.slice(p.pos, p.pos + 2);
      if (!LOWER_HEX2.test(hex)) return undefined;
      bytes.push(Number.parseInt(hex, 16));
      p.pos += 2;
    } else {
      bytes.push(c.charCodeAt(0));
    }
  }
  return undefined; // Unterminated.
}

function skip(p: Parser, chars: RegExp): void {
  while (p.pos < p.s.length && chars.test(p.s[p.pos] ?? '')) p.pos++;
}
