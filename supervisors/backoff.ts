// Exponential backoff with jitter between restarts, reset after a quiet period. Pure:
// the caller passes the clock's time and a random source.

export interface Backoff {
  /** Delay before the first restart (0: restart at once). */
  initialMs: number;
  maxMs: number;
  factor: number;
  /** Fraction of the delay added or removed at random (0..1). */
  jitter: number;
  /** A child that ran this long without failing starts again from initialMs. */
  resetAfterMs: number;
}

/** OTP restarts at once; so do we unless a backoff is asked for. */
export const NO_BACKOFF: Backoff = { initialMs: 0, maxMs: 0, factor: 2, jitter: 0, resetAfterMs: 30_000 };

export interface BackoffState {
  /** Consecutive failures since the last quiet period. */
  readonly failures: number;
  readonly lastFailureAt: number | null;
}

export const FRESH_BACKOFF: BackoffState = { failures: 0, lastFailureAt: null };

/** Records a failure at `now` and returns the delay before the restart. */
export function nextBackoff(state: BackoffState, now: number, policy: Backoff, random: () => number = Math.random): { state: BackoffState; delayMs: number } {
  const quiet = state.lastFailureAt !== null && now - state.lastFailureAt >= policy.resetAfterMs;
  const failures = quiet ? 1 : state.failures + 1;
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** (failures - 1));
  const spread = base * policy.jitter;
  const delayMs = Math.max(0, Math.round(base - spread + random() * 2 * spread));
  return { state: { failures, lastFailureAt: now }, delayMs: policy.initialMs === 0 ? 0 : delayMs };
}
