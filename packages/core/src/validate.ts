/**
 * Option validation shared by every package: bad configuration throws at construction,
 * with a message naming the option, the value and what is allowed.
 *
 * @internal Used by Lifeline packages; not a stable public API.
 */

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value !== null && typeof value === 'object') return 'an object';
  return String(value);
}

/** @internal A number in [min, max] (inclusive); `Infinity` only when `max` allows it. */
export function checkNumber(name: string, value: unknown, min: number, max = Infinity): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`lifeline: option \`${name}\` must be a number, got ${show(value)}`);
  }
  if (value < min || value > max) {
    const range = max === Infinity ? `>= ${min}` : `between ${min} and ${max}`;
    throw new RangeError(`lifeline: option \`${name}\` must be ${range}, got ${show(value)}`);
  }
  return value;
}

/** @internal A non-negative duration in ms; finite unless `allowInfinity`. */
export function checkDuration(name: string, value: unknown, allowInfinity = false): number {
  const ms = checkNumber(name, value, 0);
  if (!allowInfinity && ms === Infinity) {
    throw new RangeError(`lifeline: option \`${name}\` must be a finite number of milliseconds, got Infinity`);
  }
  return ms;
}

/** @internal A positive integer (>= min). */
export function checkInteger(name: string, value: unknown, min = 1, max = Infinity): number {
  const n = checkNumber(name, value, min, max);
  if (!Number.isInteger(n)) {
    throw new RangeError(`lifeline: option \`${name}\` must be an integer, got ${show(value)}`);
  }
  return n;
}

/** @internal A ratio in [0, 1]. */
export function checkRatio(name: string, value: unknown): number {
  return checkNumber(name, value, 0, 1);
}

/** @internal A function, or undefined when optional. */
export function checkFunction<F>(name: string, value: unknown): F {
  if (typeof value !== 'function') {
    throw new TypeError(`lifeline: option \`${name}\` must be a function, got ${show(value)}`);
  }
  return value as F;
}

/** @internal A non-empty string. */
export function checkString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`lifeline: option \`${name}\` must be a non-empty string, got ${show(value)}`);
  }
  return value;
}

/** @internal true or false, so `retryable: 'no'` fails loudly instead of reading as true. */
export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw new TypeError(`lifeline: option \`${name}\` must be true or false, got ${show(value)}`);
  }
  return value;
}

/** @internal A plain object (or undefined), so `options.retry = 3` fails loudly. */
export function checkObject(name: string, value: unknown): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`lifeline: option \`${name}\` must be an object, got ${show(value)}`);
  }
  return value as Record<string, unknown>;
}

/** @internal One of the allowed values. */
export function checkOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new TypeError(
      `lifeline: option \`${name}\` must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${show(value)}`,
    );
  }
  return value as T;
}

/**
 * @internal The option names of an options type, written as `{ name: true, … }` so the
 * compiler insists on every key of `T` and no other.
 */
export function optionNames<T>(names: { [K in keyof Required<T>]: true }): readonly string[] {
  return Object.freeze(Object.keys(names));
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

/**
 * @internal Refuses an option `allowed` does not list — a misspelt option silently ignored is
 * a default the caller did not choose — naming the closest allowed name.
 */
export function checkOptionNames(name: string, value: object | undefined, allowed: readonly string[]): void {
  if (value === undefined) return;
  for (const key of Object.keys(value)) {
    if (allowed.includes(key)) continue;
    const lower = key.toLowerCase();
    let hint: string | undefined;
    let best = Infinity;
    for (const candidate of allowed) {
      const c = candidate.toLowerCase();
      const distance = lower.startsWith(c) || c.startsWith(lower) ? 0 : editDistance(lower, c);
      if (distance < best && distance <= Math.max(2, Math.floor(c.length / 3))) {
        best = distance;
        hint = candidate;
      }
    }
    const full = name === '' ? key : `${name}.${key}`;
    throw new TypeError(
      `lifeline: unknown option \`${full}\`${hint === undefined ? '' : ` (did you mean \`${hint}\`?)`}; allowed: ${allowed.join(', ')}`,
    );
  }
}
