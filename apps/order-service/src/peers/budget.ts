/**
 * A dependency's per-call budget. The peers use the budget Lifeline's clients have in
 * `lifelineDependencies`, wherever their library has a knob for it, so that the comparison
 * is about how they spend it.
 * @internal
 */
export interface Budget {
  /** The whole call, retries and backoff included. */
  totalMs: number;
  /** One attempt. */
  attemptMs: number;
  /** Attempts in all, the first included. */
  attempts: number;
}

/** The user lookup's budget: 1 s, 300 ms an attempt, 3 attempts. @internal */
export const USER_BUDGET: Budget = { totalMs: 1_000, attemptMs: 300, attempts: 3 };

/** The charge's budget: 2 s, 600 ms an attempt, 3 attempts. @internal */
export const PAYMENT_BUDGET: Budget = { totalMs: 2_000, attemptMs: 600, attempts: 3 };
