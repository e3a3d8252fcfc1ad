/**
 * Hands change sets to the notifier instances without ever blocking the sync loop.
 *
 * Each notifier instance gets its own lane: at most one call in flight, and while a call waits
 * for a quiet moment (a burst of changes is one notification), is in flight or waits to be
 * retried, newer change sets coalesce into one pending item (git-sync style), so a slow or
 * failing notifier never delays the others and the application always ends up told about the
 * newest state, with every file that changed since it was last told. Failures are retried per the
 * notifier's {@linkcode RetryPolicy} with exponential backoff, a cap and a little jitter; once the
 * policy's retries are spent, attempts go on at the capped interval until one succeeds — only a
 * non-retryable error (a 4xx answer) or shutdown ends them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NotifyDispatcher } from "./dispatcher.ts";
 * import type { Logger } from "../plugin/logger.ts";
 *
 * const logger: Logger = {
 *   category: [],
 *   debug() {},
 *   info() {},
 *   warn() {},
 *   error() {},
 *   child: () => logger,
 * };
 * const seen: number[] = [];
 * const dispatcher = new NotifyDispatcher([{
 *   plugin: "demo",
 *   instance: "demo#0",
 *   logger,
 *   notify: (set) => Promise.resolve(void seen.push(set.seq)),
 * }], { signal: new AbortController().signal, logger });
 * dispatcher.submit({ seq: 1, initial: true, changes: [] }, {
 *   written: ["/data/a.json"],
 *   removed: [],
 *   rejected: [],
 * });
 * await dispatcher.idle();
 * assert(seen[0] === 1);
 * await dispatcher.close();
 * ```
 *
 * @module
 */
import { type Change, changedFiles, type ChangeSet, refKey, type WriteResult } from "../model.ts";
import { NotifyError, type RetryPolicy } from "../plugin/contract.ts";
import { PluginError } from "../host/invoke.ts";
import type { Logger } from "../plugin/logger.ts";
import { backoffDelay } from "../util/backoff.ts";
import { after, type Clock, sleep, systemClock, type Timer } from "../util/clock.ts";
import { family, type Metric } from "../util/metrics.ts";
import { messageOf } from "../util/errors.ts";

/** One notifier instance the dispatcher serves. */
export interface NotifierSlot {
  /** Plugin name, for error labels. */
  plugin: string;
  /** Instance label, unique among the slots; also the key of {@linkcode NotifyDispatcher.stats}. */
  instance: string;
  /** Retry policy for failures; none when absent. */
  retry?: RetryPolicy | undefined;
  /** Skip the initial change set. */
  skipInitial?: boolean | undefined;
  /**
   * One notification: the plugin host's call of the instance's `notify`, through the wrapper that
   * labels errors and enforces the timeout. `signal` aborts on shutdown.
   */
  notify(changeSet: ChangeSet, result: WriteResult, signal: AbortSignal): Promise<void>;
  /** Logger for this instance's outcomes. */
  logger: Logger;
}

/** Options of {@linkcode NotifyDispatcher}. */
export interface NotifyDispatcherOptions {
  /** Aborted on shutdown: stops retries, sleeps and in-flight calls. */
  signal: AbortSignal;
  logger: Logger;
  /**
   * Waits `ms` or until `signal` aborts (resolving or rejecting, either is fine). Injectable so
   * that tests need not wait for real backoff delays.
   */
  sleep?: ((ms: number, signal: AbortSignal) => Promise<void>) | undefined;
  /** Source of jitter in `[0, 1)`; injectable for tests. Defaults to `Math.random`. */
  random?: (() => number) | undefined;
  /** A lane waits until no change set arrived for this long before it notifies (default 250). */
  quietMs?: number | undefined;
  /** …but never longer than this after the first pending change set (default 5000). */
  maxDelayMs?: number | undefined;
  /** Time for the quiet window; the system clock by default. */
  clock?: Clock | undefined;
}

/** How often a lane looks again while the sync is still writing. */
const HOLD_POLL_MS = 25;

/** Outcome counters of one notifier instance. */
export interface NotifierStats {
  /** Calls that succeeded. */
  sent: number;
  /** Items given up on (non-retryable error, or shutdown while retrying). */
  failed: number;
  /** Retry attempts made. */
  retries: number;
  /** Change sets merged into another one instead of being sent on their own. */
  coalesced: number;
  /** Initial change sets skipped because of `skipInitial`. */
  skipped: number;
  /** Message of the most recent failure, labelled with plugin, instance and hook. */
  lastError?: string | undefined;
}

/** A change set together with what the writers did with it. */
export interface NotifyItem {
  changeSet: ChangeSet;
  result: WriteResult;
}

interface Lane {
  slot: NotifierSlot;
  pending: NotifyItem | undefined;
  /** `clock.now()` of the first submission now pending, and of the last one. */
  firstPendingAt: number;
  lastSubmitAt: number;
  running: boolean;
  run: Promise<void> | undefined;
  stats: NotifierStats;
}

/**
 * Merges an older item `a` with a newer item `b` into one that describes both.
 *
 * The newest `seq` wins; the result is `initial` only when both are; per object the newest change
 * wins (keyed by {@linkcode refKey}, in order of first appearance); a path ends up in `written` or
 * `removed` by what happened to it last; rejections are concatenated.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergeChangeSets } from "./dispatcher.ts";
 * const merged = mergeChangeSets(
 *   {
 *     changeSet: { seq: 1, initial: true, changes: [] },
 *     result: { written: ["/d/a.json"], removed: [], rejected: [] },
 *   },
 *   {
 *     changeSet: { seq: 2, initial: false, changes: [] },
 *     result: { written: [], removed: ["/d/a.json"], rejected: [] },
 *   },
 * );
 * assert(merged.changeSet.seq === 2 && !merged.changeSet.initial);
 * assert(merged.result.removed[0] === "/d/a.json" && merged.result.written.length === 0);
 * ```
 */
export function mergeChangeSets(a: NotifyItem, b: NotifyItem): NotifyItem {
  return new NotifyMerge().add(a).add(b).item();
}

/**
 * Merges many items as {@linkcode mergeChangeSets} merges two, in time linear in what is added:
 * an initial sync of many pages is one notification without re-merging all earlier pages at each.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NotifyMerge } from "./dispatcher.ts";
 * const page = (seq: number, path: string) => ({
 *   changeSet: { seq, initial: true, changes: [] },
 *   result: { written: [path], removed: [], rejected: [] },
 * });
 * const merged = new NotifyMerge().add(page(1, "/d/a.json")).add(page(2, "/d/b.json")).item();
 * assert.deepEqual(merged.result.written, ["/d/a.json", "/d/b.json"]);
 * assert.equal(merged.changeSet.seq, 2);
 * ```
 */
export class NotifyMerge {
  readonly #changes = new Map<string, Change>();
  readonly #paths = new Map<string, "written" | "removed">();
  readonly #rejected: WriteResult["rejected"][number][] = [];
  #seq = 0;
  #initial = true;

  /** Adds an item newer than every one added before. */
  add(item: NotifyItem): this {
    this.#seq = Math.max(this.#seq, item.changeSet.seq);
    this.#initial &&= item.changeSet.initial;
    // Map.set on an existing key keeps its position: first-appearance order, newest value.
    for (const change of item.changeSet.changes) this.#changes.set(refKey(change.ref), change);
    // Within one result, a path listed both ways was removed by one writer and written by
    // another; the file exists afterwards, so written goes last and wins.
    for (const path of item.result.removed) this.#paths.set(path, "removed");
    for (const path of item.result.written) this.#paths.set(path, "written");
    for (const r of item.result.rejected) this.#rejected.push(r);
    return this;
  }

  /** The merged item. */
  item(): NotifyItem {
    const written: string[] = [];
    const removed: string[] = [];
    for (const [path, what] of this.#paths) (what === "written" ? written : removed).push(path);
    return {
      changeSet: { seq: this.#seq, initial: this.#initial, changes: [...this.#changes.values()] },
      result: { written, removed, rejected: [...this.#rejected] },
    };
  }
}

/**
 * The delay before retry `attempt` (1-based): `backoffMs * 2^(attempt-1)` capped at `maxDelayMs`,
 * plus up to 10 % jitter so that many sidecars restarted together do not retry in lockstep.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { retryDelay } from "./dispatcher.ts";
 * const policy = { retries: 5, backoffMs: 1000, maxDelayMs: 3000 };
 * assert(retryDelay(policy, 1, () => 0) === 1000);
 * assert(retryDelay(policy, 2, () => 0) === 2000);
 * assert(retryDelay(policy, 3, () => 0.5) === 3150);
 * ```
 */
export function retryDelay(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  return backoffDelay(
    { baseMs: policy.backoffMs, maxMs: policy.maxDelayMs, jitter: 0.1 },
    attempt,
    random,
  );
}

/** Settles like `promise`, or resolves to `undefined` as soon as `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  let onAbort = () => {};
  const aborted = new Promise<undefined>((resolve) => {
    onAbort = () => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([promise, aborted]).finally(() =>
    signal.removeEventListener("abort", onAbort)
  );
}

/** Whether a failed call is worth retrying: everything but an explicit non-retryable NotifyError. */
function isRetryable(error: unknown): boolean {
  const cause = error instanceof PluginError ? error.cause : error;
  return !(cause instanceof NotifyError && !cause.retryable);
}

/**
 * Delivers change sets to notifier instances, one independent lane per instance.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NotifyDispatcher } from "./dispatcher.ts";
 * import type { Logger } from "../plugin/logger.ts";
 *
 * const logger: Logger = {
 *   category: [],
 *   debug() {},
 *   info() {},
 *   warn() {},
 *   error() {},
 *   child: () => logger,
 * };
 * const calls: number[] = [];
 * const dispatcher = new NotifyDispatcher([{
 *   plugin: "demo",
 *   instance: "demo#0",
 *   logger,
 *   notify: (set) => Promise.resolve(void calls.push(set.seq)),
 * }], { signal: new AbortController().signal, logger });
 * for (let seq = 1; seq <= 3; seq++) {
 *   dispatcher.submit({ seq, initial: false, changes: [] }, {
 *     written: [`/d/${seq}.json`],
 *     removed: [],
 *     rejected: [],
 *   });
 * }
 * await dispatcher.idle();
 * // The three arrived within the quiet window: one call, about the newest state.
 * assert(calls.join() === "3");
 * await dispatcher.close();
 * ```
 */
export class NotifyDispatcher {
  readonly #lanes: Lane[];
  readonly #logger: Logger;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly #random: () => number;
  readonly #clock: Clock;
  readonly #quietMs: number;
  readonly #maxDelayMs: number;
  #holdWhile: () => boolean = () => false;
  /** Aborted when `close()` starts: no new calls, retry sleeps end. */
  readonly #closing = new AbortController();
  /** Aborted when the grace period of `close()` is over: in-flight calls are abandoned. */
  readonly #stop = new AbortController();
  readonly #callSignal: AbortSignal;
  readonly #waitSignal: AbortSignal;

  /**
   * Creates lanes for `slots`; instance labels must be unique.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { type NotifierSlot, NotifyDispatcher } from "./dispatcher.ts";
   * import { recordingLogger } from "../testing/logger.ts";
   * const { logger } = recordingLogger();
   * const slot = (instance: string): NotifierSlot => ({
   *   plugin: "webhook",
   *   instance,
   *   logger,
   *   notify: () => Promise.resolve(),
   * });
   * const shutdown = new AbortController();
   * const slots = [slot("webhook#0"), slot("webhook#1")];
   * const dispatcher = new NotifyDispatcher(slots, { signal: shutdown.signal, logger });
   * assert.deepEqual(Object.keys(dispatcher.stats()), ["webhook#0", "webhook#1"]);
   * assert.throws(
   *   () => new NotifyDispatcher([slot("a"), slot("a")], { signal: shutdown.signal, logger }),
   *   /duplicate notifier instance "a"/,
   * );
   * await dispatcher.close();
   * ```
   */
  constructor(slots: NotifierSlot[], opts: NotifyDispatcherOptions) {
    const seen = new Set<string>();
    for (const slot of slots) {
      if (seen.has(slot.instance)) {
        throw new Error(`duplicate notifier instance "${slot.instance}"`);
      }
      seen.add(slot.instance);
    }
    this.#lanes = slots.map((slot) => ({
      slot,
      pending: undefined,
      firstPendingAt: 0,
      lastSubmitAt: 0,
      running: false,
      run: undefined,
      stats: { sent: 0, failed: 0, retries: 0, coalesced: 0, skipped: 0 },
    }));
    this.#logger = opts.logger;
    this.#clock = opts.clock ?? systemClock;
    this.#sleep = opts.sleep ?? ((ms, signal) => sleep(ms, signal, this.#clock));
    this.#random = opts.random ?? (() => this.#clock.random());
    this.#quietMs = opts.quietMs ?? 250;
    this.#maxDelayMs = opts.maxDelayMs ?? 5000;
    this.#callSignal = AbortSignal.any([opts.signal, this.#stop.signal]);
    this.#waitSignal = AbortSignal.any([opts.signal, this.#closing.signal]);
  }

  /**
   * Hands a change set whose writers changed files to every notifier and returns at once: it
   * never blocks syncing and never throws. Sets that changed no file are ignored.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { NotifyDispatcher } from "./dispatcher.ts";
   * import { recordingLogger } from "../testing/logger.ts";
   * import { FakeClock } from "../util/fake_clock.ts";
   * const { logger } = recordingLogger();
   * const clock = new FakeClock();
   * const told: string[][] = [];
   * const dispatcher = new NotifyDispatcher([{
   *   plugin: "webhook",
   *   instance: "webhook#0",
   *   logger,
   *   notify: (_set, result) => Promise.resolve(void told.push(result.written)),
   * }], { signal: new AbortController().signal, logger, clock });
   * const set = (seq: number) => ({ seq, initial: false, changes: [] });
   * dispatcher.submit(set(1), { written: [], removed: [], rejected: [] }); // no file changed
   * await clock.advance(250);
   * dispatcher.submit(set(2), { written: ["/config/a.json"], removed: [], rejected: [] });
   * dispatcher.submit(set(3), { written: ["/config/b.json"], removed: [], rejected: [] });
   * await clock.advance(250); // the quiet window: the burst is one notification
   * await dispatcher.idle();
   * assert.deepEqual(told, [["/config/a.json", "/config/b.json"]]); // and set 1 none
   * await dispatcher.close();
   * ```
   */
  submit(changeSet: ChangeSet, result: WriteResult): void {
    try {
      if (!changedFiles(result)) return;
      if (this.#waitSignal.aborted) {
        this.#logger.debug("notification not submitted: shutting down", { seq: changeSet.seq });
        return;
      }
      const now = this.#clock.now();
      for (const lane of this.#lanes) {
        const item: NotifyItem = { changeSet, result };
        if (lane.pending) {
          lane.pending = mergeChangeSets(lane.pending, item);
          lane.stats.coalesced++;
        } else {
          lane.pending = item;
          lane.firstPendingAt = now;
        }
        lane.lastSubmitAt = now;
        this.#kick(lane);
      }
    } catch (e) {
      // Nothing here should throw, but the sync loop must survive a bug in this class.
      this.#logger.error("notification dispatch failed", {
        seq: changeSet.seq,
        error: messageOf(e),
      });
    }
  }

  /**
   * Resolves when every notifier is idle: nothing in flight, waiting to retry, or pending.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { NotifyDispatcher } from "./dispatcher.ts";
   * import { recordingLogger } from "../testing/logger.ts";
   * import { FakeClock } from "../util/fake_clock.ts";
   * const { logger } = recordingLogger();
   * const clock = new FakeClock();
   * let attempts = 0;
   * const dispatcher = new NotifyDispatcher([{
   *   plugin: "webhook",
   *   instance: "webhook#0",
   *   logger,
   *   retry: { retries: 3, backoffMs: 1_000, maxDelayMs: 10_000 },
   *   notify: () => ++attempts === 1 ? Promise.reject(new Error("503")) : Promise.resolve(),
   * }], { signal: new AbortController().signal, logger, clock });
   * dispatcher.submit({ seq: 1, initial: false, changes: [] }, {
   *   written: ["/config/a.json"],
   *   removed: [],
   *   rejected: [],
   * });
   * let idle = false;
   * void dispatcher.idle().then(() => idle = true);
   * await clock.runUntil(() => idle); // the quiet window, a failure, one retry delay
   * assert.equal(attempts, 2);
   * await dispatcher.close();
   * ```
   */
  async idle(): Promise<void> {
    for (;;) {
      const runs = this.#lanes.filter((lane) => lane.running).map((lane) => lane.run);
      if (runs.length === 0) return;
      await Promise.all(runs);
    }
  }

  /**
   * Outcome counters per notifier instance, keyed by instance label (a snapshot).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { NotifyDispatcher } from "./dispatcher.ts";
   * import { recordingLogger } from "../testing/logger.ts";
   * import { FakeClock } from "../util/fake_clock.ts";
   * const { logger } = recordingLogger();
   * const clock = new FakeClock();
   * const dispatcher = new NotifyDispatcher([{
   *   plugin: "webhook",
   *   instance: "webhook#0",
   *   logger,
   *   notify: () => Promise.resolve(),
   * }], { signal: new AbortController().signal, logger, clock });
   * for (const seq of [1, 2]) {
   *   dispatcher.submit({ seq, initial: false, changes: [] }, {
   *     written: [`/config/${seq}.json`],
   *     removed: [],
   *     rejected: [],
   *   });
   * }
   * await clock.advance(250);
   * await dispatcher.idle();
   * const stats = dispatcher.stats()["webhook#0"];
   * assert.equal(stats?.sent, 1);
   * assert.equal(stats?.coalesced, 1);
   * await dispatcher.close();
   * ```
   */
  stats(): Record<string, NotifierStats> {
    return Object.fromEntries(this.#lanes.map((lane) => [lane.slot.instance, { ...lane.stats }]));
  }

  /** What the notification lanes count, labelled with the instance. */
  metrics(): Metric[] {
    const lanes = this.#lanes;
    const per = (f: (lane: Lane) => number) =>
      lanes.map((lane): [Record<string, string>, number] => [
        { instance: lane.slot.instance },
        f(lane),
      ]);
    return [
      family(
        "gsidecar_notification_pending",
        "1 while a notification waits for a quiet moment, is sent or waits to be retried.",
        "gauge",
        per((lane) => lane.running || lane.pending ? 1 : 0),
      ),
      family(
        "gsidecar_notifications_total",
        "Notifications delivered per instance.",
        "counter",
        per((l) => l.stats.sent),
      ),
      family(
        "gsidecar_notification_failures_total",
        "Notifications given up per instance.",
        "counter",
        per((l) => l.stats.failed),
      ),
      family(
        "gsidecar_notification_retries_total",
        "Notification retries per instance.",
        "counter",
        per((l) => l.stats.retries),
      ),
      family(
        "gsidecar_notifications_coalesced_total",
        "Change sets merged into a pending notification per instance.",
        "counter",
        per((l) => l.stats.coalesced),
      ),
    ];
  }

  /**
   * Holds notifications while `busy()` says the sync is still writing (a burst whose writes take
   * longer than the quiet window stays one notification), up to the longest delay.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { NotifyDispatcher } from "./dispatcher.ts";
   * import { recordingLogger } from "../testing/logger.ts";
   * import { FakeClock } from "../util/fake_clock.ts";
   * const { logger } = recordingLogger();
   * const clock = new FakeClock();
   * const told: string[][] = [];
   * const dispatcher = new NotifyDispatcher([{
   *   plugin: "webhook",
   *   instance: "webhook#0",
   *   logger,
   *   notify: (_set, result) => Promise.resolve(void told.push(result.written)),
   * }], { signal: new AbortController().signal, logger, clock });
   * let writing = true; // sync.ts passes () => reconciler.busy
   * dispatcher.holdWhile(() => writing);
   * dispatcher.submit({ seq: 1, initial: false, changes: [] }, {
   *   written: ["/config/a.json"],
   *   removed: [],
   *   rejected: [],
   * });
   * await clock.advance(300); // past the quiet window, but the sync is still writing
   * assert.equal(told.length, 0);
   * writing = false;
   * await clock.advance(25);
   * await dispatcher.idle();
   * assert.equal(told.length, 1);
   * await dispatcher.close();
   * ```
   */
  holdWhile(busy: () => boolean): void {
    this.#holdWhile = busy;
  }

  /**
   * Stops accepting change sets and starting calls (retries waiting for their delay are given
   * up), waits up to `graceMs` for calls in flight, then abandons them. Does not close the
   * notifiers themselves.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { NotifyDispatcher } from "./dispatcher.ts";
   * import { recordingLogger } from "../testing/logger.ts";
   * import { FakeClock } from "../util/fake_clock.ts";
   * const { logger, records } = recordingLogger();
   * const clock = new FakeClock();
   * const dispatcher = new NotifyDispatcher([{
   *   plugin: "webhook",
   *   instance: "webhook#0",
   *   logger,
   *   notify: () => new Promise(() => {}), // hangs, ignoring its signal
   * }], { signal: new AbortController().signal, logger, clock });
   * const set = { seq: 1, initial: false, changes: [] };
   * const result = { written: ["/config/a.json"], removed: [], rejected: [] };
   * dispatcher.submit(set, result);
   * await clock.advance(250); // the call starts, and never settles
   * await dispatcher.close(10); // 10 ms of grace, then it is abandoned
   * assert.equal(dispatcher.stats()["webhook#0"]?.failed, 1);
   * dispatcher.submit(set, result);
   * assert.equal(records.at(-1)?.message, "notification not submitted: shutting down");
   * ```
   */
  async close(graceMs = 5_000): Promise<void> {
    this.#closing.abort();
    let timer: Timer | undefined;
    try {
      await Promise.race([
        this.idle(),
        new Promise<void>((resolve) => timer = after(graceMs, resolve)),
      ]);
    } finally {
      timer?.cancel();
    }
    this.#stop.abort();
    await this.idle();
  }

  /** Waits until no submission came for the quiet window, or the longest delay is reached. */
  async #quiet(lane: Lane): Promise<void> {
    for (;;) {
      if (this.#waitSignal.aborted) return;
      const cap = lane.firstPendingAt + this.#maxDelayMs - this.#clock.now();
      const left = this.#quietLeft(lane);
      // While the sync is still writing, more of the same burst is coming.
      const wait = this.#holdWhile() ? Math.min(HOLD_POLL_MS, cap) : left;
      if (wait <= 0) return;
      await sleep(wait, this.#waitSignal, this.#clock);
    }
  }

  #quietLeft(lane: Lane): number {
    const due = Math.min(
      lane.lastSubmitAt + this.#quietMs,
      lane.firstPendingAt + this.#maxDelayMs,
    );
    return due - this.#clock.now();
  }

  #kick(lane: Lane): void {
    if (lane.running) return;
    // Set before the first await of #pump and cleared synchronously after its last check of
    // `pending`, so a submission can never slip between the two and be left unsent.
    lane.running = true;
    lane.run = this.#pump(lane);
  }

  async #pump(lane: Lane): Promise<void> {
    const { slot, stats } = lane;
    try {
      while (lane.pending) {
        if (this.#quietLeft(lane) > 0 || this.#holdWhile()) await this.#quiet(lane);
        if (this.#waitSignal.aborted) {
          slot.logger.debug("pending notification dropped: shutting down", {
            plugin: slot.plugin,
            instance: slot.instance,
            seq: lane.pending.changeSet.seq,
          });
          lane.pending = undefined;
          break;
        }
        let item = lane.pending;
        lane.pending = undefined;
        if (item === undefined) break;
        if (item.changeSet.initial && slot.skipInitial) {
          stats.skipped++;
          slot.logger.debug("initial change set not notified (skipInitial)", {
            plugin: slot.plugin,
            instance: slot.instance,
            seq: item.changeSet.seq,
          });
          continue;
        }
        for (let attempt = 1;; attempt++) {
          const current = item;
          const call = slot.notify(current.changeSet, current.result, this.#callSignal)
            .then(() => undefined, (e: unknown) => e ?? new Error("notify rejected"));
          // A hook that ignores its signal would keep the wrapper waiting for its full timeout;
          // on shutdown nothing should wait for it.
          const error = await untilAborted(call, this.#callSignal);
          if (error === undefined) {
            if (this.#callSignal.aborted) {
              stats.failed++;
              slot.logger.warn("notification abandoned: shutting down", {
                plugin: slot.plugin,
                instance: slot.instance,
                seq: item.changeSet.seq,
              });
            } else {
              stats.sent++;
              slot.logger.debug("notified", {
                plugin: slot.plugin,
                instance: slot.instance,
                seq: item.changeSet.seq,
                attempt,
              });
            }
            break;
          }
          const reason = messageOf(error);
          stats.lastError = reason;
          const policy = slot.retry;
          const fields = {
            plugin: slot.plugin,
            instance: slot.instance,
            seq: item.changeSet.seq,
            attempt,
            reason,
          };
          if (!isRetryable(error)) {
            stats.failed++;
            slot.logger.error("notification failed (not retryable)", fields);
            break;
          }
          if (!policy) {
            stats.failed++;
            slot.logger.error("notification failed", fields);
            break;
          }
          if (this.#waitSignal.aborted) {
            stats.failed++;
            slot.logger.warn("notification failed, not retried: shutting down", fields);
            break;
          }
          // Past the policy's retries, attempts go on at the capped interval: a change set whose
          // notification failed is never forgotten.
          const delayMs = retryDelay(policy, attempt, this.#random);
          if (attempt <= policy.retries) {
            slot.logger.warn("notification failed, will retry", { ...fields, delayMs });
          } else if (attempt === policy.retries + 1) {
            slot.logger.error("notification failed, retries exhausted; still retrying", {
              ...fields,
              delayMs,
            });
          } else {
            slot.logger.debug("notification failed again; still retrying", { ...fields, delayMs });
          }
          try {
            await this.#sleep(delayMs, this.#waitSignal);
          } catch {
            // An injected sleep may reject on abort; the check below handles it.
          }
          if (this.#waitSignal.aborted) {
            stats.failed++;
            slot.logger.warn("notification retry given up: shutting down", fields);
            break;
          }
          if (lane.pending) {
            // Retry with the newest state so that the application ends up told about it.
            item = mergeChangeSets(item, lane.pending);
            lane.pending = undefined;
            stats.coalesced++;
          }
          stats.retries++;
        }
      }
    } catch (e) {
      lane.pending = undefined;
      slot.logger.error("notifier lane failed", {
        plugin: slot.plugin,
        instance: slot.instance,
        reason: messageOf(e),
      });
    } finally {
      lane.running = false;
    }
  }
}
