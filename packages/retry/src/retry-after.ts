/**
 * `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date (§5.6.7).
 *
 * A header is input from the network, so parsing is strict and total: anything that is not
 * exactly one of the grammar's forms is `undefined`, and no input makes it throw. Dates are
 * built from their fields with UTC arithmetic rather than handed to `Date.parse`, which
 * reads the zone-less asctime form as *local* time and guesses two-digit years its own way.
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH = MONTHS.join('|');
const TIME = '([0-9]{2}):([0-9]{2}):([0-9]{2})';

// HTTP-date is case-sensitive (§5.6.7), and each form has exactly one spelling of its spaces.
/** IMF-fixdate, the one form senders must generate: `Sun, 06 Nov 1994 08:49:37 GMT`. */
const IMF_FIXDATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) (${MONTH}) ([0-9]{4}) ${TIME} GMT$`);
/** Obsolete RFC 850 form: `Sunday, 06-Nov-94 08:49:37 GMT`. */
const RFC850_DATE = new RegExp(
  `^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), ([0-9]{2})-(${MONTH})-([0-9]{2}) ${TIME} GMT$`,
);
/** Obsolete asctime form, implicitly UTC; a one-digit day is padded with a space: `Sun Nov  6 08:49:37 1994`. */
const ASCTIME_DATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (${MONTH}) ([0-9]{2}| [0-9]) ${TIME} ([0-9]{4})$`);

const DELAY_SECONDS = /^[0-9]+$/;
/** OWS (§5.6.3) is SP and HTAB only: a no-break space is not whitespace to HTTP. */
const OWS_AROUND = /^[ \t]+|[ \t]+$/g;

/**
 * How long a server asked the client to wait, in milliseconds from `nowEpochMs`, or
 * `undefined` when the value is absent or malformed. A date in the past means 0.
 *
 * Duplicate headers (an array) count only when they all agree. The result is finite but
 * not capped: callers must apply their own ceiling before sleeping, since `setTimeout`
 * treats anything above 2^31-1 ms as 1 ms.
 *
 * @example
 * parseRetryAfter('120'); // 120_000
 * parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.UTC(2015, 9, 21, 7, 27, 30)); // 30_000
 * parseRetryAfter(['5', '7']); // undefined: the server contradicted itself
 */
export function parseRetryAfter(
  value: string | string[] | undefined,
  nowEpochMs: number = Date.now(),
): number | undefined {
  const text = singleValue(value);
  if (text === undefined) return undefined;
  if (DELAY_SECONDS.test(text)) {
    const ms = Number(text) * 1000;
    // Hundreds of digits overflow to Infinity; that is a broken header, not a long wait.
    return Number.isFinite(ms) ? ms : undefined;
  }
  if (typeof nowEpochMs !== 'number' || !Number.isFinite(nowEpochMs)) return undefined;
  const at = parseHttpDate(text, nowEpochMs);
  return at === undefined ? undefined : Math.max(0, at - nowEpochMs);
}

/** The one trimmed value to parse, or undefined for absent, non-string or disagreeing input. */
function singleValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value.replace(OWS_AROUND, '');
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const first = singleValue(value[0]);
  if (first === undefined) return undefined;
  for (let i = 1; i < value.length; i++) {
    const item: unknown = value[i];
    if (typeof item !== 'string' || item.replace(OWS_AROUND, '') !== first) return undefined;
  }
  return first;
}

/** Epoch ms of an HTTP-date in any of its three forms, or undefined. */
function parseHttpDate(text: string, nowEpochMs: number): number | undefined {
  let m = IMF_FIXDATE.exec(text);
  if (m !== null) return utc(num(m[3]), m[2], num(m[1]), num(m[4]), num(m[5]), num(m[6]));
  m = RFC850_DATE.exec(text);
  if (m !== null) {
    const year = expandTwoDigitYear(num(m[3]), new Date(nowEpochMs).getUTCFullYear());
    return utc(year, m[2], num(m[1]), num(m[4]), num(m[5]), num(m[6]));
  }
  m = ASCTIME_DATE.exec(text);
  if (m !== null) return utc(num(m[6]), m[1], num(m[2]), num(m[3]), num(m[4]), num(m[5]));
  return undefined;
}

/**
 * RFC 9110 §5.6.7: a two-digit year that looks more than 50 years in the future is the most
 * recent past year with those digits. Symmetrically, one more than 50 years in the past is
 * taken as the next century's, so the rule keeps working past 2050.
 */
function expandTwoDigitYear(yy: number, currentYear: number): number {
  const year = currentYear - (currentYear % 100) + yy;
  if (year > currentYear + 50) return year - 100;
  if (year < currentYear - 50) return year + 100;
  return year;
}

function num(digits: string | undefined): number {
  // Only ever called on a capture of [0-9 ] the regex guaranteed; the fallback is for the type.
  return digits === undefined ? Number.NaN : Number(digits);
}

/** Epoch ms of a UTC calendar time, or undefined when a field is out of range (31 Feb, 25:00). */
function utc(
  year: number,
  monthName: string | undefined,
  day: number,
  hour: number,
  minute: number,
  second: number,
): number | undefined {
  const month = MONTHS.indexOf(monthName ?? '');
  // Second 60 is a leap second (§5.6.7); it lands on the next minute, as it does in POSIX time.
  if (month < 0 || day < 1 || hour > 23 || minute > 59 || second > 60) return undefined;
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0-99 to 1900-1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  // An impossible day (31 Feb) rolls over into the next month: reject it rather than guess.
  if (date.getUTCMonth() !== month) return undefined;
  date.setUTCHours(hour, minute, second, 0);
  const ms = date.getTime();
  return Number.isFinite(ms) ? ms : undefined;
}
