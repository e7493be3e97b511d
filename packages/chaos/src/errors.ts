const kChaosConfig = Symbol.for('lifeline.error.CHAOS_INVALID');

/**
 * A chaos rule or option that cannot be used. The message names the field and the value,
 * e.g. `rules[0].percent: must be a number from 0 to 100, got 150`; the admin endpoint sends
 * it as the `detail` of its 400 answer. `code` is `CHAOS_INVALID`.
 *
 * @example
 * try { chaos.set(JSON.parse(body)); }
 * catch (error) { if (isChaosConfigError(error)) console.error(error.message); }
 */
export class ChaosConfigError extends Error {
  readonly code = 'CHAOS_INVALID';

  constructor(message: string) {
    super(message);
    Object.defineProperty(this, kChaosConfig, { value: true });
  }

  override get name(): string {
    return 'ChaosConfigError';
  }
}

/**
 * True for a {@link ChaosConfigError}, from any copy of the package (a `Symbol.for` marker,
 * not `instanceof`).
 *
 * @example
 * if (isChaosConfigError(error)) reply.code(400).send({ detail: error.message });
 */
export function isChaosConfigError(error: unknown): error is ChaosConfigError {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[kChaosConfig] === true;
}
