/**
 * The writer contract as a check a writer's own test runs: what every writer must do for the
 * sidecar's promises to hold (the last good file stays, nothing foreign is destroyed, identical
 * content is not rewritten, deleted objects leave nothing behind).
 *
 * @module
 */
import { dirname, relative } from "../util/posix_path.ts";
import type { AnyWriterDefinition } from "../plugin/contract.ts";
import { changeSetOf } from "./change_set.ts";
import { startWriter } from "./run.ts";
import { tempSink } from "./temp_sink.ts";

/** What {@linkcode assertWriterContract} needs besides the definition. */
export interface WriterContractOptions {
  /** Options of the instance under test (validated by its schema). */
  options?: unknown;
  /**
   * Keys and content the writer writes (at least one key): the check builds its objects from
   * them. Text is stored UTF-8 encoded, as ConfigMap `data`.
   */
  sample: Readonly<Record<string, string | Uint8Array>>;
}

/**
 * Runs `def` through the writer contract on a temporary folder and throws an `Error` naming the
 * first rule it breaks:
 *
 * 1. an object's files are written inside its folder and reported as written;
 * 2. the same content again rewrites nothing;
 * 3. a key whose content is missing this time (held, e.g. a failed `.url` download) keeps its file;
 * 4. a key removed from the object loses its file;
 * 5. a deleted object loses all its files;
 * 6. a file someone else put at one of its paths is never overwritten.
 *
 * The sink enforces 2, 5 and 6 for writers that go through it; the check catches writers that
 * write around it, or ignore removals.
 *
 * @example
 * ```ts
 * import { defineKeyWriter } from "../plugin/mod.ts";
 * import { assertWriterContract } from "./writer_contract.ts";
 * const txt = defineKeyWriter({ name: "txt", defaultKeys: ["*.txt"] });
 * await assertWriterContract(txt, { sample: { "a.txt": "alpha", "b.txt": "beta" } });
 * ```
 */
export async function assertWriterContract(
  def: AnyWriterDefinition,
  opts: WriterContractOptions,
): Promise<void> {
  const keys = Object.keys(opts.sample);
  if (keys.length === 0) throw new Error("assertWriterContract: give at least one sample key");
  const text = new TextEncoder();
  const bytes = (v: string | Uint8Array) => typeof v === "string" ? text.encode(v) : v;
  const entries = (only: readonly string[]) =>
    Object.fromEntries(only.map((k) => [k, bytes(opts.sample[k]!)]));
  const fail = (rule: string, detail: string): never => {
    throw new Error(`writer "${def.name}" breaks the writer contract: ${rule}: ${detail}`);
  };

  await using tmp = await tempSink();
  await using w = await startWriter(def, opts.options, tmp);
  const object = (only: readonly string[], seq: number, type: "upsert" | "delete" = "upsert") =>
    changeSetOf([{ name: "contract", binaryData: entries(only), dir: tmp.dir, type }], { seq });
  const exists = async (path: string) => {
    try {
      await Deno.lstat(path);
      return true;
    } catch {
      return false;
    }
  };

  // 1. written, inside the folder, reported
  const first = await w.write(object(keys, 1));
  if (first.written.length === 0) fail("1", "the sample wrote no file (are the keys it takes?)");
  for (const path of first.written) {
    if (relative(tmp.dir, path).startsWith("..")) fail("1", `${path} is outside the folder`);
    if (!await exists(path)) fail("1", `${path} was reported written but does not exist`);
  }
  const files = [...first.written];

  // 2. identical content
  const again = await w.write(object(keys, 2));
  if (again.written.length > 0) {
    fail("2", `rewrote ${again.written.join(", ")} with the same content`);
  }

  // 3. held: the first key's content is missing this time
  const held = await w.write(object(keys.slice(1), 3), {
    held: { "configmap/default/contract": [keys[0]!] },
  });
  for (const path of files) {
    if (!await exists(path)) fail("3", `${path} was removed while its key was held`);
  }
  if (held.removed.length > 0) fail("3", `removed ${held.removed.join(", ")} while a key was held`);

  // 4. the first key removed for good
  const without = await w.write(object(keys.slice(1), 4));
  const gone = files.filter((p) => without.removed.includes(p));
  if (keys.length === 1 && gone.length !== files.length) {
    fail("4", "removing the only key left files behind");
  }
  for (const path of without.removed) {
    if (await exists(path)) fail("4", `${path} was reported removed but still exists`);
  }
  if (gone.length === 0) fail("4", `removing key ${keys[0]} removed no file`);

  // 5. deleted object
  await w.write(object(keys, 5));
  const deleted = await w.write(object([], 6, "delete"));
  for (const path of files) {
    if (await exists(path)) fail("5", `${path} is still there after the object was deleted`);
  }
  if (deleted.removed.length === 0) fail("5", "the deletion reported no removed file");

  // 6. a foreign file at one of its paths
  const foreign = files[0]!;
  await Deno.mkdir(dirname(foreign), { recursive: true });
  await Deno.writeTextFile(foreign, "not the sidecar's");
  await w.write(object(keys, 7));
  if (await Deno.readTextFile(foreign) !== "not the sidecar's") {
    fail("6", `${foreign}, a file it did not write, was overwritten`);
  }
}
