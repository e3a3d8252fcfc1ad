/**
 * Runs a plugin the way the sidecar does: options validated by the plugin's schema, the instance
 * created by the same plugin host as in production, every hook called through the same wrapper
 * (labels, timeout).
 *
 * @module
 */
import type { ChangeSet, WriteResult } from "../model.ts";
import type { AnyNotifierDefinition, AnyWriterDefinition, Notifier } from "../plugin/contract.ts";
import { PluginError } from "../host/invoke.ts";
import { checkOptions, type LoadedInstanceSpec } from "../host/loader.ts";
import { type HeldKeys, PluginHost } from "../host/plugin_host.ts";
import { FileStore } from "../writers/file_store.ts";
import { type LogRecord, recordingLogger } from "./logger.ts";
import type { TempSink, TempStore } from "./temp_sink.ts";

/**
 * What the helpers here return besides the hook's result.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PluginRun } from "./run.ts";
 * const run: PluginRun = { instance: "x#0", records: [], text: () => "" };
 * assert(run.instance === "x#0");
 * ```
 */
export interface PluginRun {
  /** Instance label the plugin runs under: `<name>#0`. */
  instance: string;
  /** Every line the plugin logged. */
  records: LogRecord[];
  /** The log lines joined, for `assert.match`. */
  text: () => string;
}

/**
 * Keys whose content is missing this time, per object: `{ "configmap/default/app": ["b.json"] }`
 * (what the sidecar does when a `.url` download failed). The writer is not told; the sink keeps
 * the object's other files.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { HeldKeysByObject } from "./run.ts";
 * const held: HeldKeysByObject = { "configmap/default/app": ["b.json"] };
 * assert(held["configmap/default/app"]?.length === 1);
 * ```
 */
export type HeldKeysByObject = Readonly<Record<string, readonly string[]>>;

/**
 * A writer instance for several calls; dispose it (`await using`) to close it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineKeyWriter } from "../plugin/mod.ts";
 * import { changeSetOf } from "./change_set.ts";
 * import { startWriter } from "./run.ts";
 * import { tempSink } from "./temp_sink.ts";
 * const txtFile = defineKeyWriter({ name: "txt-file", defaultKeys: ["*.txt"] });
 * await using tmp = await tempSink();
 * await using w = await startWriter(txtFile, {}, tmp);
 * assert.equal(w.accepts("a.txt"), true);
 * const set = (data: Record<string, string>, seq: number) =>
 *   changeSetOf([{ name: "app", data, dir: w.dir }], { seq });
 * await w.write(set({ "a.txt": "1", "b.txt": "1" }, 1));
 * // b.txt's content is missing this time (its download failed): its last good file stays.
 * const held = { "configmap/default/app": ["b.txt"] };
 * const result = await w.write(set({ "a.txt": "2" }, 2), { held });
 * assert.deepEqual(result.removed, []);
 * assert.equal(await Deno.readTextFile(`${w.dir}/b.txt`), "1");
 * ```
 */
export interface WriterUnderTest extends PluginRun, AsyncDisposable {
  /** Calls `write` through the wrapper; rejects with what the hook threw. */
  write(changeSet: ChangeSet, opts?: { held?: HeldKeysByObject }): Promise<WriteResult>;
  /** The folder of the file store the writer writes through. */
  dir: string;
  /** Whether the writer takes `key` (`undefined` when it does not say). */
  accepts(key: string): boolean | undefined;
}

/**
 * A notifier instance for several calls; dispose it (`await using`) to close it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import webhook from "../../plugins/webhook/mod.ts";
 * import { changeSetOf } from "./change_set.ts";
 * import { receiver } from "./http.ts";
 * import { startNotifier } from "./run.ts";
 * await using server = receiver();
 * await using n = await startNotifier(webhook, { url: `${server.url}/reload` });
 * assert.equal(n.notifier.retry?.retries, 5); // the option's default
 * const result = { written: ["/config/a.json"], removed: [], rejected: [] };
 * await n.notify(changeSetOf([], { seq: 7 }), result);
 * assert.deepEqual(JSON.parse(server.received[0]!.body).written, ["/config/a.json"]);
 * ```
 */
export interface NotifierUnderTest extends PluginRun, AsyncDisposable {
  /** Calls `notify` through the wrapper, once (no retries); rejects with what the hook threw. */
  notify(changeSet: ChangeSet, result: WriteResult): Promise<void>;
  /** The created instance, to check its `retry` policy or `skipInitial`. */
  notifier: Notifier;
}

/**
 * Creates a writer as the sidecar does. Files go through a real `FileStore`: the one of a
 * {@linkcode TempSink} given as `sink`, or one opened on the folder `sink` names (closed with the
 * writer). The instance is always `<name>#0`, so a writer started again on the same store or folder
 * continues where the last one left off (it still owns its earlier files), like the sidecar after
 * a restart. Bad options reject with an error naming each field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineKeyWriter } from "../plugin/mod.ts";
 * import { changeSetOf } from "./change_set.ts";
 * import { startWriter } from "./run.ts";
 * import { tempSink } from "./temp_sink.ts";
 * const txt = defineKeyWriter({ name: "txt", defaultKeys: ["*.txt"] });
 * await using tmp = await tempSink();
 * await using w = await startWriter(txt, {}, tmp);
 * const set = (text: string, seq: number) =>
 *   changeSetOf([{ name: "app", data: { "a.txt": text }, dir: tmp.dir }], { seq });
 * assert((await w.write(set("1", 1))).written.length === 1);
 * assert((await w.write(set("1", 2))).written.length === 0);
 * ```
 */
export async function startWriter(
  def: AnyWriterDefinition,
  options: unknown,
  sink: TempSink | string,
): Promise<WriterUnderTest> {
  const instance = `${def.name}#0`;
  const rec = recordingLogger(["test"]);
  let own: FileStore | undefined;
  let store: TempStore;
  let dir: string;
  if (typeof sink === "string") {
    store = own = await FileStore.open({ folder: sink, logger: rec.logger.child("sink") });
    dir = sink;
  } else {
    store = sink.store;
    dir = sink.dir;
  }
  let host: PluginHost;
  try {
    host = await PluginHost.create({
      writers: [await loaded(def, options, "writer")],
      notifiers: [],
      sinkFor: (label) => store.scoped(label),
      logger: rec.logger,
      signal: new AbortController().signal,
    });
  } catch (e) {
    await own?.close();
    throw unwrap(e);
  }
  return {
    instance,
    records: rec.records,
    text: rec.text,
    dir,
    accepts: (key) => host.takes(key),
    async write(changeSet, opts = {}) {
      const { result, failed } = await host.write(changeSet, heldKeys(opts.held));
      if (failed[0] !== undefined) throw unwrap(failed[0].error);
      return result;
    },
    async [Symbol.asyncDispose]() {
      try {
        await host.close();
      } finally {
        await own?.close();
      }
    },
  };
}

/**
 * Creates a notifier as the sidecar does. Bad options reject with an error naming each field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineNotifier } from "../plugin/mod.ts";
 * import { changeSetOf } from "./change_set.ts";
 * import { startNotifier } from "./run.ts";
 * const seen: number[] = [];
 * const counter = defineNotifier({
 *   name: "counter",
 *   create: () => ({ notify: (set) => Promise.resolve(void seen.push(set.seq)) }),
 * });
 * await using n = await startNotifier(counter, undefined);
 * await n.notify(changeSetOf([], { seq: 3 }), { written: ["/c/a.json"], removed: [], rejected: [] });
 * assert(seen[0] === 3);
 * ```
 */
export async function startNotifier(
  def: AnyNotifierDefinition,
  options: unknown,
): Promise<NotifierUnderTest> {
  const instance = `${def.name}#0`;
  const rec = recordingLogger(["test"]);
  const signal = new AbortController().signal;
  let host: PluginHost;
  try {
    host = await PluginHost.create({
      writers: [],
      notifiers: [await loaded(def, options, "notifier")],
      sinkFor: () => {
        throw new Error("a notifier has no sink");
      },
      logger: rec.logger,
      signal,
    });
  } catch (e) {
    throw unwrap(e);
  }
  const n = host.notifiers[0]!;
  return {
    instance,
    records: rec.records,
    text: rec.text,
    notifier: n.impl,
    async notify(changeSet, result) {
      try {
        await host.notify(n, changeSet, result, signal);
      } catch (e) {
        throw unwrap(e);
      }
    },
    [Symbol.asyncDispose]: () => host.close(),
  };
}

/**
 * What {@linkcode runWriter} returns.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { WriterRun } from "./run.ts";
 * const run: WriterRun = {
 *   instance: "x#0",
 *   records: [],
 *   text: () => "",
 *   dir: "/tmp",
 *   result: { written: [], removed: [], rejected: [] },
 * };
 * assert(run.result.written.length === 0);
 * ```
 */
export interface WriterRun extends PluginRun {
  /** What `write` reported. */
  result: WriteResult;
  /** The folder of the file store the writer wrote through. */
  dir: string;
}

/**
 * Runs a writer once: {@linkcode startWriter}, one `write(changeSet)`, close. Without `sink`, a
 * store is opened on the change set's first directory (the others as extra roots) for this run.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineKeyWriter } from "../plugin/mod.ts";
 * import { changeSetOf } from "./change_set.ts";
 * import { runWriter } from "./run.ts";
 * import { tempSink } from "./temp_sink.ts";
 * const txt = defineKeyWriter({ name: "txt", defaultKeys: ["*.txt"] });
 * await using tmp = await tempSink();
 * const run = await runWriter(
 *   txt,
 *   {},
 *   changeSetOf([{ name: "app", data: { "a.txt": "x" }, dir: tmp.dir }]),
 *   tmp,
 * );
 * assert(run.result.written[0] === `${tmp.dir}/a.txt`);
 * ```
 */
export async function runWriter(
  def: AnyWriterDefinition,
  options: unknown,
  changeSet: ChangeSet,
  sink?: string | TempSink,
  opts: { held?: HeldKeysByObject } = {},
): Promise<WriterRun> {
  let target = sink;
  let extraRoots: string[] = [];
  if (target === undefined) {
    const dirs = [...new Set(changeSet.changes.map((c) => c.dir))];
    if (dirs[0] === undefined) {
      throw new Error("runWriter: give a sink when the change set has no changes");
    }
    target = dirs[0];
    extraRoots = dirs.slice(1);
  }
  if (typeof target === "string" && extraRoots.length > 0) {
    // Several directories: one store with the others as allowed roots, closed after the run.
    const { logger } = recordingLogger(["test", "sink"]);
    const store = await FileStore.open({ folder: target, allowedRoots: extraRoots, logger });
    await using tmp: TempSink = {
      dir: target,
      store,
      sink: (instance = "test#0") => store.scoped(instance),
      [Symbol.asyncDispose]: () => store.close(),
    };
    return await runWriter(def, options, changeSet, tmp, opts);
  }
  await using w = await startWriter(def, options, target);
  const result = await w.write(changeSet, opts);
  return { instance: w.instance, records: w.records, text: w.text, result, dir: w.dir };
}

/**
 * What {@linkcode runNotifier} returns.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { NotifierRun } from "./run.ts";
 * const run: NotifierRun = { instance: "x#0", records: [], text: () => "", notifier: {
 *   notify: () => Promise.resolve(),
 * } };
 * assert(run.notifier.retry === undefined);
 * ```
 */
export interface NotifierRun extends PluginRun {
  /** The created instance (to check its `retry` policy or `skipInitial`). */
  notifier: Notifier;
}

/**
 * Runs a notifier once: {@linkcode startNotifier}, one `notify(changeSet, result)`, close. No
 * retries: a hook that throws rejects with what it threw (check `retryable` of your
 * `NotifyError`), a hook that times out rejects with the wrapper's error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineNotifier } from "../plugin/mod.ts";
 * import { changeSetOf } from "./change_set.ts";
 * import { runNotifier } from "./run.ts";
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
 * assert(seen[0] === 3);
 * ```
 */
export async function runNotifier(
  def: AnyNotifierDefinition,
  options: unknown,
  changeSet: ChangeSet,
  result: WriteResult,
): Promise<NotifierRun> {
  await using n = await startNotifier(def, options);
  await n.notify(changeSet, result);
  return { instance: n.instance, records: n.records, text: n.text, notifier: n.notifier };
}

async function loaded(
  def: AnyWriterDefinition | AnyNotifierDefinition,
  raw: unknown,
  kind: "writer" | "notifier",
): Promise<LoadedInstanceSpec> {
  const label = `${def.name}#0`;
  const checked = await checkOptions(def, raw);
  if ("issues" in checked) {
    const issues = checked.issues.map((i) => i.replace(/^options\./, ""));
    throw new Error(`${label} "${def.name}": invalid options: ${issues.join("; ")}`);
  }
  return { kind, label, definition: def, options: checked.value, use: def.name };
}

function heldKeys(held: HeldKeysByObject | undefined): HeldKeys {
  const out = new Map<string, ReadonlySet<string>>();
  for (const [object, keys] of Object.entries(held ?? {})) out.set(object, new Set(keys));
  return out;
}

/** What the hook itself threw, unless it timed out (then the wrapper's error says so). */
function unwrap(e: unknown): unknown {
  return e instanceof PluginError && !e.timedOut && e.cause !== undefined ? e.cause : e;
}
