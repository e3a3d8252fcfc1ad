/**
 * Thorough garbage collections at the moments the sidecar knows garbage is waiting, instead of
 * when V8 gets to it.
 *
 * After an initial sync or a relist, V8 on its own collected the lists' garbage only 10–30 s later
 * (BENCHMARKS.md, "Memory"): until then the resident memory held every page listed. Under a steady
 * stream of changes each update's values (buffers outside V8's heap) lived through their write,
 * long enough to reach V8's old generation, and waited there for V8's next full collection, which
 * its heuristics put off while the heap grew: glibc's heap and V8's committed pages climbed ~9 MiB
 * in 15 minutes at 2 changes/s ("Churn"). So after a change the sidecar collects too, but at most
 * once a minute.
 *
 * The shipped program runs with `--expose-gc` (`deno task start`, `deno task compile`); without it
 * there is no `gc` to call and nothing happens.
 *
 * @module
 */
import { type Clock, systemClock, type Timer } from "./clock.ts";

/** V8's `gc()`, as `--expose-gc` defines it (only the options used here). */
export type GcFunction = (
  options?: { type: "major"; execution: "sync"; flavor: "last-resort" },
) => void;

/**
 * Collections until nothing more is freed, then the freed pages and array buffers handed back: a
 * single plain `gc()` leaves both to V8's next collection.
 */
const THOROUGH = { type: "major", execution: "sync", flavor: "last-resort" } as const;

/** How soon a collection is wanted: once the event loop is free, or within the interval. */
export type Urgency = "now" | "within-interval";

/** Options of {@linkcode CollectionSchedule}. */
export interface CollectionScheduleOptions {
  /** V8's `gc`; `globalThis.gc` by default (defined with `--expose-gc`). */
  gc?: GcFunction | undefined;
  clock?: Clock | undefined;
  /** Least time between collections asked for `"within-interval"`; 60 s by default. */
  intervalMs?: number | undefined;
}

/**
 * When to run thorough collections: `"now"` once the event loop is free, `"within-interval"` no
 * sooner than the interval after the last collection. Requests made while one is scheduled fold
 * into it (an urgent one brings it forward).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectionSchedule } from "./collect_garbage.ts";
 * import { FakeClock } from "./fake_clock.ts";
 * const clock = new FakeClock();
 * let collections = 0;
 * const schedule = new CollectionSchedule({ gc: () => collections++, clock, intervalMs: 60_000 });
 * schedule.request("now");
 * await clock.advance(0);
 * schedule.request("within-interval");
 * schedule.request("within-interval");
 * await clock.advance(59_999);
 * assert.equal(collections, 1);
 * await clock.advance(1);
 * assert.equal(collections, 2);
 * ```
 */
export class CollectionSchedule {
  readonly #gc: GcFunction | undefined;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  #last = -Infinity;
  #pending: { timer: Timer; due: number } | undefined;

  constructor(opts: CollectionScheduleOptions = {}) {
    this.#gc = "gc" in opts ? opts.gc : (globalThis as { gc?: GcFunction }).gc;
    this.#clock = opts.clock ?? systemClock;
    this.#intervalMs = opts.intervalMs ?? 60_000;
  }

  /** Asks for a collection; false when there is no `gc` to call. */
  request(urgency: Urgency): boolean {
    const gc = this.#gc;
    if (typeof gc !== "function") return false;
    const now = this.#clock.now();
    const due = urgency === "now" ? now : Math.max(now, this.#last + this.#intervalMs);
    if (this.#pending !== undefined) {
      if (this.#pending.due <= due) return true;
      this.#pending.timer.cancel();
    }
    this.#pending = {
      due,
      timer: this.#clock.timer(due - now, () => {
        this.#pending = undefined;
        this.#last = this.#clock.now();
        gc(THOROUGH);
      }),
    };
    return true;
  }
}
