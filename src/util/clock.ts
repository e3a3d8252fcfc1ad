/**
 * Time as the loops see it: an injectable {@linkcode Clock} so that backoff, silence and retry
 * timings are unit-tested in virtual milliseconds (see `fake_clock.ts`), and one abortable
 * {@linkcode sleep}.
 *
 * `setTimeout` fires at once for delays of 2³¹ ms (about 24.8 days) or more; the system clock
 * splits longer waits into chunks so that a huge `SLEEP_TIME` can never turn a loop into a busy one.
 *
 * @module
 */

/** A cancellable timer. */
export interface Timer {
  cancel(): void;
}

/** What the loops need from time. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once after `ms`, unless cancelled first. */
  timer(ms: number, fn: () => void): Timer;
  /** Jitter source in `[0, 1)`. */
  random(): number;
}

/** The longest delay `setTimeout` honours. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * The real clock: `Date.now`, `setTimeout` (chunked beyond 24 days), `Math.random`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { systemClock } from "./clock.ts";
 * const fired = await new Promise<boolean>((resolve) => {
 *   systemClock.timer(1, () => resolve(true));
 * });
 * assert(fired);
 * const t = systemClock.timer(60_000, () => {}); // a cancelled timer keeps nothing pending
 * t.cancel();
 * ```
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  random: () => Math.random(),
  timer(ms: number, fn: () => void): Timer {
    let handle: Timer | undefined;
    const due = Date.now() + Math.max(0, ms);
    const arm = () => {
      const left = due - Date.now();
      if (left > MAX_TIMEOUT_MS) handle = after(MAX_TIMEOUT_MS, arm);
      else handle = after(left, fn);
    };
    arm();
    return { cancel: () => handle?.cancel() };
  },
};

/**
 * Calls `fn` once after `ms` (at most 2³¹−1) unless cancelled first, without the global
 * `setTimeout`: in Deno 2.9 its first call loads Node's timers and with them much of the Node
 * compatibility layer (3 MiB of resident memory). `AbortSignal.timeout` uses Deno's own timers.
 * A cancelled timer lets go of `fn` at once; its signal (about 1.2 KB resident,
 * `bench/unit_costs.ts`) stays until its time and fires unheard: a hook's 30 s timeout, cancelled
 * when the hook returns, costs that for 30 s.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { after } from "./clock.ts";
 * const fired: string[] = [];
 * after(1, () => fired.push("cancelled")).cancel();
 * await new Promise<void>((resolve) => after(5, () => resolve(void fired.push("kept"))));
 * assert.deepEqual(fired, ["kept"]); // the cancelled one, due first, never fired
 * ```
 */
export function after(ms: number, fn: () => void): Timer {
  let pending: (() => void) | undefined = fn;
  // AbortSignal.timeout refuses what setTimeout takes as 0: NaN, negatives, infinities.
  const delay = Number.isFinite(ms) ? Math.max(0, Math.min(ms, MAX_TIMEOUT_MS)) : 0;
  AbortSignal.timeout(delay).addEventListener(
    "abort",
    () => {
      const f = pending;
      pending = undefined;
      f?.();
    },
    { once: true },
  );
  return { cancel: () => pending = undefined };
}

/**
 * Waits `ms` on `clock`, resolving early (never rejecting) when `signal` aborts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sleep } from "./clock.ts";
 * import { FakeClock } from "./fake_clock.ts";
 * const clock = new FakeClock();
 * const ac = new AbortController();
 * let woke = false;
 * const slept = sleep(60_000, ac.signal, clock).then(() => woke = true);
 * await clock.advance(1_000);
 * assert(!woke);
 * ac.abort(); // resolves early, long before the 60 s
 * await slept;
 * assert(woke);
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal, clock: Clock = systemClock): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      timer.cancel();
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = clock.timer(ms, done);
    signal?.addEventListener("abort", done, { once: true });
  });
}
