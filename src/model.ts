/**
 * The data that crosses the pipeline's boundaries: Kubernetes objects become {@linkcode Change}s,
 * debounced into a {@linkcode ChangeSet} for the writers, whose {@linkcode WriteResult} goes to the
 * notifiers.
 *
 * @module
 */

/** The two kinds of object the sidecar reads. */
export type ResourceKind = "configmap" | "secret";

/** Names one object. */
export interface ObjectRef {
  /** ConfigMap or Secret. */
  kind: ResourceKind;
  /** The object's namespace. */
  namespace: string;
  /** The object's name. */
  name: string;
}

/**
 * A stable string for `ref`, also its sort key: `configmap/default/grafana-dashboards`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { refKey } from "./model.ts";
 * assert.equal(refKey({ kind: "secret", namespace: "ns", name: "db" }), "secret/ns/db");
 * ```
 */
export function refKey(ref: ObjectRef): string {
  return `${ref.kind}/${ref.namespace}/${ref.name}`;
}

/**
 * What happened to one object since the last change set.
 *
 * `upsert`: the object exists and is selected, with these entries (every key, decoded).
 * `delete`: it was deleted, lost its label, or is no longer selected; its files should go.
 */
export interface Change {
  /** Whether the object's files should exist (`upsert`) or go (`delete`). */
  type: "upsert" | "delete";
  /** The object. */
  ref: ObjectRef;
  /** The object's `metadata.resourceVersion`, when known. */
  resourceVersion?: string | undefined;
  /** The object's labels (empty for `delete`). */
  labels: Readonly<Record<string, string>>;
  /** The object's annotations (empty for `delete`). */
  annotations: Readonly<Record<string, string>>;
  /**
   * Key → bytes. ConfigMap `data` is UTF-8 encoded; ConfigMap `binaryData` and Secret values are
   * base64-decoded. Empty for `delete`.
   */
  entries: ReadonlyMap<string, Uint8Array>;
  /** Absolute directory the object's files go to (`FOLDER` or its annotation's subfolder). */
  dir: string;
  /** Prefix for file names: `""`, or `namespace_{ns}.{kind}_{name}.` with `UNIQUE_FILENAMES`. */
  namePrefix: string;
  /** File mode for files of this object; `undefined` leaves it to the umask. */
  fileMode?: number | undefined;
}

/**
 * A batch of changes, handed to the writers as soon as it is known. `initial` marks the change
 * sets of the first full sync after start, which may arrive page by page; notifiers hear about
 * all of them once, when the initial sync is complete.
 */
export interface ChangeSet {
  /** Increases by one per change set. */
  seq: number;
  /** Part of the first full sync after start. */
  initial: boolean;
  /** At most one change per object: its newest state. */
  changes: readonly Change[];
}

/** Objects of one kind, in one namespace or in all (`namespace` undefined). */
export interface KindInNamespace {
  /** ConfigMaps or Secrets. */
  kind: ResourceKind;
  /** One namespace; `undefined` means every namespace. */
  namespace?: string | undefined;
}

/**
 * True when `ref` falls in `where`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inKindNamespace } from "./model.ts";
 * const ref = { kind: "secret" as const, namespace: "a", name: "db" };
 * assert(inKindNamespace({ kind: "secret" }, ref));
 * assert(!inKindNamespace({ kind: "secret", namespace: "b" }, ref));
 * ```
 */
export function inKindNamespace(where: KindInNamespace, ref: ObjectRef): boolean {
  return where.kind === ref.kind &&
    (where.namespace === undefined || where.namespace === ref.namespace);
}

/** A `RESOURCE_NAME` entry: objects of this name, of one kind or both, in one namespace or any. */
export interface NameFilter {
  /** Only in this namespace; any when `undefined`. */
  namespace?: string | undefined;
  /** Only of this kind; both when `undefined`. */
  kind?: ResourceKind | undefined;
  /** The object's name. */
  name: string;
}

/**
 * True when `filter` can pick an object in `where`, whatever its name (`where.namespace`
 * undefined: in some namespace).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nameFilterCovers } from "./model.ts";
 * assert(nameFilterCovers({ kind: "secret", name: "db" }, { kind: "secret", namespace: "a" }));
 * assert(!nameFilterCovers({ namespace: "b", name: "db" }, { kind: "secret", namespace: "a" }));
 * ```
 */
export function nameFilterCovers(filter: NameFilter, where: KindInNamespace): boolean {
  return (filter.kind === undefined || filter.kind === where.kind) &&
    (filter.namespace === undefined || where.namespace === undefined ||
      filter.namespace === where.namespace);
}

/**
 * True when `filters` is empty (no `RESOURCE_NAME`) or one of them picks `ref`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nameSelected } from "./model.ts";
 * const ref = { kind: "configmap" as const, namespace: "a", name: "app" };
 * assert(nameSelected([], ref));
 * assert(nameSelected([{ name: "app" }], ref));
 * assert(!nameSelected([{ kind: "secret", name: "app" }], ref));
 * ```
 */
export function nameSelected(filters: readonly NameFilter[], ref: ObjectRef): boolean {
  return filters.length === 0 ||
    filters.some((f) => f.name === ref.name && nameFilterCovers(f, ref));
}

/**
 * What the reconciler hands the write stage: a change set, and what else falls due with it.
 */
export interface SyncStep {
  changeSet: ChangeSet;
  /**
   * Files whose objects no longer exist are removed, for objects in these places (scopes that
   * just listed for the first time) or, with `"all"`, anywhere (every scope has listed: files of
   * objects no scope selects any more go too). `live` lists every object that exists.
   */
  prune?: { where: readonly KindInNamespace[] | "all"; live: readonly ObjectRef[] } | undefined;
  /** The initial sync is complete with this step: notify once for all of it. */
  endOfInitial: boolean;
}

/** A key (or object) a writer refused, with the reason; the last good file stays. */
export interface Rejection {
  /** The object refused, or whose key was refused. */
  ref: ObjectRef;
  /** The key refused; `undefined` when the whole object was. */
  key?: string | undefined;
  /** Why, without the content. */
  reason: string;
}

/** What the writers did with one change set. */
export interface WriteResult {
  /** Absolute paths whose content changed (created or replaced). */
  written: string[];
  /** Absolute paths removed. */
  removed: string[];
  /** Keys and objects refused; their last good files stay. */
  rejected: Rejection[];
}

/**
 * An empty {@linkcode WriteResult}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyResult } from "./model.ts";
 * assert(emptyResult().written.length === 0);
 * ```
 */
export function emptyResult(): WriteResult {
  return { written: [], removed: [], rejected: [] };
}

/**
 * True when `result` changed any file: the condition for notifying.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { changedFiles } from "./model.ts";
 * assert(changedFiles({ written: ["/data/a.json"], removed: [], rejected: [] }));
 * ```
 */
export function changedFiles(result: WriteResult): boolean {
  return result.written.length > 0 || result.removed.length > 0;
}
