import type { TraceState as OtelTraceState } from '@opentelemetry/api';
import { trimOws } from './headers.ts';

/** Most list-members a `tracestate` holds (W3C Trace Context). */
export const MAX_TRACE_STATE_MEMBERS = 32;
/** Longest `tracestate` written, in characters: the length every vendor must propagate. */
export const MAX_TRACE_STATE_LENGTH = 512;
/** List-members longer than this are the first ones dropped when a header must be shortened. */
const LARGE_MEMBER_LENGTH = 128;

/**
 * Level 2 key grammar: a lowercase letter or digit, then up to 255 of `a-z 0-9 _ - * / @`.
 * It replaces Level 1's `tenant@system` form (tenant up to 241, system up to 14 characters),
 * every key of which it still accepts; the W3C test suite checks keys such as `foo@`,
 * `a@b@c` and a 242-character tenant.
 */
const KEY = /^[a-z0-9][_0-9a-z\-*/@]{0,255}$/;
/** 1 to 256 printable ASCII characters except `,` and `=`, not ending with a space. */
const VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

type Member = readonly [key: string, value: string];

function isValidKey(key: unknown): key is string {
  return typeof key === 'string' && KEY.test(key);
}

function isValidValue(value: unknown): value is string {
  return typeof value === 'string' && VALUE.test(value);
}

/**
 * The list-members of a `tracestate` value, or `undefined` when the value as a whole must be
 * dropped: a member that is not `key=value` by the grammar, or more than 32 members. Empty and
 * whitespace-only members are allowed and skipped. A repeated key keeps its first (left-most,
 * most recently set) value: the specification lets a vendor discard duplicates, and its test
 * suite expects the rest of the header to be kept.
 */
function parseMembers(header: string): Member[] | undefined {
  const members: Member[] = [];
  let count = 0;
  for (const raw of header.split(',')) {
    const member = trimOws(raw);
    if (member === '') continue;
    if (++count > MAX_TRACE_STATE_MEMBERS) return undefined;
    const equals = member.indexOf('=');
    if (equals === -1) return undefined;
    const key = member.slice(0, equals);
    const value = member.slice(equals + 1);
    if (!isValidKey(key) || !isValidValue(value)) return undefined;
    if (!members.some(([seen]) => seen === key)) members.push([key, value]);
  }
  return members;
}

function memberLength([key, value]: Member): number {
  return key.length + 1 + value.length;
}

/**
 * Joins the members, shortened to {@link MAX_TRACE_STATE_LENGTH} by whole members as the
 * specification orders: members longer than 128 characters go first, right to left, then
 * members from the right end until the rest fits.
 */
function serializeMembers(members: readonly Member[]): string {
  let count = members.length;
  let chars = 0;
  for (const member of members) chars += memberLength(member);
  const length = (): number => chars + Math.max(count - 1, 0);
  if (length() <= MAX_TRACE_STATE_LENGTH) return members.map(([key, value]) => `${key}=${value}`).join(',');
  const kept: (Member | undefined)[] = [...members];
  for (let i = kept.length - 1; i >= 0 && length() > MAX_TRACE_STATE_LENGTH; i--) {
    const member = kept[i]!;
    if (memberLength(member) <= LARGE_MEMBER_LENGTH) continue;
    kept[i] = undefined;
    chars -= memberLength(member);
    count--;
  }
  for (let i = kept.length - 1; i >= 0 && length() > MAX_TRACE_STATE_LENGTH; i--) {
    const member = kept[i];
    if (member === undefined) continue;
    kept[i] = undefined;
    chars -= memberLength(member);
    count--;
  }
  return kept
    .filter((member): member is Member => member !== undefined)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

/**
 * An immutable W3C `tracestate`: the vendor entries that travel with a trace, implementing the
 * `TraceState` interface of `@opentelemetry/api`, so an SDK's spans carry it and samplers can
 * add to it. Follows W3C Trace Context Level 2: keys of 1 to 256 characters from
 * `a-z 0-9 _ - * / @` starting with a letter or digit; values of 1 to 256 printable ASCII
 * characters other than `,` and `=`, not ending with a space; at most 32 members. `set` puts
 * the key first (moving it if present) and drops the right-most member beyond 32; invalid keys
 * or values leave the state as it is. `serialize` writes at most 512 characters, dropping whole
 * members as the specification orders. No method throws.
 *
 * @example
 * const state = TraceState.parse('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
 * state?.set('congo', 'x').serialize(); // 'congo=x,rojo=00f067aa0ba902b7'
 */
export class TraceState implements OtelTraceState {
  #members: readonly Member[];
  #serialized: string | undefined;
  /** The value {@link TraceState.parse} read, while nothing has been set or unset since. */
  #received: string | undefined;

  /**
   * A state read from a `tracestate` value; empty when `header` is absent or invalid
   * (use {@link TraceState.parse} to tell an invalid header from an empty one).
   */
  constructor(header?: string) {
    this.#members = (typeof header === 'string' ? parseMembers(header) : undefined) ?? [];
  }

  /**
   * Reads a `tracestate` value (repeated headers joined with `,`): the state, or `undefined`
   * when the value must be dropped as a whole — any invalid list-member, or more than 32.
   * Never throws.
   *
   * @example
   * TraceState.parse('rojo=1,congo=2')?.get('congo'); // '2'
   * TraceState.parse('rojo=1,BAD KEY=2'); // undefined
   */
  static parse(header: string): TraceState | undefined {
    const members = typeof header === 'string' ? parseMembers(header) : undefined;
    if (members === undefined) return undefined;
    const state = TraceState.#of(members);
    state.#received = header;
    return state;
  }

  static #of(members: readonly Member[]): TraceState {
    const state = new TraceState();
    state.#members = members;
    return state;
  }

  /** Number of list-members, before any shortening by {@link TraceState.serialize}. */
  get size(): number {
    return this.#members.length;
  }

  /** The value of `key`, or `undefined`. */
  get(key: string): string | undefined {
    for (const [candidate, value] of this.#members) if (candidate === key) return value;
    return undefined;
  }

  /** A state with `key` set to `value` and moved to the front; `this` when either is invalid. */
  set(key: string, value: string): TraceState {
    if (!isValidKey(key) || !isValidValue(value)) return this;
    const members: Member[] = [[key, value]];
    for (const member of this.#members) {
      if (member[0] !== key && members.length < MAX_TRACE_STATE_MEMBERS) members.push(member);
    }
    return TraceState.#of(members);
  }

  /** A state without `key`; `this` when it has no such key. */
  unset(key: string): TraceState {
    if (this.get(key) === undefined) return this;
    return TraceState.#of(this.#members.filter(([candidate]) => candidate !== key));
  }

  /**
   * The `tracestate` header value, rebuilt: members without surrounding whitespace, empty ones
   * and repeated keys left out, at most 512 characters; `''` when empty.
   */
  serialize(): string {
    return (this.#serialized ??= serializeMembers(this.#members));
  }

  /**
   * @internal The value exactly as {@link TraceState.parse} read it, when nothing was set or
   * unset since; otherwise {@link TraceState.serialize}. What a `traceparent` passed on
   * unchanged must travel with: the specification forbids modifying `tracestate` then.
   */
  received(): string {
    return this.#received ?? this.serialize();
  }
}

/**
 * @internal The header value for any implementation of the api's `TraceState`: this package's
 * as it is, another one's re-read by the same rules (so nothing invalid, too long or with a
 * line break reaches the wire). `''` when there is nothing valid to write. Never throws.
 */
export function serializeTraceState(state: OtelTraceState | undefined): string {
  if (state === undefined || state === null) return '';
  if (state instanceof TraceState) return state.serialize();
  try {
    const serialized = state.serialize();
    return typeof serialized === 'string' ? (TraceState.parse(serialized)?.serialize() ?? '') : '';
  } catch {
    return '';
  }
}
