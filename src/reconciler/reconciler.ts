/**
 * The reconciler turns list snapshots and watch events into debounced {@linkcode ChangeSet}s.
 *
 * It remembers, per object, only a hash of what the object contributes (entries, target folder,
 * naming, mode) — never the content — so an unchanged object, a replayed event or a relist of an
 * unchanged cluster produces no change at all. Content travels only inside the pending change
 * until the writers have it.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { ResourceNameFilter } from "../config/types.ts";
import { type Change, type ChangeSet, type ObjectRef, refKey } from "../model.ts";
import type { Logger } from "../plugin/logger.ts";
import type { ObjectSnapshot } from "../source/objects.ts";
import type { Scope } from "../source/scope.ts";
import type { SourceHandler } from "../source/scope_watcher.ts";
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
  resourceNames: readonly ResourceNameFilter[];
  /** Every scope that must deliver its first list before the initial change set goes out. */
  scopes: readonly Scope[];
  /** Quiet window before a change set is emitted. */
  quietMs?: number;
  /** Longest a change may wait while changes keep coming. */
  maxDelayMs?: number;
  logger: Logger;
  /** Applies one change set (writers, then notifiers); returns false when a writer failed. */
  apply: (changeSet: ChangeSet) => Promise<boolean>;
}

interface Known {
  scopeId: string;
  hash: string;
  resourceVersion: string | undefined;
}

/**
 * Receives the source's data (it is a {@linkcode SourceHandler}) and drives the pipeline.
 *
 * @example
 * ```ts ignore
 * const reconciler = new Reconciler({ folder, scopes, apply: (cs) => pipeline.apply(cs), ... });
 * await new ScopeWatcher(client, scope, reconciler, opts).list();
 * await reconciler.initialApplied;
 * ```
 */
export class Reconciler implements SourceHandler {
  readonly #opts: ReconcilerOptions;
  readonly #log: Logger;
  readonly #known = new Map<string, Known>();
  /** Objects that exist but are refused (bad annotation, undecodable): their old files are kept. */
  readonly #held = new Map<string, { scopeId: string; ref: ObjectRef }>();
  readonly #pending = new Map<string, Change>();
  readonly #listed = new Set<string>();
  #initialDone = false;
  #closed = false;
  #seq = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #firstPendingAt = 0;
  #applying: Promise<void> | undefined;
  #idleWaiters: (() => void)[] = [];
  readonly #initial = Promise.withResolvers<void>();
  /** Counters for metrics. */
  readonly stats = { changeSets: 0, changes: 0, skippedUnchanged: 0, rejectedObjects: 0 };

  /** Creates a reconciler. */
  constructor(opts: ReconcilerOptions) {
    this.#opts = opts;
    this.#log = opts.logger;
  }

  /** Resolves once the initial change set has been applied. */
  get initialApplied(): Promise<void> {
    return this.#initial.promise;
  }

  /** True once the initial change set has been applied. */
  get ready(): boolean {
    return this.#initialDone && this.#applying === undefined && this.#seq > 0;
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

  snapshot(scope: Scope, objects: ObjectSnapshot[], invalid: ObjectRef[]): void {
    const present = new Set<string>();
    for (const obj of objects) {
      if (!this.#selected(obj.ref)) continue;
      present.add(refKey(obj.ref));
      this.#upsert(scope, obj);
    }
    for (const ref of invalid) present.add(refKey(ref));
    for (const [key, known] of this.#known) {
      if (known.scopeId === scope.id && !present.has(key)) {
        this.#delete(parseKey(key), "gone from list");
      }
    }
    for (const [key, held] of this.#held) {
      if (held.scopeId === scope.id && !present.has(key)) this.#delete(held.ref, "gone from list");
    }
    this.#listed.add(scope.id);
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

  /** Resolves when nothing is pending and no change set is being applied. */
  idle(): Promise<void> {
    if (!this.#applying && this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Emits pending changes now instead of waiting for the quiet window. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#applying;
    if (this.#pending.size > 0 && this.#initialReady()) await this.#emit();
  }

  /**
   * Stops emitting: pending changes are dropped (the next start relists) and the change set being
   * applied, if any, is awaited.
   */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#applying;
  }

  #selected(ref: ObjectRef): boolean {
    const filters = this.#opts.resourceNames;
    if (filters.length === 0) return true;
    return filters.some((f) =>
      f.name === ref.name && (f.kind === undefined || f.kind === ref.kind) &&
      (f.namespace === undefined || f.namespace === ref.namespace)
    );
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
    if (this.#pending.size === 0) this.#firstPendingAt = Date.now();
    // Re-insert so that the change set lists objects in the order of their latest change.
    this.#pending.delete(refKey(change.ref));
    this.#pending.set(refKey(change.ref), change);
  }

  #initialReady(): boolean {
    return this.#initialDone || this.#opts.scopes.every((s) => this.#listed.has(s.id));
  }

  #schedule(): void {
    if (this.#closed || this.#applying || !this.#initialReady()) return;
    if (!this.#initialDone) {
      // The first full sync goes out as soon as every scope has listed: no reason to wait.
      void this.#emit();
      return;
    }
    if (this.#pending.size === 0) return;
    const quiet = this.#opts.quietMs ?? 250;
    const maxDelay = this.#opts.maxDelayMs ?? 2000;
    const due = Math.min(Date.now() + quiet, this.#firstPendingAt + maxDelay);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#emit();
    }, Math.max(0, due - Date.now()));
  }

  async #emit(): Promise<void> {
    if (this.#applying) return;
    const initial = !this.#initialDone;
    const changes = [...this.#pending.values()];
    this.#pending.clear();
    const changeSet: ChangeSet = { seq: ++this.#seq, initial, changes };
    this.stats.changeSets++;
    this.stats.changes += changes.length;
    const run = async () => {
      let ok = false;
      try {
        ok = await this.#opts.apply(changeSet);
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
    if (initial) {
      this.#initialDone = true;
      this.#initial.resolve();
    }
    if (this.#pending.size > 0) this.#schedule();
    else {
      for (const w of this.#idleWaiters.splice(0)) w();
    }
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
  const h = createHash("sha256");
  h.update(`${dir}\0${namePrefix}\0${fileMode ?? ""}\0`);
  for (const key of [...obj.entries.keys()].sort()) {
    const value = obj.entries.get(key)!;
    h.update(`${key}\0${value.length}\0`);
    h.update(value);
  }
  return h.digest("base64");
}
