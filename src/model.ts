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
  kind: ResourceKind;
  namespace: string;
  name: string;
}

/**
 * A stable string for `ref`, also its sort key: `configmap/default/grafana-dashboards`.
 *
 * @example
 * ```ts
 * import { refKey } from "./model.ts";
 * refKey({ kind: "secret", namespace: "ns", name: "db" }); // "secret/ns/db"
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
  type: "upsert" | "delete";
  ref: ObjectRef;
  resourceVersion?: string | undefined;
  labels: Readonly<Record<string, string>>;
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
  /**
   * Keys whose content could not be obtained this time (a `.url` key whose download failed):
   * writers keep the file they wrote before, if any, instead of removing it.
   */
  held?: ReadonlySet<string> | undefined;
}

/** A debounced batch of changes; `initial` marks the first full sync after start. */
export interface ChangeSet {
  /** Increases by one per change set. */
  seq: number;
  initial: boolean;
  changes: readonly Change[];
}

/** A key (or object) a writer refused, with the reason; the last good file stays. */
export interface Rejection {
  ref: ObjectRef;
  key?: string | undefined;
  reason: string;
}

/** What the writers did with one change set. */
export interface WriteResult {
  /** Absolute paths whose content changed (created or replaced). */
  written: string[];
  /** Absolute paths removed. */
  removed: string[];
  rejected: Rejection[];
}

/**
 * An empty {@linkcode WriteResult}.
 *
 * @example
 * ```ts
 * import { emptyResult } from "./model.ts";
 * console.assert(emptyResult().written.length === 0);
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
 * import { changedFiles } from "./model.ts";
 * console.assert(changedFiles({ written: ["/data/a.json"], removed: [], rejected: [] }));
 * ```
 */
export function changedFiles(result: WriteResult): boolean {
  return result.written.length > 0 || result.removed.length > 0;
}
