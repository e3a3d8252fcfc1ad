/**
 * `NAMESPACE_SELECTOR`: the namespaces to watch, chosen by a label selector on Namespace objects
 * and followed live — a namespace labelled later joins, one unlabelled or deleted leaves. It runs
 * the same resilient list/watch loop as the object scopes (backoff, probes, relists after gaps);
 * a Namespace decodes as an object without entries, of which only the name is read.
 *
 * @module
 */
import type { KubeClient } from "../kube/client.ts";
import type { ObjectRef } from "../model.ts";
import type { Logger } from "../plugin/logger.ts";
import type { Clock } from "../util/clock.ts";
import { listWatchFor } from "./list_watch.ts";
import type { ObjectSnapshot } from "./objects.ts";
import type { Scope } from "./scope.ts";
import { ScopeWatcher, type SourceHandler, type WatchTimings } from "./scope_watcher.ts";

/** What the selector tells its sync. */
export interface NamespaceEvents {
  /** `namespace` matches now (at start, or since it was labelled or created). */
  added(namespace: string): void;
  /** `namespace` no longer matches, or is gone. */
  removed(namespace: string): void;
  /** The first list is done: every namespace that matched then has been `added`. */
  listed(): void;
  /** A list failed (e.g. 403: the account may not list namespaces). */
  failed(error: Error): void;
}

/** Options of {@linkcode NamespaceSelector}. */
export interface NamespaceSelectorOptions {
  /** The label selector on Namespace objects. */
  selector: string;
  /** `NAMESPACE`: only these may match; `"ALL"` for any. */
  within: readonly string[] | "ALL";
  timings: WatchTimings;
  logger: Logger;
  signal: AbortSignal;
  clock?: Clock | undefined;
}

/**
 * The pseudo-scope the namespace list runs under: its id names it in `/readyz` and metrics. Its
 * kind is never used (a Namespace has no entries to write).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { namespaceScope } from "./namespace_selector.ts";
 * assert(namespaceScope("team=a").path === "/api/v1/namespaces");
 * ```
 */
export function namespaceScope(selector: string): Scope {
  return {
    kind: "configmap",
    id: "namespaces",
    path: "/api/v1/namespaces",
    labelSelector: selector,
    gate: true,
  };
}

/**
 * Keeps the set of matching namespaces and reports its changes.
 *
 * @example
 * ```ts ignore
 * import { type NamespaceEvents, NamespaceSelector } from "./namespace_selector.ts";
 * import type { KubeClient } from "../kube/client.ts";
 * import type { Logger } from "../plugin/logger.ts";
 * declare const client: KubeClient;
 * declare const events: NamespaceEvents; // the sync: adds and drops namespaces' scopes
 * declare const logger: Logger;
 * declare const signal: AbortSignal;
 * const timings = { watchServerTimeout: 60, watchClientTimeout: 66, errorThrottleSleep: 5 };
 * const selector = new NamespaceSelector(client, events, {
 *   selector: "team=a",
 *   within: "ALL",
 *   timings,
 *   logger,
 *   signal,
 * });
 * await selector.watcher.run(); // until signal aborts
 * ```
 */
export class NamespaceSelector implements SourceHandler {
  /** The loop that lists and watches the namespaces. */
  readonly watcher: ScopeWatcher;
  readonly #events: NamespaceEvents;
  readonly #within: ReadonlySet<string> | undefined;
  readonly #current = new Set<string>();
  #listedOnce = false;

  /** Creates the selector; nothing happens until its watcher runs or lists. */
  constructor(client: KubeClient, events: NamespaceEvents, opts: NamespaceSelectorOptions) {
    this.#events = events;
    this.#within = opts.within === "ALL" ? undefined : new Set(opts.within);
    const scope = namespaceScope(opts.selector);
    this.watcher = new ScopeWatcher(listWatchFor(client, scope.path), scope, this, {
      labelSelector: opts.selector,
      timings: opts.timings,
      logger: opts.logger,
      signal: opts.signal,
      clock: opts.clock,
    });
  }

  /** The namespaces that match now. */
  get namespaces(): ReadonlySet<string> {
    return this.#current;
  }

  page(_scope: Scope, objects: ObjectSnapshot[], _invalid: ObjectRef[]): void {
    for (const o of objects) this.#add(o.ref.name);
  }

  listed(_scope: Scope, seen: ReadonlySet<string>): void {
    const names = new Set([...seen].map((key) => key.split("/").slice(2).join("/")));
    for (const ns of [...this.#current]) if (!names.has(ns)) this.#remove(ns);
    if (!this.#listedOnce) {
      this.#listedOnce = true;
      this.#events.listed();
    }
  }

  event(_scope: Scope, type: "upsert" | "delete", object: ObjectSnapshot): void {
    // An update that no longer matches the selector arrives as a deletion from the watch.
    if (type === "delete") this.#remove(object.ref.name);
    else this.#add(object.ref.name);
  }

  invalid(): void {
    // A Namespace has no content to decode.
  }

  listFailed(_scope: Scope, error: Error): void {
    this.#events.failed(error);
  }

  #add(ns: string): void {
    if (this.#current.has(ns) || (this.#within && !this.#within.has(ns))) return;
    this.#current.add(ns);
    this.#events.added(ns);
  }

  #remove(ns: string): void {
    if (!this.#current.delete(ns)) return;
    this.#events.removed(ns);
  }
}
