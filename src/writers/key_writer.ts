/**
 * The shape shared by the built-in file writers: pick keys by glob, check the content, and make
 * each picked key one file named after it. A key whose content is refused keeps its last good
 * file.
 *
 * @module
 */
import { join } from "node:path";
import { type ChangeSet, refKey, type WriteResult } from "../model.ts";
import {
  defineWriter,
  type DesiredFile,
  type SinkItem,
  type WriterDefinition,
} from "../plugin/contract.ts";
import * as s from "../plugin/schema.ts";
import { globToRegExp } from "../util/glob.ts";

/** What a concrete key writer provides. */
export interface KeyWriterSpec {
  name: string;
  version?: string;
  /** Globs of keys handled by default, e.g. `["*.json"]`. */
  defaultKeys: string[];
  /** Returns a reason to refuse `content` of `key`, or undefined when it is fine. */
  check?: (content: Uint8Array, key: string) => string | undefined;
}

/**
 * Options every key writer accepts.
 *
 * @example
 * ```ts
 * import { keyWriterOptions } from "./key_writer.ts";
 * const r = keyWriterOptions.safeParse({ keys: ["*.json"] });
 * console.assert(r.issues === undefined);
 * ```
 */
export const keyWriterOptions: s.Schema<
  { keys?: string[] | undefined },
  { keys?: string[] | undefined }
> = s.object({
  /** Globs of keys to write (`*`, `?`, `{a,b}`); replaces the writer's default. */
  keys: s.array(s.string().min(1)).min(1).optional(),
});

/**
 * Defines a writer that turns keys matching globs into files.
 *
 * @example
 * ```ts
 * import { defineKeyWriter } from "./key_writer.ts";
 * export default defineKeyWriter({ name: "txt-file", defaultKeys: ["*.txt"] });
 * ```
 */
export function defineKeyWriter(
  spec: KeyWriterSpec,
): WriterDefinition<{ keys?: string[] | undefined }> {
  return defineWriter({
    name: spec.name,
    version: spec.version,
    options: keyWriterOptions,
    create(options, ctx) {
      const patterns = (options?.keys ?? spec.defaultKeys).map(globToRegExp);
      const picks = (key: string) => patterns.some((re) => re.test(key));
      return {
        accepts: picks,
        async write(changeSet: ChangeSet): Promise<WriteResult> {
          const result: WriteResult = { written: [], removed: [], rejected: [] };
          // One sink call for the whole change set: one journal sync, not one per object.
          const items: SinkItem[] = [];
          for (const change of changeSet.changes) {
            if (change.type === "delete") {
              items.push({ ref: change.ref, files: [] });
              continue;
            }
            const files: DesiredFile[] = [];
            const keep: string[] = [];
            for (const [key, content] of change.entries) {
              if (!picks(key)) continue;
              const path = join(change.dir, change.namePrefix + key);
              const reason = spec.check?.(content, key);
              if (reason) {
                result.rejected.push({ ref: change.ref, key, reason });
                keep.push(path);
                ctx.logger.error("key refused; the last good file stays", {
                  object: refKey(change.ref),
                  key,
                  reason,
                });
                continue;
              }
              files.push({ path, content, mode: change.fileMode });
            }
            for (const key of change.held ?? []) {
              if (picks(key)) keep.push(join(change.dir, change.namePrefix + key));
            }
            items.push({ ref: change.ref, files, keep });
          }
          const out = await ctx.sink.syncAll(items);
          result.written.push(...out.written);
          result.removed.push(...out.removed);
          for (const { ref, reason } of out.refused) {
            // One object the sink refuses (a path that escapes through a symlink) must not keep
            // the others in this change set from being written.
            result.rejected.push({ ref, reason });
            ctx.logger.error("object refused by the file sink; its files stay as they were", {
              object: refKey(ref),
              reason,
            });
          }
          return result;
        },
      };
    },
  });
}
