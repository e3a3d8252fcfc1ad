/**
 * List-then-watch for one {@linkcode Scope}, resilient to every kind of gap.
 *
 * Lists stream: each page goes to the handler as it arrives, so memory is bounded by a page, and
 * the end of a list tells the handler which objects exist (the rest vanished). A watch that the
 * server ends on schedule (after a timeout drawn from [`WATCH_SERVER_TIMEOUT`, 2×] so that a fleet
 * restarted together does not stay in step) is resumed from the last resourceVersion, kept fresh
 * by bookmarks: a healthy steady state never relists. Anything else — 410 Gone, silence, a lost
 * connection, an API-server restart — is a gap: relist (from the watch cache, asking for any state
 * not older than the last one seen; a full list only after 410) and resume.
 *
 * Failed lists back off exponentially from `ERROR_THROTTLE_SLEEP`; when the API server is
 * unreachable the wait is cut short as soon as its `/readyz` answers, so a recovered server is
 * used within about a second, whatever the length of the outage. The backoff starts over after
 * every successful list.
 *
 * @module
 */
import { KubeApiError, type KubeList, type KubeObject } from "../kube/client.ts";
import { type ObjectRef, refKey } from "../model.ts";
import type { Logger } from "../plugin/logger.ts";
import { scopedAbort } from "../util/abort.ts";
import { backoffDelay } from "../util/backoff.ts";
import { type Clock, sleep, systemClock, type Timer } from "../util/clock.ts";
import { errorMessage } from "../util/errors.ts";
import { family, type Metric } from "../util/metrics.ts";
import type { ListQuery, ListWatch } from "./list_watch.ts";
import { ByteSlab } from "./_byte_slab.ts";
import { DecodeError, type ObjectSnapshot, snapshotOf } from "./objects.ts";
import type { Scope } from "./scope.ts";

/** A page being fetched, and how to give it up. */
interface Fetch {
  page: Promise<KubeList<KubeObject>>;
  cancel(): void;
}

/** Where a scope's data goes (the reconciler). */
export interface SourceHandler {
  /**
   * One page of a (re)list: objects that exist; `invalid` exist but could not be decoded. The next
   * page is fetched meanwhile, but handed over (and the one after it asked for) only once the
   * returned promise settles: a list never runs ahead of the writers by more than a page (memory
   * stays bounded by pages, not by the whole list).
   */
  page(scope: Scope, objects: ObjectSnapshot[], invalid: ObjectRef[]): void | Promise<void>;
  /** A (re)list is complete; `seen` holds the {@linkcode refKey} of every object it returned. */
  listed(scope: Scope, seen: ReadonlySet<string>): void;
  /** One watch event. */
  event(scope: Scope, type: "upsert" | "delete", object: ObjectSnapshot): void;
  /** An object that exists but could not be decoded (its files stay as they are). */
  invalid(scope: Scope, ref: ObjectRef, error: Error): void;
  /** A list failed; watch and poll loops retry it. */
  listFailed(scope: Scope, error: Error): void;
}

/** Timings, in seconds, as in the configuration. */
export interface WatchTimings {
  watchServerTimeout: number;
  watchClientTimeout: number;
  errorThrottleSleep: number;
}

/** Options of {@linkcode ScopeWatcher}. */
export interface ScopeWatcherOptions {
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  timings: WatchTimings;
  logger: Logger;
  signal: AbortSignal;
  /** Page size of lists. */
  pageSize?: number | undefined;
  clock?: Clock | undefined;
}

/** Counters for metrics. */
export interface ScopeStats {
  lists: number;
  /** Relists answered from the watch cache (`resourceVersionMatch=NotOlderThan`). */
  cachedLists: number;
  watches: number;
  events: number;
  gaps: number;
  errors: number;
}

/** Why a scope is not in step with the API server right now. */
export interface ScopeFailure {
  /** `clock.now()` of the first failure in a row. */
  since: number;
  message: string;
}

/** A watch that ended for another reason than the server's own timeout. */
class WatchGap extends Error {
  constructor(message: string, readonly expired = false) {
    super(message);
  }
}

/** A watch that lasted this long was healthy: a gap after it relists at once. */
const HEALTHY_WATCH_MS = 10_000;
/** How often the API server's `/readyz` is probed while a list backs off because it is down. */
const PROBE_INTERVAL_MS = 1_000;
/** Longest backoff, as a multiple of `ERROR_THROTTLE_SLEEP`. */
const MAX_BACKOFF_FACTOR = 8;

/**
 * Keeps one scope flowing into a {@linkcode SourceHandler}.
 *
 * @example
 * ```ts ignore
 * import { ScopeWatcher, type SourceHandler } from "./scope_watcher.ts";
 * import { listWatchFor } from "./list_watch.ts";
 * import { scopesFor } from "./scope.ts";
 * import type { Method } from "../config/types.ts";
 * import type { KubeClient } from "../kube/client.ts";
 * import type { Logger } from "../plugin/logger.ts";
 * declare const client: KubeClient;
 * declare const reconciler: SourceHandler;
 * declare const method: Method;
 * declare const logger: Logger;
 * declare const signal: AbortSignal;
 * const scope = scopesFor(["configmap"], ["default"])[0]!;
 * const timings = { watchServerTimeout: 60, watchClientTimeout: 66, errorThrottleSleep: 5 };
 * const w = new ScopeWatcher(listWatchFor(client, scope.path), scope, reconciler, {
 *   labelSelector: "app",
 *   timings,
 *   logger,
 *   signal,
 * });
 * if (method === "sleep") await w.listOnce(); // one list
 * else if (method === "list") await w.poll(60_000); // a relist every SLEEP_TIME until aborted
 * else await w.run(); // list, then watch until signal aborts
 * ```
 */
export class ScopeWatcher {
  readonly scope: Scope;
  readonly stats: ScopeStats = {
    lists: 0,
    cachedLists: 0,
    watches: 0,
    events: 0,
    gaps: 0,
    errors: 0,
  };
  /** `clock.now()` of the last sign of life from the API server (list, event, bookmark, stream open). */
  lastActivity = 0;
  /** Set when the loop ended by an unexpected error. */
  died: Error | undefined;
  /** Set while lists of this scope fail; cleared by the next successful list. */
  failure: ScopeFailure | undefined;
  /** True once a list of this scope succeeded. */
  listedOnce = false;
  readonly #lw: ListWatch;
  readonly #handler: SourceHandler;
  readonly #opts: ScopeWatcherOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  /** The newest resourceVersion seen (list, event or bookmark): where a relist may start. */
  #rv: string | undefined;

  /** Creates a watcher; nothing happens until `listOnce()`, `poll()` or `run()`. */
  constructor(lw: ListWatch, scope: Scope, handler: SourceHandler, opts: ScopeWatcherOptions) {
    this.#lw = lw;
    this.scope = scope;
    this.#handler = handler;
    this.#opts = opts;
    this.#log = opts.logger.child(scope.id);
    this.#clock = opts.clock ?? systemClock;
  }

  /** What this scope's loop counts, labelled with the scope. */
  metrics(): Metric[] {
    const l = { scope: this.scope.id };
    const c = (name: string, help: string, value: number) =>
      family(name, help, "counter", [[l, value]]);
    return [
      c("gsidecar_lists_total", "Lists per scope.", this.stats.lists),
      c(
        "gsidecar_cached_lists_total",
        "Relists answered from the API server's watch cache per scope.",
        this.stats.cachedLists,
      ),
      c("gsidecar_watches_total", "Watch streams opened per scope.", this.stats.watches),
      c("gsidecar_watch_events_total", "Watch events per scope.", this.stats.events),
      c("gsidecar_watch_gaps_total", "Watch gaps (relists) per scope.", this.stats.gaps),
      c("gsidecar_source_errors_total", "Failed lists per scope.", this.stats.errors),
      family(
        "gsidecar_last_activity_seconds",
        "Unix time of the API server's last sign of life per scope.",
        "gauge",
        [[l, this.lastActivity / 1000]],
      ),
    ];
  }

  /**
   * Lists the scope once, page by page into the handler, and returns the list's resourceVersion.
   * A failure is reported to the handler and thrown.
   */
  async listOnce(): Promise<string> {
    try {
      return await this.#list(undefined);
    } catch (e) {
      const err = asError(e);
      if (!this.#opts.signal.aborted) this.#failed(err);
      throw err;
    }
  }

  /** Lists every `intervalMs` until the signal aborts, retrying failed lists with backoff. */
  async poll(intervalMs: number): Promise<void> {
    await this.#guard(async () => {
      while (!this.#opts.signal.aborted) {
        await this.#listUntilDone(this.#rv);
        await sleep(intervalMs, this.#opts.signal, this.#clock);
      }
    });
  }

  /** List then watch until the signal aborts. Never returns early on API errors. */
  async run(): Promise<void> {
    await this.#guard(async () => {
      const signal = this.#opts.signal;
      await this.#listUntilDone(undefined);
      let gaps = 0;
      while (!signal.aborted) {
        const started = this.#clock.now();
        try {
          await this.#watchOnce(this.#rv ?? "");
          gaps = 0;
        } catch (e) {
          if (signal.aborted) break;
          gaps = this.#clock.now() - started >= HEALTHY_WATCH_MS ? 1 : gaps + 1;
          this.stats.gaps++;
          // The first gap after a healthy watch relists at once; a watch that keeps breaking
          // right away backs off.
          const delay = gaps <= 1 ? 0 : this.#backoff(gaps - 1);
          this.#log.warn("watch gap; relisting", {
            reason: errorMessage(e),
            retryInSeconds: round(delay / 1000),
          });
          if (delay > 0) await this.#wait(delay, e);
          const expired = e instanceof WatchGap && e.expired;
          await this.#listUntilDone(expired ? undefined : this.#rv);
        }
      }
    });
  }

  async #guard(loop: () => Promise<void>): Promise<void> {
    try {
      await loop();
    } catch (e) {
      if (this.#opts.signal.aborted) return;
      this.died = asError(e);
      throw e;
    }
  }

  /** Lists until a list succeeds (or the signal aborts, which throws). */
  async #listUntilDone(fromRv: string | undefined): Promise<string> {
    let hint = fromRv;
    for (let attempt = 1;; attempt++) {
      try {
        return await this.#list(hint);
      } catch (e) {
        if (this.#opts.signal.aborted) throw e;
        if (hint !== undefined && isExpired(e)) {
          // The cache cannot serve that version: a full list, at once.
          hint = undefined;
          attempt--;
          continue;
        }
        const err = asError(e);
        this.#failed(err);
        const delay = this.#backoff(attempt);
        this.#log.warn("list failed; retrying", {
          error: err.message,
          retryInSeconds: round(delay / 1000),
        });
        await this.#wait(delay, e);
      }
    }
  }

  #failed(err: Error): void {
    this.stats.errors++;
    this.failure = { since: this.failure?.since ?? this.#clock.now(), message: err.message };
    this.#handler.listFailed(this.scope, err);
  }

  /**
   * One complete list, streamed page by page; with `hint`, from the watch cache. While the writers
   * take one page the next is already being fetched (the API server's time overlaps the writing),
   * so at most two pages are in memory.
   */
  async #list(hint: string | undefined): Promise<string> {
    const seen = new Set<string>();
    let rv = "";
    let fetching: Fetch | undefined = this.#fetchPage(hint, undefined);
    try {
      while (fetching) {
        const page = await fetching.page;
        fetching = undefined;
        const objects: ObjectSnapshot[] = [];
        const invalid: ObjectRef[] = [];
        const slab = new ByteSlab();
        for (const item of page.items) {
          const snap = this.#decode(item, slab);
          const ref = snap?.ref ?? this.#refOf(item);
          seen.add(refKey(ref));
          if (snap) objects.push(snap);
          else invalid.push(ref);
        }
        const cont = page.metadata.continue || undefined;
        rv = page.metadata.resourceVersion ?? rv;
        this.lastActivity = this.#clock.now();
        if (cont) fetching = this.#fetchPage(hint, cont);
        const room = this.#handler.page(this.scope, objects, invalid);
        // The last page goes out together with the end of the list (one change set for a small
        // list); only a page with more to come waits for the writers.
        if (cont) await room;
      }
    } finally {
      fetching?.cancel();
    }
    this.stats.lists++;
    if (hint !== undefined) this.stats.cachedLists++;
    this.failure = undefined;
    this.listedOnce = true;
    this.#rv = rv || this.#rv;
    this.#handler.listed(this.scope, seen);
    this.#log.debug("listed", { objects: seen.size, resourceVersion: rv, fromCache: !!hint });
    return rv;
  }

  /** Asks for one page; each may take at most the client timeout (a frozen server must not hang). */
  #fetchPage(hint: string | undefined, cont: string | undefined): Fetch {
    const query: ListQuery = {
      labelSelector: this.#opts.labelSelector,
      fieldSelector: this.#opts.fieldSelector,
      limit: this.#opts.pageSize ?? 500,
      continue: cont,
    };
    if (hint !== undefined && cont === undefined) {
      query.resourceVersion = hint;
      query.resourceVersionMatch = "NotOlderThan";
    }
    const op = scopedAbort(
      this.#opts.signal,
      this.#opts.timings.watchClientTimeout * 1000,
      this.#clock,
    );
    const page = this.#lw.list(query, op.signal).finally(op.dispose);
    // A page fetched ahead may fail while the writers still hold the previous one: it is awaited
    // (and its error thrown) in turn, or cancelled; never an unhandled rejection.
    page.catch(() => {});
    return {
      page,
      cancel: () => (op.abort(new DOMException("list ended", "AbortError")), op.dispose()),
    };
  }

  /**
   * Waits `ms` before a retry. While the API server is unreachable, probes its `/readyz` every
   * second and returns as soon as it answers.
   */
  async #wait(ms: number, cause: unknown): Promise<void> {
    const { signal } = this.#opts;
    if (!isUnreachable(cause)) return await sleep(ms, signal, this.#clock);
    const until = this.#clock.now() + ms;
    while (!signal.aborted) {
      const left = until - this.#clock.now();
      if (left <= 0) return;
      await sleep(Math.min(PROBE_INTERVAL_MS, left), signal, this.#clock);
      if (signal.aborted || this.#clock.now() >= until) return;
      using op = scopedAbort(signal, PROBE_INTERVAL_MS * 2, this.#clock);
      if (await this.#lw.serverReady(op.signal)) {
        this.#log.info("API server is ready again; retrying now");
        return;
      }
    }
  }

  /** One watch stream, until the server ends it on schedule (returns) or a gap (throws). */
  async #watchOnce(fromRv: string): Promise<void> {
    const { timings, signal } = this.#opts;
    // As client-go: a timeout in [T, 2T], so that watches opened together do not end together.
    const timeoutSeconds = Math.max(
      1,
      Math.round(timings.watchServerTimeout * (1 + this.#clock.random())),
    );
    // Silence is judged against the timeout actually asked for.
    const silenceMs = (timings.watchClientTimeout - timings.watchServerTimeout + timeoutSeconds) *
      1000;
    using op = scopedAbort(signal, undefined, this.#clock);
    let silent = false;
    let timer: Timer | undefined;
    const arm = () => {
      timer?.cancel();
      timer = this.#clock.timer(silenceMs, () => {
        silent = true;
        op.abort();
      });
    };
    this.stats.watches++;
    const silence = () => new WatchGap(`no event or bookmark for ${round(silenceMs / 1000)}s`);
    try {
      arm();
      const events = this.#lw.watch({
        labelSelector: this.#opts.labelSelector,
        fieldSelector: this.#opts.fieldSelector,
        resourceVersion: fromRv,
        allowWatchBookmarks: true,
        timeoutSeconds,
      }, op.signal);
      for await (const ev of events) {
        arm();
        this.lastActivity = this.#clock.now();
        if (ev.type === "ERROR") {
          const status = ev.object as unknown as {
            code?: number;
            reason?: string;
            message?: string;
          };
          throw new WatchGap(
            `watch error ${status.code ?? "?"} ${status.reason ?? ""}: ${status.message ?? ""}`,
            status.code === 410,
          );
        }
        this.#rv = ev.object.metadata?.resourceVersion ?? this.#rv;
        if (ev.type === "BOOKMARK") continue;
        this.stats.events++;
        const snap = this.#decode(ev.object);
        if (!snap) continue;
        this.#handler.event(this.scope, ev.type === "DELETED" ? "delete" : "upsert", snap);
      }
      if (silent) throw silence();
    } catch (e) {
      if (silent) throw silence();
      if (isExpired(e)) throw new WatchGap(errorMessage(e), true);
      throw e;
    } finally {
      timer?.cancel();
    }
  }

  #decode(obj: KubeObject, slab?: ByteSlab): ObjectSnapshot | undefined {
    try {
      return snapshotOf(this.scope.kind, obj, slab);
    } catch (e) {
      const err = e instanceof DecodeError ? e : new Error(String(e));
      this.#handler.invalid(this.scope, this.#refOf(obj), err);
      return undefined;
    }
  }

  #refOf(obj: KubeObject): ObjectRef {
    return {
      kind: this.scope.kind,
      namespace: obj.metadata.namespace ?? "",
      name: obj.metadata.name,
    };
  }

  /** From ERROR_THROTTLE_SLEEP, doubling up to 8×, plus up to 20 % jitter. */
  #backoff(attempt: number): number {
    const base = this.#opts.timings.errorThrottleSleep * 1000;
    return backoffDelay(
      { baseMs: base, maxMs: base * MAX_BACKOFF_FACTOR, jitter: 0.2 },
      attempt,
      () => this.#clock.random(),
    );
  }
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** 410 Gone: the resourceVersion asked for is no longer available. */
function isExpired(e: unknown): boolean {
  return e instanceof KubeApiError && e.status === 410;
}

/**
 * The server could not answer (connection refused or reset, timeout, 5xx, 429) rather than refused
 * the request (401, 403, 404…): worth probing for its return.
 */
function isUnreachable(e: unknown): boolean {
  if (e instanceof WatchGap) return true;
  if (e instanceof KubeApiError) return e.status >= 500 || e.status === 429;
  return true;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
