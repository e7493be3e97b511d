/**
 * The subset of a pino logger Lifeline uses (pino's own `(object, message)` signature).
 * Lifeline logs state changes — a breaker opening, an endpoint ejected, a registry
 * unreachable — never a line per request.
 */
export interface Logger {
  warn(object: object, message: string): void;
  info(object: object, message: string): void;
}
