/**
 * Bounded parallelism for file operations: enough to hide syscall latency, few enough to spare
 * file descriptors.
 *
 * @module
 */

/**
 * Runs `fn` over `items` with at most `limit` calls in flight; rejects with the first error after
 * every started call has settled.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forEachLimit } from "./parallel.ts";
 * const seen: number[] = [];
 * await forEachLimit([1, 2, 3], 2, async (n) => void seen.push(n));
 * assert(seen.length === 3);
 * ```
 */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
