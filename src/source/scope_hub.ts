/**
 * One watch per distinct scope, however many syncs of the process want it: a scope (same
 * collection, same label and field selectors) that several syncs select is listed and watched
 * once, and what it sees goes to each of them.
 *
 * @module
 */
import type { KubeClient } from "../kube/client.ts";
import type { ObjectRef } from "../model.ts";
import type { Logger } from "../plugin/logger.ts";
import { listWatchFor } from "./list_watch.ts";
import type { ObjectSnapshot } from "./objects.ts";
import type { Scope } from "./scope.ts";
import { ScopeWatcher, type SourceHandler, type WatchTimings } from "./scope_watcher.ts";

/** Options of {@linkcode ScopeHub}. */
export interface ScopeHubOptions {
  timings: WatchTimings;
  logger: Logger;
  signal: AbortSignal;
}

/** What one shared scope's data goes to: every subscriber, in order of subscription. */
class FanOut implements SourceHandler {
  readonly handlers: SourceHandler[] = [];

  async page(scope: Scope, objects: ObjectSnapshot[], invalid: ObjectRef[]): Promise<void> {
    // The next page waits for the slowest subscriber's writers.
    await Promise.all(this.handlers.map((h) => h.page(scope, objects, invalid)));
  }
  listed(scope: Scope, seen: ReadonlySet<string>): void {
    for (const h of this.handlers) h.listed(scope, seen);
  }
  event(scope: Scope, type: "upsert" | "delete", object: ObjectSnapshot): void {
    for (const h of this.handlers) h.event(scope, type, object);
  }
  invalid(scope: Scope, ref: ObjectRef, error: Error): void {
    for (const h of this.handlers) h.invalid(scope, ref, error);
  }
  listFailed(scope: Scope, error: Error): void {
    for (const h of this.handlers) h.listFailed(scope, error);
  }
}

/** The key two scopes share when they would send the same requests. */
function keyOf(scope: Scope): string {
  return `${scope.path}?l=${scope.labelSelector ?? ""}&f=${scope.fieldSelector ?? ""}`;
}

/**
 * Shared watches of the process's watch-mode syncs: subscribe every sync's scopes first, then
 * {@linkcode ScopeHub.run}.
 *
 * @example
 * ```ts ignore
 * import { ScopeHub } from "./scope_hub.ts";
 * import { scopesFor } from "./scope.ts";
 * import type { SourceHandler } from "./scope_watcher.ts";
 * import type { KubeClient } from "../kube/client.ts";
 * import type { Logger } from "../plugin/logger.ts";
 * declare const client: KubeClient;
 * declare const dashboards: SourceHandler; // one sync's reconciler
 * declare const datasources: SourceHandler; // another sync's
 * declare const logger: Logger;
 * declare const signal: AbortSignal;
 * const timings = { watchServerTimeout: 60, watchClientTimeout: 66, errorThrottleSleep: 5 };
 * const hub = new ScopeHub(client, { timings, logger, signal });
 * const scope = { ...scopesFor(["configmap"], ["monitoring"])[0]!, labelSelector: "grafana" };
 * const watcher = hub.subscribe(scope, dashboards);
 * const same = hub.subscribe({ ...scope }, datasources); // identical scope: the same watcher
 * await hub.run((died, error) => logger.error("watch loop died", { scope: died.scope.id, error }));
 * ```
 */
export class ScopeHub {
  readonly #client: KubeClient;
  readonly #opts: ScopeHubOptions;
  readonly #shared = new Map<string, { scope: Scope; fan: FanOut; watcher: ScopeWatcher }>();

  /** Creates an empty hub. */
  constructor(client: KubeClient, opts: ScopeHubOptions) {
    this.#client = client;
    this.#opts = opts;
  }

  /**
   * Feeds `scope`'s data to `handler` and returns the watcher that watches it, shared with any
   * earlier subscriber of an identical scope (whose {@linkcode Scope} object is the one handed to
   * every handler: ids are equal).
   */
  subscribe(scope: Scope, handler: SourceHandler): ScopeWatcher {
    const key = keyOf(scope);
    let entry = this.#shared.get(key);
    if (entry === undefined) {
      const fan = new FanOut();
      const watcher = new ScopeWatcher(listWatchFor(this.#client, scope.path), scope, fan, {
        labelSelector: scope.labelSelector,
        fieldSelector: scope.fieldSelector,
        timings: this.#opts.timings,
        logger: this.#opts.logger,
        signal: this.#opts.signal,
      });
      entry = { scope, fan, watcher };
      this.#shared.set(key, entry);
    }
    entry.fan.handlers.push(handler);
    return entry.watcher;
  }

  /** Distinct scopes watched. */
  get size(): number {
    return this.#shared.size;
  }

  /**
   * Runs every watch until the signal aborts; `onDied` hears of a loop that ended by an
   * unexpected error (the others go on).
   */
  async run(onDied: (watcher: ScopeWatcher, error: unknown) => void): Promise<void> {
    await Promise.all(
      [...this.#shared.values()].map(({ watcher }) =>
        watcher.run().catch((e) => onDied(watcher, e))
      ),
    );
  }
}
