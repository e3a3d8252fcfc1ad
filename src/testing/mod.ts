/**
 * A testing kit for plugin authors: build change sets without a cluster, give a writer a real
 * file store on a temporary folder, and run a plugin the way the sidecar does — options validated
 * by the plugin's schema, the instance created and every hook called through the same wrapper
 * (labels, timeout) as in production.
 *
 * - {@linkcode changeSetOf} — a {@linkcode ChangeSet} from plain objects (`data` as text,
 *   `binaryData` as bytes).
 * - {@linkcode tempSink} — a real `FileStore` on a temporary folder, removed on dispose
 *   (`await using`).
 * - {@linkcode runWriter} / {@linkcode runNotifier} — create an instance from raw options, call
 *   `write` / `notify` once, close it, and return what it did and logged.
 * - {@linkcode recordingLogger} — a logger that records every line, to assert on logs.
 * - {@linkcode receiver} / {@linkcode closedPort} — a local HTTP endpoint that records requests,
 *   and one that refuses connections, for notifier tests.
 *
 * @example
 * ```ts
 * import { defineKeyWriter } from "../plugin/mod.ts";
 * import { changeSetOf, runWriter, tempSink } from "./mod.ts";
 *
 * const upperOnly = defineKeyWriter({
 *   name: "upper-only",
 *   defaultKeys: ["*.txt"],
 *   check: (content) =>
 *     new TextDecoder().decode(content) === new TextDecoder().decode(content).toUpperCase()
 *       ? undefined
 *       : "not upper case",
 * });
 * await using tmp = await tempSink();
 * const set = changeSetOf([{ name: "app", data: { "a.txt": "HI", "b.txt": "lo" }, dir: tmp.dir }]);
 * const run = await runWriter(upperOnly, {}, set, tmp);
 * console.assert(run.result.written.length === 1 && run.result.rejected.length === 1);
 * console.assert(await Deno.readTextFile(`${tmp.dir}/a.txt`) === "HI");
 * ```
 *
 * @module
 */
import { isAbsolute } from "node:path";
import type { Change, ChangeSet, ResourceKind, WriteResult } from "../model.ts";
import type {
  AnyNotifierDefinition,
  AnyWriterDefinition,
  FileSink,
  Notifier,
  Writer,
} from "../plugin/contract.ts";
import { createNotifier, createWriter, type Slot } from "../plugin/instantiate.ts";
import { invokeHook, PluginError } from "../plugin/invoke.ts";
import { FileStore } from "../writers/file_store.ts";
import { type LogRecord, recordingLogger } from "./logger.ts";

export { type LogRecord, recordingLogger } from "./logger.ts";
export { closedPort, type ReceivedRequest, type Receiver, receiver } from "./http.ts";
export type { FileStore } from "../writers/file_store.ts";

/**
 * One object for {@linkcode changeSetOf}.
 *
 * @example
 * ```ts
 * import type { TestObject } from "./mod.ts";
 * const object: TestObject = { kind: "secret", name: "db", data: { "user.txt": "app" }, dir: "/tmp" };
 * console.assert(object.kind === "secret");
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
 * import { changeSetOf } from "./mod.ts";
 * const set = changeSetOf([
 *   { name: "dash", data: { "a.json": "{}" }, dir: "/config" },
 *   { kind: "secret", namespace: "ops", name: "old", type: "delete", dir: "/config" },
 * ], { seq: 4 });
 * console.assert(set.seq === 4 && set.changes.length === 2);
 * console.assert(set.changes[0]?.entries.get("a.json")?.length === 2);
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

/**
 * A real file store on a temporary folder; see {@linkcode tempSink}.
 *
 * @example
 * ```ts
 * import { type TempSink, tempSink } from "./mod.ts";
 * await using tmp: TempSink = await tempSink();
 * console.assert(tmp.dir.length > 0);
 * ```
 */
export interface TempSink {
  /** The temporary folder (the store's folder); removed on dispose. */
  dir: string;
  /** The store itself, e.g. for `owners()` or `prune()`. */
  store: FileStore;
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
 * import { tempSink } from "./mod.ts";
 * await using tmp = await tempSink();
 * const ref = { kind: "configmap" as const, namespace: "ns", name: "app" };
 * const out = await tmp.sink().sync(ref, [
 *   { path: `${tmp.dir}/hello.txt`, content: new TextEncoder().encode("hi") },
 * ]);
 * console.assert(out.written[0] === `${tmp.dir}/hello.txt`);
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

/**
 * What {@linkcode runWriter} and {@linkcode runNotifier} return besides the hook's result.
 *
 * @example
 * ```ts
 * import type { PluginRun } from "./mod.ts";
 * const run: PluginRun = { instance: "x#0", records: [], text: () => "" };
 * console.assert(run.instance === "x#0");
 * ```
 */
export interface PluginRun {
  /** Instance label the plugin ran under: `<name>#0`. */
  instance: string;
  /** Every line the plugin logged. */
  records: LogRecord[];
  /** The log lines joined, for `assert.match`. */
  text: () => string;
}

/**
 * What {@linkcode runWriter} returns.
 *
 * @example
 * ```ts
 * import type { WriterRun } from "./mod.ts";
 * const run: WriterRun = {
 *   instance: "x#0",
 *   records: [],
 *   text: () => "",
 *   dir: "/tmp",
 *   result: { written: [], removed: [], rejected: [] },
 * };
 * console.assert(run.result.written.length === 0);
 * ```
 */
export interface WriterRun extends PluginRun {
  /** What `write` reported. */
  result: WriteResult;
  /** The folder of the file store the writer wrote through. */
  dir: string;
}

/**
 * What {@linkcode runNotifier} returns.
 *
 * @example
 * ```ts
 * import type { NotifierRun } from "./mod.ts";
 * const run: NotifierRun = { instance: "x#0", records: [], text: () => "", notifier: {
 *   notify: () => Promise.resolve(),
 * } };
 * console.assert(run.notifier.retry === undefined);
 * ```
 */
export interface NotifierRun extends PluginRun {
  /** The created instance (to check its `retry` policy or `skipInitial`). */
  notifier: Notifier;
}

/**
 * Runs a writer once, as the core does: validates `options` with the writer's schema (rejecting
 * with an error that names each bad field), creates the instance, calls `write(changeSet)` through
 * the hook wrapper and closes the instance.
 *
 * Files go through a real `FileStore`: the one of a {@linkcode tempSink} given as `sink` (its
 * folder must hold every change's `dir`), or one opened for this run on the folder `sink` names,
 * or by default on the change set's directories (the first change's `dir` as folder, the others as
 * extra roots); a store opened for the run is closed afterwards. Files stay either way. The
 * instance is always `<name>#0`, so running again on the same store or folder continues where the
 * last run left off (the writer still owns its earlier files), like the sidecar after a restart.
 *
 * A hook that throws rejects with what it threw; a hook that times out rejects with the wrapper's
 * error.
 *
 * @example
 * ```ts
 * import { defineKeyWriter } from "../plugin/mod.ts";
 * import { changeSetOf, runWriter, tempSink } from "./mod.ts";
 * const txt = defineKeyWriter({ name: "txt", defaultKeys: ["*.txt"] });
 * await using tmp = await tempSink();
 * const run = await runWriter(
 *   txt,
 *   {},
 *   changeSetOf([{ name: "app", data: { "a.txt": "x" }, dir: tmp.dir }]),
 *   tmp,
 * );
 * console.assert(run.result.written[0] === `${tmp.dir}/a.txt`);
 * ```
 */
export async function runWriter(
  def: AnyWriterDefinition,
  options: unknown,
  changeSet: ChangeSet,
  sink?: string | TempSink,
): Promise<WriterRun> {
  const instance = `${def.name}#0`;
  const rec = recordingLogger(["test", "writer", instance]);
  let store: FileStore;
  let folder: string;
  let owned = false;
  if (sink !== undefined && typeof sink !== "string") {
    store = sink.store;
    folder = sink.dir;
  } else {
    const dirs = [...new Set(changeSet.changes.map((c) => c.dir))];
    const chosen = sink ?? dirs[0];
    if (chosen === undefined) {
      throw new Error("runWriter: give a sink when the change set has no changes");
    }
    folder = chosen;
    store = await FileStore.open({
      folder,
      allowedRoots: dirs.filter((d) => d !== folder),
      logger: rec.logger.child("sink"),
    });
    owned = true;
  }
  try {
    const slot = await createWriter(def, options, {
      instance,
      logger: rec.logger,
      signal: new AbortController().signal,
      sink: store.scoped(instance),
    });
    try {
      const result = await call(slot, "write", (w) => w.write(changeSet));
      return { instance, records: rec.records, text: rec.text, result, dir: folder };
    } finally {
      await closeSlot(slot);
    }
  } finally {
    if (owned) await store.close();
  }
}

/**
 * Runs a notifier once, as the core does: validates `options` with the notifier's schema
 * (rejecting with an error that names each bad field), creates the instance, calls
 * `notify(changeSet, result)` through the hook wrapper and closes the instance. No retries: a
 * hook that throws rejects with what it threw (check `retryable` of your `NotifyError`), a hook
 * that times out rejects with the wrapper's error.
 *
 * @example
 * ```ts
 * import { defineNotifier } from "../plugin/mod.ts";
 * import { changeSetOf, runNotifier } from "./mod.ts";
 * const seen: number[] = [];
 * const counter = defineNotifier({
 *   name: "counter",
 *   create: () => ({ notify: (set) => Promise.resolve(void seen.push(set.seq)) }),
 * });
 * await runNotifier(counter, undefined, changeSetOf([], { seq: 3 }), {
 *   written: ["/config/a.json"],
 *   removed: [],
 *   rejected: [],
 * });
 * console.assert(seen[0] === 3);
 * ```
 */
export async function runNotifier(
  def: AnyNotifierDefinition,
  options: unknown,
  changeSet: ChangeSet,
  result: WriteResult,
): Promise<NotifierRun> {
  const instance = `${def.name}#0`;
  const rec = recordingLogger(["test", "notifier", instance]);
  const slot = await createNotifier(def, options, {
    instance,
    logger: rec.logger,
    signal: new AbortController().signal,
  });
  try {
    await call(slot, "notify", (n) => n.notify(changeSet, result));
    return { instance, records: rec.records, text: rec.text, notifier: slot.impl };
  } finally {
    await closeSlot(slot);
  }
}

/** Calls one hook through the wrapper; unwraps what the hook itself threw. */
async function call<I, T>(slot: Slot<I>, hook: string, fn: (impl: I) => Promise<T>): Promise<T> {
  const label = { plugin: slot.plugin, instance: slot.instance, hook };
  try {
    return await invokeHook(label, slot.timeoutMs, undefined, () => fn(slot.impl));
  } catch (e) {
    if (e instanceof PluginError && !e.timedOut && e.cause !== undefined) throw e.cause;
    throw e;
  }
}

async function closeSlot(slot: Slot<Writer | Notifier>): Promise<void> {
  const close = slot.impl.close;
  if (close === undefined) return;
  await call(slot, "close", async (impl) => await close.call(impl));
}
