/**
 * Change sets for tests, built from plain objects instead of a cluster.
 *
 * @module
 */
import { isAbsolute } from "../util/posix_path.ts";
import type { Change, ChangeSet, ResourceKind } from "../model.ts";

/**
 * One object for {@linkcode changeSetOf}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TestObject } from "./mod.ts";
 * const object: TestObject = { kind: "secret", name: "db", data: { "user.txt": "app" }, dir: "/tmp" };
 * assert(object.kind === "secret");
 * ```
 */
export interface TestObject {
  /** Default `"configmap"`. */
  kind?: ResourceKind | undefined;
  /** Default `"default"`. */
  namespace?: string | undefined;
  /** The object's name. */
  name: string;
  /** Text entries, stored UTF-8 encoded (ConfigMap `data`). */
  data?: Record<string, string> | undefined;
  /** Byte entries (ConfigMap `binaryData`, decoded Secret values). */
  binaryData?: Record<string, Uint8Array> | undefined;
  /** Default `"upsert"`; a `delete` change has no entries. */
  type?: "upsert" | "delete" | undefined;
  /** Absolute directory the object's files go to. */
  dir: string;
}

/**
 * Builds a {@linkcode ChangeSet} of one {@linkcode Change} per object: entries as bytes (`data`
 * UTF-8 encoded, `binaryData` as given), `namePrefix` `""`, no labels or annotations. `seq`
 * defaults to 1, `initial` to false.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { changeSetOf } from "./mod.ts";
 * const set = changeSetOf([
 *   { name: "dash", data: { "a.json": "{}" }, dir: "/config" },
 *   { kind: "secret", namespace: "ops", name: "old", type: "delete", dir: "/config" },
 * ], { seq: 4 });
 * assert(set.seq === 4 && set.changes.length === 2);
 * assert(set.changes[0]?.entries.get("a.json")?.length === 2);
 * ```
 */
export function changeSetOf(
  objects: readonly TestObject[],
  opts: { seq?: number | undefined; initial?: boolean | undefined } = {},
): ChangeSet {
  const encoder = new TextEncoder();
  const changes = objects.map((o): Change => {
    if (!isAbsolute(o.dir)) {
      throw new Error(`changeSetOf: dir of ${o.name} must be absolute: ${JSON.stringify(o.dir)}`);
    }
    const type = o.type ?? "upsert";
    const entries = new Map<string, Uint8Array>();
    if (type === "upsert") {
      for (const [key, text] of Object.entries(o.data ?? {})) {
        entries.set(key, encoder.encode(text));
      }
      for (const [key, bytes] of Object.entries(o.binaryData ?? {})) entries.set(key, bytes);
    }
    return {
      type,
      ref: { kind: o.kind ?? "configmap", namespace: o.namespace ?? "default", name: o.name },
      labels: {},
      annotations: {},
      entries,
      dir: o.dir,
      namePrefix: "",
    };
  });
  return { seq: opts.seq ?? 1, initial: opts.initial ?? false, changes };
}
