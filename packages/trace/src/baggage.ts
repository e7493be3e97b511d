import { type Baggage, type BaggageEntry, baggageEntryMetadataFromString } from '@opentelemetry/api';
import { trimOws } from './headers.ts';

/** Most baggage list-members propagated (W3C Baggage limits). */
export const MAX_BAGGAGE_ENTRIES = 64;
/** Largest baggage header propagated, in bytes (W3C Baggage limits). */
export const MAX_BAGGAGE_BYTES = 8192;

/** RFC 9110 token: what a baggage key and a property key are. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** W3C Baggage `baggage-octet`s: printable ASCII except space, `"`, `,`, `;` and `\`. */
const BAGGAGE_OCTETS = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/;
/**
 * Characters a value is written with unencoded: those `encodeURIComponent` leaves alone, so
 * the header is byte for byte what OpenTelemetry's own propagators write.
 */
const UNRESERVED = /^[A-Za-z0-9\-_.!~*'()]*$/;
const HEX_DIGIT = /^[0-9A-Fa-f]$/;

function isHexDigit(char: string | undefined): boolean {
  return char !== undefined && HEX_DIGIT.test(char);
}

/**
 * Keeps list-members in order while they fit the W3C limits: at most {@link MAX_BAGGAGE_ENTRIES}
 * and {@link MAX_BAGGAGE_BYTES} bytes including the separating commas. `read` turns a member into
 * what is kept, or `undefined` to skip it (it then counts towards neither limit). Stops at the
 * first member that does not fit, so a prefix is kept and no member is ever cut.
 */
function withinLimits<T>(members: readonly string[], read: (member: string) => T | undefined): T[] {
  const kept: T[] = [];
  let bytes = 0;
  for (const member of members) {
    if (kept.length >= MAX_BAGGAGE_ENTRIES) break;
    if (member === '') continue;
    const item = read(member);
    if (item === undefined) continue;
    const size = Buffer.byteLength(member, 'utf8') + (kept.length === 0 ? 0 : 1);
    if (bytes + size > MAX_BAGGAGE_BYTES) break;
    kept.push(item);
    bytes += size;
  }
  return kept;
}

/**
 * Cuts a `baggage` header value to the W3C limits, {@link MAX_BAGGAGE_ENTRIES} list-members
 * and {@link MAX_BAGGAGE_BYTES} bytes, by whole entries: the longest prefix of list-members
 * that fits is kept, and no entry is ever cut. Empty members are dropped. Never throws.
 *
 * @example
 * truncateBaggage(Array.from({ length: 100 }, (_, i) => `k${i}=v`).join(',')); // the first 64 entries
 */
export function truncateBaggage(value: string): string {
  if (typeof value !== 'string') return '';
  return withinLimits(
    value.split(',').map((member) => member.trim()),
    (member) => member,
  ).join(',');
}

/** Decodes `%XX` octets as UTF-8; an octet sequence that is not UTF-8 becomes U+FFFD. */
function percentDecode(value: string): string {
  if (!value.includes('%')) return value;
  const bytes = Buffer.allocUnsafe(value.length);
  let length = 0;
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '%' && isHexDigit(value[i + 1]) && isHexDigit(value[i + 2])) {
      bytes[length++] = Number.parseInt(value.slice(i + 1, i + 3), 16);
      i += 2;
    } else {
      bytes[length++] = value.charCodeAt(i); // baggage-octets are ASCII
    }
  }
  return bytes.toString('utf8', 0, length);
}

/** Percent-encodes the UTF-8 of `value` (a lone surrogate is written as U+FFFD). */
function percentEncode(value: string): string {
  if (UNRESERVED.test(value)) return value;
  let encoded = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const char = String.fromCharCode(byte);
    encoded += byte < 0x80 && UNRESERVED.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return encoded;
}

/**
 * The properties after a member's first `;`, as `key` or `key=value` joined by `;` without
 * optional whitespace; `undefined` when one is malformed. Empty properties are skipped.
 */
function readProperties(text: string): string | undefined {
  const properties: string[] = [];
  for (const raw of text.split(';')) {
    const property = trimOws(raw);
    if (property === '') continue;
    const equals = property.indexOf('=');
    const key = equals === -1 ? property : trimOws(property.slice(0, equals));
    if (!TOKEN.test(key)) return undefined;
    if (equals === -1) {
      properties.push(key);
      continue;
    }
    const value = trimOws(property.slice(equals + 1));
    if (!BAGGAGE_OCTETS.test(value)) return undefined;
    properties.push(`${key}=${value}`);
  }
  return properties.join(';');
}

/**
 * One list-member, `key OWS = OWS value *(OWS ; OWS property)`, as its key and entry; the value
 * percent-decoded, the properties kept as the entry's metadata. `undefined` when malformed.
 */
function readMember(member: string): [string, BaggageEntry] | undefined {
  const semicolon = member.indexOf(';');
  const pair = semicolon === -1 ? member : member.slice(0, semicolon);
  const equals = pair.indexOf('=');
  if (equals === -1) return undefined;
  const key = trimOws(pair.slice(0, equals));
  const value = trimOws(pair.slice(equals + 1));
  if (!TOKEN.test(key) || !BAGGAGE_OCTETS.test(value)) return undefined;
  const entry: BaggageEntry = { value: percentDecode(value) };
  if (semicolon !== -1) {
    const properties = readProperties(member.slice(semicolon + 1));
    if (properties === undefined) return undefined;
    if (properties !== '') entry.metadata = baggageEntryMetadataFromString(properties);
  }
  return [key, entry];
}

/**
 * @internal Reads a `baggage` header value (repeated headers joined with `,`) into baggage
 * entries, following W3C Baggage: keys are tokens, values percent-decoded (invalid UTF-8 becomes
 * U+FFFD), properties kept as metadata. Malformed members are skipped; valid ones are kept while
 * they fit the W3C limits, by whole members. A repeated key keeps its last value. `undefined`
 * when no member is kept. Never throws.
 *
 * @example
 * parseBaggage('userId=alice,serverNode=DF%2028;ttl=60');
 * // { userId: { value: 'alice' }, serverNode: { value: 'DF 28', metadata: 'ttl=60' } }
 */
export function parseBaggage(header: string): Record<string, BaggageEntry> | undefined {
  if (typeof header !== 'string') return undefined;
  const members = withinLimits(header.split(',').map(trimOws), readMember);
  if (members.length === 0) return undefined;
  // No prototype: a `__proto__` key is an entry like any other.
  const entries = Object.create(null) as Record<string, BaggageEntry>;
  for (const [key, entry] of members) entries[key] = entry;
  return entries;
}

/** The entry's metadata as a normalised property list, `undefined` when absent or malformed. */
function metadataOf(entry: BaggageEntry): string | undefined {
  if (entry.metadata === undefined) return undefined;
  try {
    return readProperties(entry.metadata.toString());
  } catch {
    return undefined; // a metadata object whose toString throws
  }
}

/**
 * @internal Writes baggage as a `baggage` header value: `key=value;metadata`, values
 * percent-encoded, cut to the W3C limits by whole entries. An entry whose key is not a token is
 * left out, and metadata that is not a valid property list is left off its entry, so nothing
 * malformed (or a line break) reaches the wire. `''` when nothing is written. Never throws.
 *
 * @example
 * serializeBaggage(propagation.createBaggage({ serverNode: { value: 'DF 28' } })); // 'serverNode=DF%2028'
 */
export function serializeBaggage(baggage: Baggage): string {
  let all: [string, BaggageEntry][];
  try {
    all = baggage.getAllEntries();
  } catch {
    return ''; // another implementation of the api's Baggage that fails
  }
  const members: string[] = [];
  for (const [key, entry] of all) {
    if (typeof key !== 'string' || !TOKEN.test(key) || typeof entry?.value !== 'string') continue;
    let member = `${key}=${percentEncode(entry.value)}`;
    const properties = metadataOf(entry);
    if (properties !== undefined && properties !== '') member += `;${properties}`;
    members.push(member);
  }
  return withinLimits(members, (member) => member).join(',');
}
