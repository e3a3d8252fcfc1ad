/**
 * The one exponential-backoff formula of the project (list retries, notification retries, write
 * retries, downloads).
 *
 * @module
 */

/** How delays grow. */
export interface BackoffPolicy {
  /** Delay before the first retry. */
  baseMs: number;
  /** Cap on the doubled delay (before jitter). */
  maxMs: number;
  /**
   * Up to this fraction is added at random, so that many sidecars restarted together do not retry
   * in lockstep. Never subtracted: a delay is never shorter than configured.
   */
  jitter: number;
}

/**
 * The delay before retry `attempt` (1-based): `baseMs * 2^(attempt-1)`, capped at `maxMs`, plus up
 * to `jitter` of it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { backoffDelay } from "./backoff.ts";
 * const policy = { baseMs: 1000, maxMs: 3000, jitter: 0.1 };
 * assert(backoffDelay(policy, 1, () => 0) === 1000);
 * assert(backoffDelay(policy, 2, () => 0) === 2000);
 * assert(backoffDelay(policy, 9, () => 0.5) === 3150);
 * ```
 */
export function backoffDelay(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const exp = Math.min(Math.max(0, attempt - 1), 52);
  const base = Math.min(policy.baseMs * 2 ** exp, policy.maxMs);
  return Math.round(base * (1 + policy.jitter * random()));
}
