/**
 * The reconciler turns list pages and watch events into {@linkcode SyncStep}s for the write stage.
 *
 * It remembers, per object, only a hash of what the object contributes (entries, target folder,
 * naming, mode) — never the content — so an unchanged object, a replayed event or a relist of an
 * unchanged cluster produces no change at all. Content travels only inside the pending change
 * until the writers have it.
 *
 * Nothing waits on a timer: a change goes to the writers as soon as the write stage is free, and
 * whatever arrives meanwhile goes with the next step. The initial sync streams the same way, page
 * by page, and its last step (once every scope has listed, or failed its first attempt) is marked
 * so that notifiers hear about the whole initial sync once.
 *
 * @module
 */
import {
  type Change,
  type ChangeSet,
  type KindInNamespace,
  type NameFilter,
  nameSelected,
  type ObjectRef,
  refKey,
  type SyncStep,
} from "../model.ts";
import type { Logger } from "../plugin/logger.ts";
import type { ObjectSnapshot } from "../source/objects.ts";
import type { Scope } from "../source/scope.ts";
import type { SourceHandler } from "../source/scope_watcher.ts";
import { family, type Metric } from "../util/metrics.ts";
import { Hash64 } from "../util/hash64.ts";
import { resolveTargetDir } from "./target.ts";

/** Options of {@linkcode Reconciler}. */
export interface ReconcilerOptions {
  folder: string;
  folderAnnotation: string;
  folderAnnotationRoots: readonly string[];
  uniqueFilenames: boolean;
  defaultFileMode?: number | undefined;
  /** Secret files' mode without `defaultFileMode`: absent 0o600, `undefined` the umask (COMPAT=kiwigrid). */
  secretFileMode?: number | undefined;
  resourceNames: readonly NameFilter[];
  /**
   * Every scope that must list before the initial sync is complete; more may be announced later
   * with {@linkcode Reconciler.expect} (namespaces chosen by label).
   */
  scopes: readonly Scope[];
  logger: Logger;
  /** Applies one step (writers, then notifiers); returns false when a writer failed. */
  apply: (step: SyncStep) => Promise<boolean>;
}

interface Known {
  scopeId: string;
  hash: string;
  resourceVersion: string | undefined;
}

/**
 * Receives the source's data (it is a {@linkcode SourceHandler}) and drives the write stage.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Reconciler } from "./reconciler.ts";
 * import type { SyncStep } from "../model.ts";
 * import type { ListWatch } from "../source/list_watch.ts";
 * import { scopesFor } from "../source/scope.ts";
 * import { ScopeWatcher } from "../source/scope_watcher.ts";
 * import { recordingLogger } from "../testing/logger.ts";
 * const { logger } = recordingLogger();
 * const scope = scopesFor(["configmap"], ["ns"])[0]!;
 * // What the API server would list; production uses listWatchFor(client, scope.path).
 * const lw: ListWatch = {
 *   list: () =>
 *     Promise.resolve({
 *       metadata: { resourceVersion: "7" },
 *       items: [{ metadata: { name: "dash", namespace: "ns" }, data: { "a.json": "{}" } }],
 *     }),
 *   watch: () => {
 *     throw new Error("listOnce does not watch");
 *   },
 *   serverReady: () => Promise.resolve(true),
 * };
 * const steps: SyncStep[] = [];
 * const reconciler = new Reconciler({
 *   folder: "/config",
 *   folderAnnotation: "k8s-sidecar-target-directory",
 *   folderAnnotationRoots: [],
 *   uniqueFilenames: false,
 *   resourceNames: [],
 *   scopes: [scope],
 *   logger,
 *   // Production: the pipeline's writers, then its notifiers.
 *   apply: (step) => {
 *     steps.push(step);
 *     return Promise.resolve(true);
 *   },
 * });
 * const timings = { watchServerTimeout: 60, watchClientTimeout: 66, errorThrottleSleep: 5 };
 * const signal = new AbortController().signal;
 * await new ScopeWatcher(lw, scope, reconciler, { timings, logger, signal }).listOnce();
 * await reconciler.initialApplied;
 * assert.equal(steps.length, 1);
 * assert.ok(steps[0]!.endOfInitial);
 * assert.deepEqual([...steps[0]!.changeSet.changes[0]!.entries.keys()], ["a.json"]);
 * assert.ok(reconciler.ready);
 * ```
 */
export class Reconciler implements SourceHandler {
  readonly #opts: ReconcilerOptions;
  readonly #log: Logger;
  readonly #known = new Map<string, Known>();
  /** Ids of the scopes this reconciler is fed by. */
  readonly #scopes: Set<string>;
  /** Objects that exist but are refused (bad annotation, undecodable): their old files are kept. */
  readonly #held = new Map<string, { scopeId: string; ref: ObjectRef }>();
  readonly #pending = new Map<string, Change>();
  /** Scopes that listed at least once. */
  readonly #listed = new Set<string>();
  /** Scopes that listed or failed to list at least once. */
  readonly #attempted = new Set<string>();
  /** Scopes whose first list completed and whose files of vanished objects are still to prune. */
  #pruneDue: KindInNamespace[] = [];
  #pruneAllDue = false;
  #initialDone = false;
  #initialWritten = false;
  /** The step after which every scope has listed (the one that prunes "all") is written. */
  #allListedWritten = false;
  #closed = false;
  #seq = 0;
  #scheduled = false;
  #applying: Promise<void> | undefined;
  #idleWaiters: (() => void)[] = [];
  /** Lists waiting until the pending changes were handed to the writers. */
  #roomWaiters: (() => void)[] = [];
  readonly #initial = Promise.withResolvers<void>();
  /** Counters for metrics. */
  readonly stats = { changeSets: 0, changes: 0, skippedUnchanged: 0, rejectedObjects: 0 };

  /** Creates a reconciler. */
  constructor(opts: ReconcilerOptions) {
    this.#opts = opts;
    this.#log = opts.logger;
    this.#scopes = new Set(opts.scopes.map((s) => s.id));
  }

  /**
   * A scope joins (a namespace began to match `NAMESPACE_SELECTOR`): until it has listed, the
   * sidecar is not ready, and before the initial sync is complete it waits for it too.
   */
  expect(scope: Scope): void {
    this.#scopes.add(scope.id);
  }

  /**
   * A scope leaves (its namespace no longer matches, or is gone): its objects are deleted, so
   * their files go.
   */
  drop(scope: Scope): void {
    if (!this.#scopes.delete(scope.id)) return;
    for (const [key, known] of [...this.#known]) {
      if (known.scopeId === scope.id) this.#delete(parseKey(key), "scope dropped");
    }
    for (const held of [...this.#held.values()]) {
      if (held.scopeId === scope.id) this.#delete(held.ref, "scope dropped");
    }
    this.#listed.delete(scope.id);
    this.#attempted.delete(scope.id);
    this.#schedule();
  }

  /** Resolves once the step that completes the initial sync has been applied. */
  get initialApplied(): Promise<void> {
    return this.#initial.promise;
  }

  /** True once every scope has listed and the initial sync is written. */
  get ready(): boolean {
    return this.#initialWritten && this.#allListedWritten;
  }

  /** Every object currently selected, including refused ones whose old files are kept. */
  liveRefs(): ObjectRef[] {
    const refs: ObjectRef[] = [];
    for (const key of this.#known.keys()) refs.push(parseKey(key));
    for (const { ref } of this.#held.values()) refs.push(ref);
    return refs;
  }

  /** Number of objects currently selected. */
  get objectCount(): number {
    return this.#known.size;
  }

  page(scope: Scope, objects: ObjectSnapshot[], _invalid: ObjectRef[]): Promise<void> {
    for (const obj of objects) {
      if (this.#selected(obj.ref)) this.#upsert(scope, obj);
    }
    this.#schedule();
    // The next page may come once this one's changes are on their way to the writers.
    if (this.#pending.size === 0 || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  listed(scope: Scope, seen: ReadonlySet<string>): void {
    for (const [key, known] of this.#known) {
      if (known.scopeId === scope.id && !seen.has(key)) {
        this.#delete(parseKey(key), "gone from list");
      }
    }
    for (const [key, held] of this.#held) {
      if (held.scopeId === scope.id && !seen.has(key)) this.#delete(held.ref, "gone from list");
    }
    if (!this.#listed.has(scope.id)) {
      this.#listed.add(scope.id);
      if (!scope.gate) this.#pruneDue.push({ kind: scope.kind, namespace: scope.namespace });
      if ([...this.#scopes].every((id) => this.#listed.has(id))) this.#pruneAllDue = true;
    }
    this.#attempted.add(scope.id);
    this.#schedule();
  }

  event(scope: Scope, type: "upsert" | "delete", obj: ObjectSnapshot): void {
    if (!this.#selected(obj.ref)) return;
    if (type === "delete") this.#delete(obj.ref, "deleted");
    else this.#upsert(scope, obj);
    this.#schedule();
  }

  invalid(scope: Scope, ref: ObjectRef, error: Error): void {
    this.stats.rejectedObjects++;
    this.#log.error("object refused; its files stay as they were", {
      object: refKey(ref),
      error: error.message,
    });
    this.#held.set(refKey(ref), { scopeId: scope.id, ref });
  }

  listFailed(scope: Scope, _error: Error): void {
    // A scope that cannot be read must not hold back the initial sync of the others.
    if (this.#attempted.has(scope.id)) return;
    this.#attempted.add(scope.id);
    this.#schedule();
  }

  /** What the reconciler counts. */
  metrics(): Metric[] {
    return [
      family("gsidecar_ready", "1 once the initial sync is written.", "gauge", this.ready ? 1 : 0),
      family("gsidecar_objects", "Selected objects.", "gauge", this.objectCount),
      family(
        "gsidecar_sync_pending",
        "1 while changes wait or are being written.",
        "gauge",
        this.busy ? 1 : 0,
      ),
      family(
        "gsidecar_objects_refused_total",
        "Objects refused (undecodable, or a folder annotation outside the allowed roots).",
        "counter",
        this.stats.rejectedObjects,
      ),
    ];
  }

  /** True while changes wait or a step is being written. */
  get busy(): boolean {
    return this.#busy();
  }

  /** Resolves when nothing is pending and no step is being applied. */
  idle(): Promise<void> {
    if (!this.#busy()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stops emitting: pending changes are dropped (the next start relists) and the step being
   * applied, if any, is awaited.
   */
  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#roomWaiters.splice(0)) w();
    await this.#applying;
    for (const w of this.#idleWaiters.splice(0)) w();
  }

  #selected(ref: ObjectRef): boolean {
    return nameSelected(this.#opts.resourceNames, ref);
  }

  #upsert(scope: Scope, obj: ObjectSnapshot): void {
    const key = refKey(obj.ref);
    const known = this.#known.get(key);
    if (known && obj.resourceVersion && known.resourceVersion === obj.resourceVersion) {
      this.stats.skippedUnchanged++;
      return;
    }
    const target = resolveTargetDir(
      { folder: this.#opts.folder, roots: this.#opts.folderAnnotationRoots },
      obj.annotations[this.#opts.folderAnnotation],
    );
    if ("error" in target) {
      this.invalid(scope, obj.ref, new Error(target.error));
      return;
    }
    this.#held.delete(key);
    const namePrefix = this.#opts.uniqueFilenames
      ? `namespace_${obj.ref.namespace}.${obj.ref.kind}_${obj.ref.name}.`
      : "";
    const fileMode = this.#opts.defaultFileMode ??
      (obj.ref.kind === "secret"
        ? ("secretFileMode" in this.#opts ? this.#opts.secretFileMode : 0o600)
        : undefined);
    const hash = contributionHash(obj, target.dir, namePrefix, fileMode);
    if (known?.hash === hash) {
      known.resourceVersion = obj.resourceVersion;
      this.stats.skippedUnchanged++;
      return;
    }
    this.#known.set(key, { scopeId: scope.id, hash, resourceVersion: obj.resourceVersion });
    this.#enqueue({
      type: "upsert",
      ref: obj.ref,
      resourceVersion: obj.resourceVersion,
      labels: obj.labels,
      annotations: obj.annotations,
      entries: obj.entries,
      dir: target.dir,
      namePrefix,
      fileMode,
    });
  }

  #delete(ref: ObjectRef, why: string): void {
    const key = refKey(ref);
    const wasHeld = this.#held.delete(key);
    if (!this.#known.delete(key) && !wasHeld) return;
    this.#log.debug("object gone", { object: key, why });
    this.#enqueue({
      type: "delete",
      ref,
      labels: {},
      annotations: {},
      entries: new Map(),
      dir: this.#opts.folder,
      namePrefix: "",
    });
  }

  #enqueue(change: Change): void {
    // Re-insert so that the change set lists objects in the order of their latest change.
    this.#pending.delete(refKey(change.ref));
    this.#pending.set(refKey(change.ref), change);
  }

  #endOfInitialDue(): boolean {
    return !this.#initialDone && [...this.#scopes].every((id) => this.#attempted.has(id));
  }

  #due(): boolean {
    return this.#pending.size > 0 || this.#pruneDue.length > 0 || this.#pruneAllDue ||
      this.#endOfInitialDue();
  }

  #busy(): boolean {
    return this.#applying !== undefined || this.#scheduled || (!this.#closed && this.#due());
  }

  /**
   * Emits at the end of the current turn, so that what one page or one chunk of watch events
   * delivers goes out as one step; while a step is being applied, the next one waits for it.
   */
  #schedule(): void {
    if (this.#closed || this.#applying || this.#scheduled) return;
    if (!this.#due()) {
      for (const w of this.#idleWaiters.splice(0)) w();
      return;
    }
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      if (!this.#closed && !this.#applying && this.#due()) void this.#emit();
      else this.#schedule();
    });
  }

  async #emit(): Promise<void> {
    const endOfInitial = this.#endOfInitialDue();
    const initial = !this.#initialDone;
    if (endOfInitial) this.#initialDone = true;
    const changes = [...this.#pending.values()];
    this.#pending.clear();
    for (const w of this.#roomWaiters.splice(0)) w();
    const changeSet: ChangeSet = { seq: ++this.#seq, initial, changes };
    let prune: SyncStep["prune"];
    const allListed = this.#pruneAllDue;
    if (this.#pruneAllDue || this.#pruneDue.length > 0) {
      prune = { where: this.#pruneAllDue ? "all" : this.#pruneDue, live: this.liveRefs() };
      this.#pruneDue = [];
      this.#pruneAllDue = false;
    }
    this.stats.changeSets++;
    this.stats.changes += changes.length;
    const run = async () => {
      let ok = false;
      try {
        ok = await this.#opts.apply({ changeSet, prune, endOfInitial });
      } catch (e) {
        this.#log.error("applying a change set failed", { seq: changeSet.seq, error: String(e) });
      }
      if (!ok) {
        // Forget the hashes of what failed so the next list or event applies them again.
        for (const c of changes) {
          const known = this.#known.get(refKey(c.ref));
          if (known) Object.assign(known, { hash: "", resourceVersion: undefined });
        }
      }
    };
    this.#applying = run();
    await this.#applying;
    this.#applying = undefined;
    if (allListed) this.#allListedWritten = true;
    if (endOfInitial) {
      this.#initialWritten = true;
      this.#initial.resolve();
    }
    this.#schedule();
  }
}

function parseKey(key: string): ObjectRef {
  const [kind, namespace, ...name] = key.split("/");
  return { kind: kind as ObjectRef["kind"], namespace: namespace ?? "", name: name.join("/") };
}

function contributionHash(
  obj: ObjectSnapshot,
  dir: string,
  namePrefix: string,
  fileMode: number | undefined,
): string {
  const h = new Hash64().text(dir).text(namePrefix).text(fileMode?.toString(8) ?? "");
  for (const key of [...obj.entries.keys()].sort()) h.text(key).bytes(obj.entries.get(key)!);
  return h.hex();
}
