/**
 * One full garbage collection once the event loop is free, after work that leaves much garbage
 * behind (an initial sync, a relist). V8 on its own collects that garbage only 10–30 s later
 * (BENCHMARKS.md, "Memory"): until then the sidecar's resident memory holds every page it
 * listed. The shipped program runs with `--expose-gc` (`deno task start`, `deno task compile`);
 * without it there is no `gc` to call and nothing happens.
 *
 * @module
 */

/** V8's `gc()`, as `--expose-gc` defines it (only the options used here). */
export type GcFunction = (
  options?: { type: "major"; execution: "sync"; flavor: "last-resort" },
) => void;

/**
 * Collections until nothing more is freed, then the freed pages and array buffers handed back: a
 * single plain `gc()` leaves both to V8's next collection, which comes 10–30 s later.
 */
const THOROUGH = { type: "major", execution: "sync", flavor: "last-resort" } as const;

let pending: ReturnType<typeof setTimeout> | undefined;

/**
 * Schedules one full collection on a timer of `delayMs`; calls made before it runs are folded into
 * it. Returns false when there is no `gc` to call.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { collectGarbageSoon } from "./collect_garbage.ts";
 * const { promise, resolve } = Promise.withResolvers<void>();
 * let calls = 0;
 * const gc = () => {
 *   calls++;
 *   resolve();
 * };
 * assert.equal(collectGarbageSoon(gc), true);
 * assert.equal(collectGarbageSoon(gc), true);
 * await promise;
 * assert.equal(calls, 1);
 * assert.equal(collectGarbageSoon(undefined), false);
 * ```
 */
export function collectGarbageSoon(
  gc: GcFunction | undefined = (globalThis as { gc?: GcFunction }).gc,
  delayMs = 0,
): boolean {
  if (typeof gc !== "function") return false;
  if (pending !== undefined) return true;
  pending = setTimeout(() => {
    pending = undefined;
    gc(THOROUGH);
  }, delayMs);
  return true;
}
