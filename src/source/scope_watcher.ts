/**
 * List-then-watch for one {@linkcode Scope}, resilient to every kind of gap.
 *
 * A watch that the server ends on schedule (`timeoutSeconds`) is resumed from the last
 * resourceVersion, kept fresh by bookmarks, so a healthy steady state never relists. Anything
 * else — 410 Gone, silence past the client timeout, a lost connection, an API-server restart — is
 * a gap: back off with jitter, relist, and hand the full list to the reconciler, which deletes
 * what vanished meanwhile.
 *
 * @module
 */
import { KubeApiError, type KubeClient, type KubeObject } from "../kube/client.ts";
import type { ObjectRef } from "../model.ts";
import type { Logger } from "../plugin/logger.ts";
import { DecodeError, type ObjectSnapshot, snapshotOf } from "./objects.ts";
import type { Scope } from "./scope.ts";
import { errorMessage } from "../util/errors.ts";

/** Where a scope's data goes (the reconciler). */
export interface SourceHandler {
  /** The complete selected content of `scope` after a (re)list; `invalid` objects exist but could not be decoded. */
  snapshot(scope: Scope, objects: ObjectSnapshot[], invalid: ObjectRef[]): void;
  /** One watch event. */
  event(scope: Scope, type: "upsert" | "delete", object: ObjectSnapshot): void;
  /** An object that exists but could not be decoded (its files stay as they are). */
  invalid(scope: Scope, ref: ObjectRef, error: Error): void;
}

/** Timings, in seconds, as in the configuration. */
export interface WatchTimings {
  watchServerTimeout: number;
  watchClientTimeout: number;
  errorThrottleSleep: number;
}

/** Options of {@linkcode ScopeWatcher}. */
export interface ScopeWatcherOptions {
  labelSelector: string;
  fieldSelector?: string | undefined;
  timings: WatchTimings;
  logger: Logger;
  signal: AbortSignal;
  /** Page size of lists. */
  pageSize?: number;
}

/** Counters for metrics. */
export interface ScopeStats {
  lists: number;
  watches: number;
  events: number;
  gaps: number;
  errors: number;
}

class WatchGap extends Error {
  constructor(message: string, readonly relistNow = false) {
    super(message);
  }
}

/**
 * Keeps one scope flowing into a {@linkcode SourceHandler}.
 *
 * @example
 * ```ts ignore
 * const w = new ScopeWatcher(client, scope, reconciler, { labelSelector: "app", timings, logger, signal });
 * await w.list();  // sleep and list modes
 * await w.run();   // watch mode: until signal aborts
 * ```
 */
export class ScopeWatcher {
  readonly scope: Scope;
  readonly stats: ScopeStats = { lists: 0, watches: 0, events: 0, gaps: 0, errors: 0 };
  /** `Date.now()` of the last sign of life from the API server (list, event, bookmark, stream open). */
  lastActivity = 0;
  /** Set when `run()` ended by an unexpected error. */
  died: Error | undefined;
  readonly #client: KubeClient;
  readonly #handler: SourceHandler;
  readonly #opts: ScopeWatcherOptions;
  readonly #log: Logger;

  /** Creates a watcher; nothing happens until `list()` or `run()`. */
  constructor(client: KubeClient, scope: Scope, handler: SourceHandler, opts: ScopeWatcherOptions) {
    this.#client = client;
    this.scope = scope;
    this.#handler = handler;
    this.#opts = opts;
    this.#log = opts.logger.child(scope.id);
  }

  /**
   * Lists the scope (all pages), hands the snapshot to the handler and returns the list's
   * resourceVersion. Each page may take at most the client timeout: a frozen API server must
   * not hang the loop.
   */
  async list(): Promise<string> {
    const objects: ObjectSnapshot[] = [];
    const invalid: ObjectRef[] = [];
    let cont: string | undefined;
    let rv = "";
    do {
      const page = await this.#client.list(
        this.scope.path,
        {
          labelSelector: this.#opts.labelSelector,
          fieldSelector: this.#opts.fieldSelector,
          limit: this.#opts.pageSize ?? 500,
          continue: cont,
        },
        AbortSignal.any([
          this.#opts.signal,
          AbortSignal.timeout(this.#opts.timings.watchClientTimeout * 1000),
        ]),
      );
      for (const item of page.items) {
        const snap = this.#decode(item);
        if (snap) objects.push(snap);
        else invalid.push(this.#refOf(item));
      }
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion ?? rv;
    } while (cont);
    this.stats.lists++;
    this.lastActivity = Date.now();
    this.#handler.snapshot(this.scope, objects, invalid);
    this.#log.debug("listed", { objects: objects.length, resourceVersion: rv });
    return rv;
  }

  /** Lists, retrying with backoff until it succeeds or the signal aborts. */
  async listWithRetry(): Promise<string> {
    for (let attempt = 1;; attempt++) {
      try {
        return await this.list();
      } catch (e) {
        if (this.#opts.signal.aborted) throw e;
        this.stats.errors++;
        const delay = this.#backoff(attempt);
        this.#log.warn("list failed; retrying", {
          error: describe(e),
          retryInSeconds: round(delay / 1000),
        });
        await sleep(delay, this.#opts.signal);
      }
    }
  }

  /** List then watch until the signal aborts. Never returns early on API errors. */
  async run(): Promise<void> {
    const signal = this.#opts.signal;
    try {
      let rv = await this.listWithRetry();
      let gaps = 0;
      while (!signal.aborted) {
        try {
          rv = await this.#watchOnce(rv);
          gaps = 0;
        } catch (e) {
          if (signal.aborted) break;
          gaps++;
          this.stats.gaps++;
          const relistNow = e instanceof WatchGap && e.relistNow;
          const delay = relistNow ? 0 : this.#backoff(gaps);
          this.#log.warn("watch gap; relisting", {
            reason: describe(e),
            retryInSeconds: round(delay / 1000),
          });
          if (delay > 0) await sleep(delay, signal);
          rv = await this.listWithRetry();
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      this.died = e instanceof Error ? e : new Error(String(e));
      throw e;
    }
  }

  /** One watch stream; returns the resourceVersion to resume from when the server ended it on schedule. */
  async #watchOnce(fromRv: string): Promise<string> {
    const { timings, signal } = this.#opts;
    const ac = new AbortController();
    const stop = () => ac.abort();
    signal.addEventListener("abort", stop, { once: true });
    let silent = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        silent = true;
        ac.abort();
      }, timings.watchClientTimeout * 1000);
    };
    let rv = fromRv;
    this.stats.watches++;
    try {
      arm();
      const events = this.#client.watch<KubeObject>(this.scope.path, {
        labelSelector: this.#opts.labelSelector,
        fieldSelector: this.#opts.fieldSelector,
        resourceVersion: rv,
        allowWatchBookmarks: true,
        timeoutSeconds: Math.max(1, Math.round(timings.watchServerTimeout)),
      }, ac.signal);
      this.lastActivity = Date.now();
      for await (const ev of events) {
        arm();
        this.lastActivity = Date.now();
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
        rv = ev.object.metadata?.resourceVersion ?? rv;
        if (ev.type === "BOOKMARK") continue;
        this.stats.events++;
        const snap = this.#decode(ev.object);
        if (!snap) continue;
        this.#handler.event(this.scope, ev.type === "DELETED" ? "delete" : "upsert", snap);
      }
      if (silent) throw new WatchGap(`no event or bookmark for ${timings.watchClientTimeout}s`);
      return rv;
    } catch (e) {
      if (silent) throw new WatchGap(`no event or bookmark for ${timings.watchClientTimeout}s`);
      if (e instanceof KubeApiError && e.status === 410) throw new WatchGap(e.message, true);
      throw e;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", stop);
    }
  }

  #decode(obj: KubeObject): ObjectSnapshot | undefined {
    try {
      return snapshotOf(this.scope.kind, obj);
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

  /** Exponential backoff from ERROR_THROTTLE_SLEEP, capped at 8×, with ±20 % jitter. */
  #backoff(attempt: number): number {
    const base = this.#opts.timings.errorThrottleSleep * 1000;
    const d = Math.min(base * 2 ** Math.max(0, attempt - 1), base * 8);
    return d * (0.8 + Math.random() * 0.4);
  }
}

function describe(e: unknown): string {
  return errorMessage(e);
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/**
 * Sleeps `ms`, resolving early when `signal` aborts.
 *
 * @example
 * ```ts
 * import { sleep } from "./scope_watcher.ts";
 * await sleep(1, AbortSignal.timeout(1000));
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
