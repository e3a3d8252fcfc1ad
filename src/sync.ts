/**
 * One sync: a selection of objects kept in step with one folder, with its own writers and
 * notifiers — source → reconciler → writers → notifiers for one {@linkcode SyncPlan}. A process
 * runs one per sync of its configuration (the environment declares one, a config file may declare
 * several), sharing the connection, identical watches and the health server.
 *
 * @module
 */
import type { SyncPlan } from "./config/resolve.ts";
import type { Config } from "./config/types.ts";
import { PluginHost } from "./host/plugin_host.ts";
import type { KubeClient } from "./kube/client.ts";
import { NotifyDispatcher } from "./notifiers/dispatcher.ts";
import { notifierSlots, Pipeline } from "./pipeline.ts";
import type { Logger } from "./plugin/logger.ts";
import { Reconciler } from "./reconciler/reconciler.ts";
import { listWatchFor } from "./source/list_watch.ts";
import { namespaceScope, NamespaceSelector } from "./source/namespace_selector.ts";
import { type Scope, selectScopes } from "./source/scope.ts";
import type { ScopeHub } from "./source/scope_hub.ts";
import { ScopeWatcher, type WatchTimings } from "./source/scope_watcher.ts";
import { type ScopedAbort, scopedAbort } from "./util/abort.ts";
import { errorMessage } from "./util/errors.ts";
import type { Metric } from "./util/metrics.ts";
import { FileStore } from "./writers/file_store.ts";
import { resolveUrlEntries, urlEntryOptions } from "./writers/url_entries.ts";

/** What every sync of a process shares. */
export interface SyncDeps {
  client: KubeClient;
  /** Watches shared between watch-mode syncs. */
  hub: ScopeHub;
  logger: Logger;
  /** Aborted on SIGTERM/SIGINT. */
  signal: AbortSignal;
}

/** A watcher of this sync and whether other syncs share it. */
interface Feed {
  watcher: ScopeWatcher;
  /** Set for a watcher only this sync runs (polling, once, or a namespace chosen by label). */
  own?: ScopedAbort | undefined;
  /** Its loop runs. */
  started?: boolean;
}

/**
 * The stages of one sync, and how it runs in its method.
 *
 * @example
 * ```ts ignore
 * import { Sync } from "./sync.ts";
 * import type { SyncPlan } from "./config/resolve.ts";
 * import type { KubeClient } from "./kube/client.ts";
 * import type { Logger } from "./plugin/logger.ts";
 * import type { ScopeHub } from "./source/scope_hub.ts";
 * declare const plan: SyncPlan; // one of resolveConfiguration()'s syncs
 * declare const client: KubeClient;
 * declare const hub: ScopeHub; // runs the shared watches (app.ts calls hub.run beside sync.run)
 * declare const logger: Logger;
 * declare const signal: AbortSignal;
 * const sync = await Sync.start(plan, { client, hub, logger, signal });
 * const code = await sync.run(); // METHOD=sleep: after the one sync; list, watch: on shutdown
 * await sync.close(2_000); // notifications in flight get 2 s
 * ```
 */
export class Sync {
  /** The config file's name for it; undefined for the environment's one sync. */
  readonly name: string | undefined;
  readonly config: Config;
  readonly store: FileStore;
  readonly host: PluginHost;
  readonly dispatcher: NotifyDispatcher;
  readonly pipeline: Pipeline;
  readonly reconciler: Reconciler;
  readonly #deps: SyncDeps;
  readonly #log: Logger;
  readonly #timings: WatchTimings;
  /** Object scopes by id (static, and those of namespaces chosen by label). */
  readonly #feeds = new Map<string, Feed>();
  readonly #namespaces: NamespaceSelector | undefined;
  #code = 0;

  private constructor(
    plan: SyncPlan,
    deps: SyncDeps,
    parts: {
      store: FileStore;
      host: PluginHost;
      dispatcher: NotifyDispatcher;
      pipeline: Pipeline;
      reconciler: Reconciler;
    },
  ) {
    this.name = plan.name;
    this.config = plan.config;
    this.#deps = deps;
    this.#log = plan.name === undefined ? deps.logger : deps.logger.child(plan.name);
    this.store = parts.store;
    this.host = parts.host;
    this.dispatcher = parts.dispatcher;
    this.pipeline = parts.pipeline;
    this.reconciler = parts.reconciler;
    const c = plan.config;
    this.#timings = {
      watchServerTimeout: c.watchServerTimeout,
      watchClientTimeout: c.watchClientTimeout,
      errorThrottleSleep: c.errorThrottleSleep,
    };
    if (c.namespaceSelector !== undefined) {
      this.#namespaces = new NamespaceSelector(deps.client, {
        added: (ns) => this.#addNamespace(ns),
        removed: (ns) => this.#removeNamespace(ns),
        listed: () => this.reconciler.listed(namespaceScope(c.namespaceSelector!), new Set()),
        failed: (e) => this.reconciler.listFailed(namespaceScope(c.namespaceSelector!), e),
      }, {
        selector: c.namespaceSelector,
        within: c.namespaces,
        timings: this.#timings,
        logger: this.#log.child("source"),
        signal: deps.signal,
      });
    }
  }

  /** Opens the folder, creates the plugin instances and wires the stages of `plan`. */
  static async start(plan: SyncPlan, deps: SyncDeps): Promise<Sync> {
    const config = plan.config;
    const logger = plan.name === undefined ? deps.logger : deps.logger.child(plan.name);
    const store = await FileStore.open({
      folder: config.folder,
      allowedRoots: config.folderAnnotationRoots,
      stateDir: config.stateDir,
      atomicSet: config.atomicSet,
      logger: logger.child("sink"),
    });
    let host: PluginHost;
    try {
      host = await PluginHost.create({
        writers: plan.writers,
        notifiers: plan.notifiers,
        sinkFor: (instance) => store.scoped(instance),
        logger,
        signal: deps.signal,
        gunzip: config.gunzip ? { maxBytes: config.maxDecompressedSize } : undefined,
      });
    } catch (e) {
      await store.close();
      throw e;
    }
    const dispatcher = new NotifyDispatcher(notifierSlots(host), {
      signal: deps.signal,
      logger: logger.child("notify"),
    });
    const urlOptions = urlEntryOptions(config.downloads, logger.child("url"), deps.signal);
    const pipeline = new Pipeline({
      store,
      host,
      dispatcher,
      logger: logger.child("pipeline"),
      prepare: (cs) => resolveUrlEntries(cs, urlOptions),
    });
    const scopes = config.namespaceSelector === undefined
      ? staticScopes(config)
      : [namespaceScope(config.namespaceSelector)];
    const reconciler = new Reconciler({
      folder: config.folder,
      folderAnnotation: config.folderAnnotation,
      folderAnnotationRoots: config.folderAnnotationRoots,
      uniqueFilenames: config.uniqueFilenames,
      defaultFileMode: config.defaultFileMode,
      secretFileMode: config.secretFileMode,
      // Scopes that read objects by name select exactly; the names must not filter them again.
      resourceNames: config.resourceNamesIgnoreLabel ? [] : config.resourceNames,
      scopes,
      logger: logger.child("reconciler"),
      apply: (step) => pipeline.apply(step),
    });
    dispatcher.holdWhile(() => reconciler.busy);
    const sync = new Sync(plan, deps, { store, host, dispatcher, pipeline, reconciler });
    if (config.namespaceSelector === undefined) {
      for (const scope of scopes) sync.#feed(scope, config.method === "watch");
    }
    return sync;
  }

  /**
   * Runs in the sync's method: `sleep` lists once and resolves with the exit code; `list` polls
   * and `watch` watches until shutdown (shared watches run in the hub, not here).
   */
  async run(): Promise<number> {
    const { method } = this.config;
    if (method === "sleep") return await this.#runOnce();
    const loops: Promise<void>[] = [];
    if (this.#namespaces) {
      if (method === "watch") {
        loops.push(this.#guard(this.#namespaces.watcher, () => this.#namespaces!.watcher.run()));
      } else await this.#namespaces.watcher.listOnce().catch(() => {});
    }
    for (const feed of this.#feeds.values()) {
      if (feed.own !== undefined && !feed.started) loops.push(this.#start(feed));
    }
    await Promise.all(loops);
    // Scopes of namespaces that join later run from #addNamespace; wait for shutdown.
    if (!this.#deps.signal.aborted) {
      await new Promise<void>((resolve) =>
        this.#deps.signal.addEventListener("abort", () => resolve(), { once: true })
      );
    }
    return this.#code;
  }

  /** 1 once a loop of this sync ended by an unexpected error, else 0. */
  get loopCode(): number {
    return this.#code;
  }

  /** Marks the exit code when a loop ends by an unexpected error (the others go on). */
  loopDied(watcher: ScopeWatcher, error: unknown): void {
    this.#log.error("watch loop died", { scope: watcher.scope.id, error: errorMessage(error) });
    this.#code = 1;
  }

  /** Every watcher this sync reads from (shared ones included), for health and metrics. */
  get watchers(): ScopeWatcher[] {
    const out = [...this.#feeds.values()].map((f) => f.watcher);
    if (this.#namespaces) out.unshift(this.#namespaces.watcher);
    return out;
  }

  /** True once every scope has listed and the initial sync is written. */
  get ready(): boolean {
    return this.reconciler.ready;
  }

  /** Why the sync is not ready yet. */
  notReady(): string[] {
    return this.watchers.flatMap((w) => {
      if (!w.failure) return [];
      const hint = w === this.#namespaces?.watcher
        ? " (NAMESPACE_SELECTOR needs list and watch on namespaces: a ClusterRole, see deploy/)"
        : "";
      return [`${this.#prefix}${w.scope.id}: cannot list: ${w.failure.message}${hint}`];
    });
  }

  /**
   * What is wrong now: writes failing, loops dead, the API server silent for longer than `stallMs`
   * (since `started` for a scope that never heard from it).
   */
  problems(stallMs: number, started: number): string[] {
    const out = this.store.problems().map((p) => `${this.#prefix}${p}`);
    for (const w of this.watchers) {
      if (w.died) out.push(`${this.#prefix}${w.scope.id}: loop died: ${w.died.message}`);
      const silentMs = Date.now() - (w.lastActivity || started);
      if (silentMs > stallMs) {
        out.push(
          `${this.#prefix}${w.scope.id}: no answer from the API server for ${
            Math.round(silentMs / 1000)
          }s`,
        );
      }
    }
    return out;
  }

  /** What this sync's stages count; labelled `sync` when the sync has a name. */
  metrics(): Metric[] {
    const families = [
      ...this.reconciler.metrics(),
      ...this.watchers.flatMap((w) => w.metrics()),
      ...this.pipeline.metrics(),
      ...this.store.metrics(),
      ...this.dispatcher.metrics(),
    ];
    if (this.name === undefined) return families;
    const sync = this.name;
    return families.map((f) => ({
      ...f,
      samples: f.samples.map((s) => ({ ...s, labels: { sync, ...s.labels } })),
    }));
  }

  /**
   * Stops writing (the write in progress finishes), gives notifications in flight `graceMs`,
   * closes the plugins and the folder.
   */
  async close(graceMs: number): Promise<void> {
    for (const feed of this.#feeds.values()) feed.own?.abort();
    await this.reconciler.close();
    await this.dispatcher.close(graceMs);
    await this.host.close();
    await this.store.close();
    for (const feed of this.#feeds.values()) feed.own?.dispose();
  }

  get #prefix(): string {
    return this.name === undefined ? "" : `${this.name}: `;
  }

  /** Starts feeding `scope` into the reconciler: shared through the hub when `shared`. */
  #feed(scope: Scope, shared: boolean): Feed {
    if (shared) {
      const feed = { watcher: this.#deps.hub.subscribe(scope, this.reconciler) };
      this.#feeds.set(scope.id, feed);
      return feed;
    }
    const own = scopedAbort(this.#deps.signal);
    const watcher = new ScopeWatcher(
      listWatchFor(this.#deps.client, scope.path),
      scope,
      this.reconciler,
      {
        labelSelector: scope.labelSelector,
        fieldSelector: scope.fieldSelector,
        timings: this.#timings,
        logger: this.#log.child("source"),
        signal: own.signal,
      },
    );
    const feed = { watcher, own };
    this.#feeds.set(scope.id, feed);
    return feed;
  }

  #addNamespace(ns: string): void {
    this.#log.info("namespace selected", { namespace: ns });
    for (const scope of staticScopes({ ...this.config, namespaces: [ns] })) {
      if (this.#feeds.has(scope.id)) continue;
      this.reconciler.expect(scope);
      const feed = this.#feed(scope, false);
      // A one-shot sync lists it with the others; a running one starts its loop now.
      if (this.config.method !== "sleep") void this.#start(feed);
    }
  }

  #start(feed: Feed): Promise<void> {
    feed.started = true;
    const w = feed.watcher;
    const { method, sleepTime } = this.config;
    return this.#guard(w, () => method === "list" ? w.poll(sleepTime * 1000) : w.run());
  }

  #removeNamespace(ns: string): void {
    this.#log.info("namespace no longer selected; its files go", { namespace: ns });
    for (const scope of staticScopes({ ...this.config, namespaces: [ns] })) {
      const feed = this.#feeds.get(scope.id);
      if (feed === undefined) continue;
      this.#feeds.delete(scope.id);
      feed.own?.abort();
      feed.own?.dispose();
      this.reconciler.drop(scope);
    }
  }

  #guard(watcher: ScopeWatcher, loop: () => Promise<void>): Promise<void> {
    return loop().catch((e) => this.loopDied(watcher, e));
  }

  async #runOnce(): Promise<number> {
    if (this.#namespaces) {
      try {
        await this.#namespaces.watcher.listOnce();
      } catch {
        // Reported below with the other failed lists.
      }
    }
    const watchers = [...this.#feeds.values()].map((f) => f.watcher);
    // Every scope is tried, so that one the sidecar may not read does not keep the others' files
    // from being written; the exit code still says it failed.
    const results = await Promise.allSettled(watchers.map((w) => w.listOnce()));
    const failed = results.flatMap((r, i) =>
      r.status === "rejected" ? [`${watchers[i]!.scope.id}: ${errorMessage(r.reason)}`] : []
    );
    if (this.#namespaces?.watcher.failure) {
      failed.push(`namespaces: ${this.#namespaces.watcher.failure.message}`);
    }
    await this.reconciler.initialApplied;
    await this.reconciler.idle();
    await this.dispatcher.idle();
    for (const f of failed) this.#log.error("sync failed", { error: f });
    // Refused keys (content that does not parse) are logged but do not fail a one-shot sync; a
    // scope that could not be listed, an object that could not be placed or a writer that failed
    // do.
    return failed.length > 0 || this.reconciler.stats.rejectedObjects > 0 ||
        this.pipeline.stats.writerErrors > 0
      ? 1
      : 0;
  }
}

/** The object scopes of `config`'s selection (no namespace selector). */
function staticScopes(config: Config): Scope[] {
  return selectScopes({
    kinds: config.resources,
    namespaces: config.namespaces,
    labelSelector: config.labelSelector,
    names: config.resourceNames,
    namesIgnoreLabel: config.resourceNamesIgnoreLabel,
  });
}
