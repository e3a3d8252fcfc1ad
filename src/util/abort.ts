/**
 * A child abort signal for one operation: aborted with its parent or after a timeout on a
 * {@linkcode Clock}, and detached from the parent when disposed.
 *
 * `AbortSignal.any()` would do the linking, but every call leaves a dependent on the long-lived
 * shutdown signal until garbage collection; a watch loop makes one per request for days.
 *
 * @module
 */
import { type Clock, systemClock } from "./clock.ts";

/** The signal of one operation; call `dispose()` when the operation is over. */
export interface ScopedAbort extends Disposable {
  readonly signal: AbortSignal;
  /** Aborts now (e.g. on silence). */
  abort(reason?: unknown): void;
  dispose(): void;
}

/**
 * Links a new signal to `parent` and, with `timeoutMs`, aborts it then with a `TimeoutError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scopedAbort } from "./abort.ts";
 * const shutdown = new AbortController();
 * using op = scopedAbort(shutdown.signal, 5000);
 * shutdown.abort();
 * assert(op.signal.aborted);
 * ```
 */
export function scopedAbort(
  parent: AbortSignal | undefined,
  timeoutMs?: number,
  clock: Clock = systemClock,
): ScopedAbort {
  const ac = new AbortController();
  const onParent = () => ac.abort(parent?.reason);
  if (parent?.aborted) ac.abort(parent.reason);
  else parent?.addEventListener("abort", onParent, { once: true });
  const timer = timeoutMs === undefined
    ? undefined
    : clock.timer(timeoutMs, () =>
      ac.abort(new DOMException(`timed out after ${timeoutMs} ms`, "TimeoutError")));
  const dispose = () => {
    timer?.cancel();
    parent?.removeEventListener("abort", onParent);
  };
  return {
    signal: ac.signal,
    abort: (reason?: unknown) => ac.abort(reason),
    dispose,
    [Symbol.dispose]: dispose,
  };
}
