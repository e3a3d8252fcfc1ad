/**
 * A real file store on a temporary folder, for writer tests.
 *
 * @module
 */
import type { FileSink, SinkOutcome } from "../plugin/contract.ts";
import { FileStore } from "../writers/file_store.ts";
import { recordingLogger } from "./logger.ts";

/** What a test may ask of the file store behind a {@linkcode TempSink}. */
export interface TempStore {
  /** The sink of one writer instance, as the core hands to writers. */
  scoped(instance: string): FileSink;
  /** Every `instance|object` that owns a file, e.g. `test#0|configmap/ns/app`. */
  owners(): Set<string>;
  /** Removes every file of the owners `select` picks, as a restart does for a removed writer. */
  prune(select: (owner: string) => boolean): Promise<SinkOutcome>;
}

/**
 * A real file store on a temporary folder; see {@linkcode tempSink}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type TempSink, tempSink } from "./mod.ts";
 * await using tmp: TempSink = await tempSink();
 * assert(tmp.dir.length > 0);
 * ```
 */
export interface TempSink {
  /** The temporary folder (the store's folder); removed on dispose. */
  dir: string;
  /** The store itself, e.g. for `owners()` or `prune()`. */
  store: TempStore;
  /** The sink of one writer instance (default `"test#0"`), as the core hands to writers. */
  sink(instance?: string): FileSink;
  /** Closes the store and removes the folder. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Opens a real `FileStore` on a fresh temporary folder, for testing a writer's `write` directly
 * or for inspecting files afterwards. Use it with `await using` so that the folder goes away.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tempSink } from "./mod.ts";
 * await using tmp = await tempSink();
 * const ref = { kind: "configmap" as const, namespace: "ns", name: "app" };
 * const out = await tmp.sink().sync(ref, [
 *   { path: `${tmp.dir}/hello.txt`, content: new TextEncoder().encode("hi") },
 * ]);
 * assert(out.written[0] === `${tmp.dir}/hello.txt`);
 * ```
 */
export async function tempSink(): Promise<TempSink> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "gsidecar-test-" }));
  const { logger } = recordingLogger(["test", "sink"]);
  let store: FileStore;
  try {
    store = await FileStore.open({ folder: dir, logger });
  } catch (e) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw e;
  }
  return {
    dir,
    store,
    sink: (instance = "test#0") => store.scoped(instance),
    async [Symbol.asyncDispose]() {
      try {
        await store.close();
      } finally {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  };
}
