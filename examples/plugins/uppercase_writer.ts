/**
 * An example writer plugin: every key ending in `.txt` becomes a file named after the key plus a
 * suffix (default `.upper`), with its text upper-cased. A key that is not UTF-8 text is refused;
 * its last good file stays.
 *
 * It shows the usual shape of a writer: an options schema (zod), and {@linkcode defineKeyWriter}
 * given what one key becomes — a file name and its content, or a refusal. The loop over change
 * sets and objects, removing files an object no longer has, keeping the last good file of a
 * refused key (or of one whose `.url` download failed), and writing atomically through the sink
 * are done for it. Its test, `uppercase_writer_test.ts`, uses the testing kit, including
 * `assertWriterContract`.
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
 * import assert from "node:assert/strict";
 * import uppercase from "./uppercase_writer.ts";
 * import { changeSetOf, runWriter, tempSink } from "../../src/testing/mod.ts";
 *
 * await using tmp = await tempSink();
 * const set = changeSetOf([{ name: "greeting", data: { "hello.txt": "hi" }, dir: tmp.dir }]);
 * await runWriter(uppercase, {}, set, tmp);
 * assert(await Deno.readTextFile(`${tmp.dir}/hello.txt.upper`) === "HI");
 * ```
 *
 * @module
 */
import { z } from "zod";
import { defineKeyWriter, type WriterDefinition } from "../../src/plugin/mod.ts";

const options = z.object({
  /** Appended to the key to name the file. */
  suffix: z.string().min(1).refine((s) => !s.includes("/"), { error: "must not contain /" })
    .default(".upper"),
  /** Globs of keys to write instead of `*.txt`. */
  keys: z.array(z.string().min(1)).min(1).optional(),
}).strict();

/**
 * Options of the example writer as written in the configuration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { UppercaseOptions } from "./uppercase_writer.ts";
 * const options: UppercaseOptions = { suffix: ".shout" };
 * assert(options.suffix === ".shout");
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
 * import assert from "node:assert/strict";
 * import uppercase from "./uppercase_writer.ts";
 * assert(uppercase.name === "uppercase" && uppercase.kind === "writer");
 * ```
 */
const uppercase: WriterDefinition<z.output<typeof options>> = defineKeyWriter({
  name: "uppercase",
  version: "1.0.0",
  defaultKeys: ["*.txt"],
  options,
  // The name depends on the key only: a refused key's last good file is known by it.
  fileName: (key, opts) => `${key}${opts.suffix}`,
  fileContent(_key, bytes) {
    try {
      return encoder.encode(decoder.decode(bytes).toUpperCase());
    } catch {
      // Name the problem, never the content (it may be a Secret value).
      return { refuse: "not UTF-8 text" };
    }
  },
});
export default uppercase;
