/**
 * The little statistics the benchmarks need: percentiles and a least-squares slope.
 *
 * @module
 */

/**
 * The `p`-th percentile (0–100) of `values` by nearest rank: p50 of 100 samples is the 50th
 * smallest, p99 the 99th.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { percentile } from "./stats.ts";
 * const xs = Array.from({ length: 100 }, (_, i) => i + 1);
 * assert(percentile(xs, 50) === 50 && percentile(xs, 99) === 99);
 * ```
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/**
 * Slope of the least-squares line through `(x, y)` points.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { slope } from "./stats.ts";
 * assert(slope([[0, 1], [1, 3], [2, 5]]) === 2);
 * ```
 */
export function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  let sx = 0, sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n, my = sy / n;
  let num = 0, den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return num / den;
}
