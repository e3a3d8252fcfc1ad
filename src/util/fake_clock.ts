/**
 * A {@linkcode Clock} whose time moves only when a test says so, for unit tests of loops that
 * back off, time out or retry (the way client-go tests its reflector).
 *
 * @module
 */
import type { Clock, Timer } from "./clock.ts";

interface Pending {
  due: number;
  seq: number;
  fn: () => void;
}

/**
 * Virtual time: timers fire only inside {@linkcode FakeClock.advance} (in due order, letting
 * promise callbacks run between them) or {@linkcode FakeClock.runUntil}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FakeClock } from "./fake_clock.ts";
 * import { sleep } from "./clock.ts";
 * const clock = new FakeClock();
 * let woke = false;
 * void sleep(5000, undefined, clock).then(() => woke = true);
 * await clock.advance(5000);
 * assert(woke);
 * ```
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: Pending[] = [];
  /** Returned by `random()`; a test may change it. */
  randomValue = 0.5;

  /** Starts at `start` ms since the epoch. */
  constructor(start = 1_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  random(): number {
    return this.randomValue;
  }

  timer(ms: number, fn: () => void): Timer {
    const entry = { due: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#timers.push(entry);
    return { cancel: () => this.#timers = this.#timers.filter((t) => t !== entry) };
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await settle();
    for (;;) {
      const next = this.#next();
      if (next === undefined || next.due > end) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#now = Math.max(this.#now, next.due);
      next.fn();
      await settle();
    }
    this.#now = end;
    await settle();
  }

  /**
   * Jumps from timer to timer until `condition()` holds; throws when no timer is left or the next
   * one is more than `maxMs` of virtual time away from the start.
   */
  async runUntil(condition: () => boolean, maxMs = 3_600_000): Promise<void> {
    const limit = this.#now + maxMs;
    await settle();
    while (!condition()) {
      const next = this.#next();
      if (next === undefined || next.due > limit) {
        throw new Error(`condition not reached within ${maxMs} virtual ms`);
      }
      await this.advance(next.due - this.#now);
    }
  }

  #next(): Pending | undefined {
    let best: Pending | undefined;
    for (const t of this.#timers) {
      if (!best || t.due < best.due || (t.due === best.due && t.seq < best.seq)) best = t;
    }
    return best;
  }
}

/** Lets pending promise callbacks (and the ones they schedule) run. */
async function settle(): Promise<void> {
  // Microtasks drain before each macrotask; a few rounds cover chains that hop through one.
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setTimeout(r, 0));
}
