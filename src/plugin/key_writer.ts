/**
 * {@linkcode defineKeyWriter}: the writer most plugins are — pick keys by glob and turn each picked
 * key into one file. The loop over change sets, objects and keys, the removal of files an object
 * no longer has, keeping the last good file of a refused key, and the one sink call per change set
 * are done once, here; a writer only says what one key becomes.
 *
 * @module
 */
import { join } from "../util/posix_path.ts";
import { type ChangeSet, refKey, type WriteResult } from "../model.ts";
import {
  defineWriter,
  type DesiredFile,
  type SinkItem,
  type WriterDefinition,
} from "./contract.ts";
import type { StandardSchemaV1 } from "./standard_schema.ts";
import * as s from "./_schema.ts";
import { globToRegExp } from "../util/glob.ts";

/** A key refused; its last good file stays. Never put the content in the reason (it may be a Secret's). */
export interface KeyRefusal {
  /** Why the key is refused, e.g. `not valid JSON at line 3, column 7`. */
  refuse: string;
}

/** Options a key writer's schema may give; `keys` replaces the default globs. */
export interface KeyWriterOptions {
  /** Globs of keys to write (`*`, `?`, `{a,b}`); replaces the writer's `defaultKeys`. */
  keys?: readonly string[] | undefined;
}

/** What a key writer provides. */
export interface KeyWriterSpec<O extends KeyWriterOptions = KeyWriterOptions> {
  /** kebab-case name used in configuration. */
  name: string;
  /** The plugin's own version, logged when it is loaded. */
  version?: string | undefined;
  /** Globs of keys written by default (`*`, `?`, `{a,b}`), e.g. `["*.json"]`. */
  defaultKeys: readonly string[];
  /**
   * Options schema (any Standard Schema). Its output may carry `keys`, globs that replace
   * `defaultKeys`. Default: just `keys`.
   */
  options?: StandardSchemaV1<unknown, O> | undefined;
  /** Per-call timeout in ms of this writer's hooks (default 30 s). */
  timeoutMs?: number | undefined;
  /**
   * The name of the file a picked key becomes, relative to the object's folder (the
   * `UNIQUE_FILENAMES` prefix is added in front); default: the key. It depends on the key only, so
   * that a refused key's last good file is known.
   */
  fileName?: ((key: string, options: O) => string) | undefined;
  /** The file's content for a picked key, or a refusal; default: the bytes as they are. */
  fileContent?:
    | ((key: string, bytes: Uint8Array, options: O) => Uint8Array | KeyRefusal)
    | undefined;
}

/**
 * The options schema of key writers that take only `keys`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyWriterOptions } from "./key_writer.ts";
 * const r = keyWriterOptions.safeParse({ keys: ["*.json"] });
 * assert(r.issues === undefined);
 * ```
 */
export const keyWriterOptions: s.Schema<KeyWriterOptions, KeyWriterOptions> = s.object({
  /** Globs of keys to write (`*`, `?`, `{a,b}`); replaces the writer's default. */
  keys: s.array(s.string().min(1)).min(1).optional(),
});

/**
 * Defines a writer that turns keys matching globs into files, one file per key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineKeyWriter } from "./key_writer.ts";
 * import { changeSetOf, runWriter, tempSink } from "../testing/mod.ts";
 * const decoder = new TextDecoder("utf-8", { fatal: true });
 * const shout = defineKeyWriter({
 *   name: "shout-file",
 *   defaultKeys: ["*.txt"],
 *   fileName: (key) => `${key}.shout`,
 *   fileContent(_key, bytes) {
 *     try {
 *       return new TextEncoder().encode(decoder.decode(bytes).toUpperCase());
 *     } catch {
 *       return { refuse: "not UTF-8 text" };
 *     }
 *   },
 * });
 * await using tmp = await tempSink();
 * const set = changeSetOf([{ name: "a", data: { "hi.txt": "hello", "x.json": "{}" }, dir: tmp.dir }]);
 * const run = await runWriter(shout, {}, set, tmp);
 * assert.deepEqual(run.result.written, [`${tmp.dir}/hi.txt.shout`]);
 * assert.equal(await Deno.readTextFile(`${tmp.dir}/hi.txt.shout`), "HELLO");
 * ```
 */
export function defineKeyWriter<O extends KeyWriterOptions = KeyWriterOptions>(
  spec: KeyWriterSpec<O>,
): WriterDefinition<O> {
  return defineWriter<O>({
    name: spec.name,
    version: spec.version,
    timeoutMs: spec.timeoutMs,
    options: spec.options ?? (keyWriterOptions as unknown as StandardSchemaV1<unknown, O>),
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
            for (const [key, bytes] of change.entries) {
              if (!picks(key)) continue;
              const path = join(
                change.dir,
                change.namePrefix + (spec.fileName?.(key, options) ?? key),
              );
              const content = spec.fileContent?.(key, bytes, options) ?? bytes;
              if ("refuse" in content) {
                result.rejected.push({ ref: change.ref, key, reason: content.refuse });
                keep.push(path);
                ctx.logger.error("key refused; the last good file stays", {
                  object: refKey(change.ref),
                  key,
                  reason: content.refuse,
                });
                continue;
              }
              files.push({ path, content, mode: change.fileMode });
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
