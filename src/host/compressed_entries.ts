/**
 * Keys ending in `.gz` (in `binaryData` or a Secret): gunzipped, with a bound, and handed to the
 * writers under the name without the suffix (`big-dashboard.json.gz` → `big-dashboard.json`,
 * checked by `json-file` like any `.json`). An object holds at most 1 MiB; a dashboard that does
 * not fit, fits gzipped.
 *
 * @module
 */
import { type Change, type ChangeSet, refKey, type Rejection } from "../model.ts";
import type { Logger } from "../plugin/logger.ts";
import { gunzip } from "../util/gunzip.ts";
import { messageOf } from "../util/errors.ts";

const SUFFIX = ".gz";

/** A change set with its `.gz` keys decompressed, and what could not be. */
export interface Decompressed {
  changeSet: ChangeSet;
  /** Per object ({@linkcode refKey}), keys whose content could not be obtained (last good file stays). */
  held: Map<string, Set<string>>;
  rejected: Rejection[];
}

/**
 * Decompresses every `.gz` key of `changeSet`, each to at most `maxBytes`. A key that is not
 * gzip, or decompresses to more, is refused (the error names object and key, never content) and
 * held: the file it made before stays. A `.gz` key next to a key of the name without the suffix is
 * refused too: the two would make one file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decompressEntries } from "./compressed_entries.ts";
 * import { recordingLogger } from "../testing/logger.ts";
 * const gz = new Uint8Array(
 *   await new Response(new Blob(["{}"]).stream().pipeThrough(new CompressionStream("gzip")))
 *     .arrayBuffer(),
 * );
 * const set = { seq: 1, initial: false, changes: [{
 *   type: "upsert" as const, ref: { kind: "configmap" as const, namespace: "ns", name: "d" },
 *   labels: {}, annotations: {}, entries: new Map([["d.json.gz", gz]]), dir: "/c", namePrefix: "",
 * }] };
 * const out = await decompressEntries(set, 1024, recordingLogger().logger);
 * assert(new TextDecoder().decode(out.changeSet.changes[0]!.entries.get("d.json")) === "{}");
 * ```
 */
export async function decompressEntries(
  changeSet: ChangeSet,
  maxBytes: number,
  logger: Logger,
): Promise<Decompressed> {
  const held = new Map<string, Set<string>>();
  const rejected: Rejection[] = [];
  const isGz = (k: string) => k.endsWith(SUFFIX) && k.length > SUFFIX.length;
  if (!changeSet.changes.some((c) => [...c.entries.keys()].some(isGz))) {
    return { changeSet, held, rejected };
  }
  const changes: Change[] = [];
  for (const change of changeSet.changes) {
    const gzKeys = [...change.entries.keys()].filter(isGz);
    if (change.type === "delete" || gzKeys.length === 0) {
      changes.push(change);
      continue;
    }
    const entries = new Map(change.entries);
    const object = refKey(change.ref);
    for (const key of gzKeys) {
      entries.delete(key);
      const target = key.slice(0, -SUFFIX.length);
      let reason: string;
      if (change.entries.has(target)) {
        reason = `${target} is there too: the two would make one file`;
      } else {
        try {
          entries.set(target, await gunzip(change.entries.get(key)!, maxBytes));
          continue;
        } catch (e) {
          reason = messageOf(e);
        }
      }
      rejected.push({ ref: change.ref, key, reason });
      if (!held.has(object)) held.set(object, new Set());
      held.get(object)!.add(target);
      logger.error("key refused; the last good file stays", { object, key, reason });
    }
    changes.push({ ...change, entries });
  }
  return { changeSet: { ...changeSet, changes }, held, rejected };
}
