/**
 * The IETF `RateLimit` and `RateLimit-Policy` fields (draft-ietf-httpapi-ratelimit-headers
 * -08 and later), plus the draft-07 `RateLimit` dictionary still sent by many servers.
 *
 * Both fields are Structured Fields (RFC 9651), parsed by `structured-headers`. The RFC makes
 * validity a property of the whole field: one malformed member anywhere means the field is
 * ignored, and the draft repeats that malformed fields MUST be ignored. So any syntax error
 * yields `[]`; a well-formed member with wrong-typed or out-of-range values is skipped on its
 * own. Nothing here throws, whatever the input.
 *
 * Two limits come from the library's data model and are accepted as they are:
 * - a Decimal with a zero fraction (`r=1.0`) reads as the Integer it equals, because both
 *   parse to a JavaScript number; a real fraction (`r=1.5`) is still refused;
 * - a Date (`@1659578233`) is only accepted as the last thing in the field (structured-headers
 *   2.1.0 reads a Date to the end of input), so a field carrying a Date extension parameter
 *   anywhere else is ignored. Neither field defines a Date.
 */
import { parseDictionary, parseList, Token, type DisplayString } from 'structured-headers';

/** One `RateLimit-Policy` member: a quota the server enforces. */
export interface RateLimitPolicy {
  name: string;
  /** `q`: the quota, in quota units, allocated per window. */
  quota?: number;
  /** `w`: the window the quota applies to, in seconds (0 is accepted: draft-08 allowed it, -11 does not). */
  windowSeconds?: number;
  /** `qu`: what the quota counts (`"requests"` when absent, or `"content-bytes"`, ...). */
  quotaUnit?: string;
  /**
   * `pk`: the partition the quota is allocated to: its bytes, base64-encoded (canonically, so
   * `:cHsdsRa894==:` and `:cHsdsRa89w==:`, the same bytes, give the same text).
   */
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
  /** `pk`: the partition's bytes, base64-encoded (canonically, as in {@link RateLimitPolicy}). */
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
  const members = text === undefined ? undefined : parseField<Member[]>(text, parseList);
  if (members === undefined) return [];
  const policies: RateLimitPolicy[] = [];
  for (const member of members) {
    if (isInnerList(member)) continue;
    const [bare, params] = member;
    const name = policyName(bare);
    const quota = nonNegativeInteger(params.get('q'));
    const windowSeconds = nonNegativeInteger(params.get('w'));
    const quotaUnit = params.get('qu');
    const partitionKey = base64(params.get('pk'));
    if (
      name === undefined ||
      quota === INVALID ||
      windowSeconds === INVALID ||
      (quotaUnit !== undefined && typeof quotaUnit !== 'string') ||
      partitionKey === INVALID
    ) {
      continue;
    }
    const policy: RateLimitPolicy = { name };
    if (quota !== undefined) policy.quota = quota;
    if (windowSeconds !== undefined) policy.windowSeconds = windowSeconds;
    if (quotaUnit !== undefined) policy.quotaUnit = quotaUnit;
    if (partitionKey !== undefined) policy.partitionKey = partitionKey;
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
  // The two forms cannot be confused: any `key=value` member is a syntax error in a List,
  // and a quoted name is a syntax error in a Dictionary. A field that starts `key=` is
  // read as a Dictionary at once, sparing the List parse its exception (~5 µs).
  const members = DICTIONARY_START.test(text) ? undefined : parseField<Member[]>(text, parseList);
  if (members === undefined) return draft07State(parseField<Map<string, Member>>(text, parseDictionary));
  const states: RateLimitState[] = [];
  for (const member of members) {
    if (isInnerList(member)) continue;
    const [bare, params] = member;
    const name = policyName(bare);
    const remaining = nonNegativeInteger(params.get('r'));
    const resetSeconds = nonNegativeInteger(params.get('t'));
    const partitionKey = base64(params.get('pk'));
    if (name === undefined || remaining === undefined || remaining === INVALID || resetSeconds === INVALID || partitionKey === INVALID) {
      continue;
    }
    const state: RateLimitState = { name, remaining };
    if (resetSeconds !== undefined) state.resetSeconds = resetSeconds;
    if (partitionKey !== undefined) state.partitionKey = partitionKey;
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

/**
 * What structured-headers' parsers return. Its declared types name `BufferSource`, a DOM
 * type outside this package's `lib`, so they are restated here, narrower: a parsed Byte
 * Sequence is always an ArrayBuffer.
 */
type Bare = string | number | boolean | Token | DisplayString | Date | ArrayBuffer;
type Params = Map<string, Bare>;
type Item = [Bare, Params];
type InnerList = [Item[], Params];
type Member = Item | InnerList;

function isInnerList(member: Member): member is InnerList {
  return Array.isArray(member[0]);
}

/** A parameter that is present but of the wrong type or range: the member is skipped. */
const INVALID = Symbol('invalid');

function nonNegativeInteger(value: Bare | undefined): number | undefined | typeof INVALID {
  if (value === undefined) return undefined;
  // `+ 0` turns -0 into 0, so "-0" compares and prints like the zero it is.
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value + 0 : INVALID;
}

/** A Byte Sequence parameter, as base64 text. */
function base64(value: Bare | undefined): string | undefined | typeof INVALID {
  if (value === undefined) return undefined;
  return value instanceof ArrayBuffer ? Buffer.from(value).toString('base64') : INVALID;
}

/**
 * The drafts say a String; a Token is accepted too, because an interim editor's draft
 * allowed one (`burst;q=100`) and nothing else could be meant by it.
 */
function policyName(value: Bare): string | undefined {
  if (typeof value === 'string') return value;
  return value instanceof Token ? value.toString() : undefined;
}

/** Draft-07: `limit` and `reset` are Integers when present; `remaining` is what we need. */
function draft07State(dict: Map<string, Member> | undefined): RateLimitState[] {
  if (dict === undefined) return [];
  const integer = (key: string): number | undefined | typeof INVALID => {
    const member = dict.get(key);
    if (member === undefined) return undefined;
    return isInnerList(member) ? INVALID : nonNegativeInteger(member[0]);
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

const NON_ASCII = /[^\x00-\x7f]/;

/** A Dictionary's first member, `key=`: never the start of a valid List. */
const DICTIONARY_START = /^ *[a-z*][a-z0-9_.*-]*=/;

/**
 * Parses a whole field; a syntax error anywhere gives `undefined` (the field is ignored).
 * Field values are ASCII (RFC 9651 §4.2 step 1): the library checks that inside Strings and
 * Tokens but would read other code points inside a Display String, so it is checked here first.
 */
function parseField<T extends Member[] | Map<string, Member>>(text: string, parse: (input: string) => unknown): T | undefined {
  if (NON_ASCII.test(text)) return undefined;
  try {
    return parse(text) as T;
  } catch {
    return undefined;
  }
}
