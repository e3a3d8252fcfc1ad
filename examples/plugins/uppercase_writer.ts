/**
 * An example writer plugin: every key ending in `.txt` becomes a file named after the key plus a
 * suffix (default `.upper`), with its text upper-cased. A key that is not UTF-8 text is refused;
 * its last good file stays.
 *
 * It shows the whole writer contract: an options schema (zod), `create` getting the validated
 * options and a context, and `write` turning each change of a change set into the files the
 * object should have, through `ctx.sink` — which writes atomically, skips identical content and
 * removes the files an object no longer has. Its test, `uppercase_writer_test.ts`, uses the
 * testing kit.
 *
 * Use it from the configuration by path (or publish it and use an `https:`/`jsr:`/`npm:`
 * specifier):
 *
 * ```yaml
 * writers:
 *   - use: ./examples/plugins/uppercase_writer.ts
 *     options: { suffix: ".shout" }
 * ```
 *
 * @example
 * ```ts
 * import uppercase from "./uppercase_writer.ts";
 * import { changeSetOf, runWriter, tempSink } from "../../src/testing/mod.ts";
 *
 * await using tmp = await tempSink();
 * const set = changeSetOf([{ name: "greeting", data: { "hello.txt": "hi" }, dir: tmp.dir }]);
 * await runWriter(uppercase, {}, set, tmp);
 * console.assert(await Deno.readTextFile(`${tmp.dir}/hello.txt.upper`) === "HI");
 * ```
 *
 * @module
 */
import { z } from "zod";
import {
  defineWriter,
  type DesiredFile,
  refKey,
  type Rejection,
  type WriterDefinition,
  type WriteResult,
} from "../../src/plugin/mod.ts";

const options = z.object({
  /** Appended to the key to name the file. */
  suffix: z.string().min(1).refine((s) => !s.includes("/"), { error: "must not contain /" })
    .default(".upper"),
}).strict();

/**
 * Options of the example writer as written in the configuration.
 *
 * @example
 * ```ts
 * import type { UppercaseOptions } from "./uppercase_writer.ts";
 * const options: UppercaseOptions = { suffix: ".shout" };
 * console.assert(options.suffix === ".shout");
 * ```
 */
export type UppercaseOptions = z.input<typeof options>;

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/**
 * The example writer's definition (the module's default export).
 *
 * @example
 * ```ts
 * import uppercase from "./uppercase_writer.ts";
 * console.assert(uppercase.name === "uppercase" && uppercase.kind === "writer");
 * ```
 */
const uppercase: WriterDefinition<z.output<typeof options>> = defineWriter({
  name: "uppercase",
  version: "1.0.0",
  options,
  create(opts, ctx) {
    return {
      async write(changeSet) {
        const result: WriteResult = { written: [], removed: [], rejected: [] };
        for (const change of changeSet.changes) {
          if (change.type === "delete") {
            // Every file this writer made for the object goes.
            const out = await ctx.sink.remove(change.ref);
            result.removed.push(...out.removed);
            continue;
          }
          const files: DesiredFile[] = [];
          const keep: string[] = [];
          const rejected: Rejection[] = [];
          for (const [key, content] of change.entries) {
            if (!key.endsWith(".txt")) continue;
            const path = `${change.dir}/${change.namePrefix}${key}${opts.suffix}`;
            let text: string;
            try {
              text = decoder.decode(content);
            } catch {
              // Refuse the key but keep its last good file: list it in `keep`.
              rejected.push({ ref: change.ref, key, reason: "not UTF-8 text" });
              keep.push(path);
              // Name object and key; never log the content (it may be a Secret value).
              ctx.logger.error("key refused", { object: refKey(change.ref), key });
              continue;
            }
            files.push({
              path,
              content: encoder.encode(text.toUpperCase()),
              mode: change.fileMode,
            });
          }
          // The object now has exactly these files: new or changed ones are written, the ones it
          // no longer has are removed, the ones in `keep` stay as they are.
          const out = await ctx.sink.sync(change.ref, files, { keep });
          result.written.push(...out.written);
          result.removed.push(...out.removed);
          result.rejected.push(...rejected);
        }
        return result;
      },
    };
  },
});
export default uppercase;
