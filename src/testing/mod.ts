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
 * - {@linkcode startWriter} / {@linkcode startNotifier} — an instance created from raw options by
 *   the sidecar's own plugin host, for several calls; {@linkcode runWriter} /
 *   {@linkcode runNotifier} — one call, then close. A writer call can say which keys are held
 *   (their content missing this time, as when a `.url` download failed).
 * - {@linkcode assertWriterContract} — the rules every writer must keep, as one check for a
 *   writer's own test.
 * - {@linkcode recordingLogger} — a logger that records every line, to assert on logs.
 * - {@linkcode receiver} / {@linkcode closedPort} — a local HTTP endpoint that records requests,
 *   and one that refuses connections, for notifier tests.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineKeyWriter } from "../plugin/mod.ts";
 * import { assertWriterContract, changeSetOf, runWriter, tempSink } from "./mod.ts";
 *
 * const upperOnly = defineKeyWriter({
 *   name: "upper-only",
 *   defaultKeys: ["*.txt"],
 *   fileContent: (_key, bytes) => {
 *     const text = new TextDecoder().decode(bytes);
 *     return text === text.toUpperCase() ? bytes : { refuse: "not upper case" };
 *   },
 * });
 * await assertWriterContract(upperOnly, { sample: { "a.txt": "HI" } });
 * await using tmp = await tempSink();
 * const set = changeSetOf([{ name: "app", data: { "a.txt": "HI", "b.txt": "lo" }, dir: tmp.dir }]);
 * const run = await runWriter(upperOnly, {}, set, tmp);
 * assert(run.result.written.length === 1 && run.result.rejected.length === 1);
 * assert(await Deno.readTextFile(`${tmp.dir}/a.txt`) === "HI");
 * ```
 *
 * @module
 */
export { changeSetOf, type TestObject } from "./change_set.ts";
export { type TempSink, tempSink } from "./temp_sink.ts";
export {
  type HeldKeysByObject,
  type NotifierRun,
  type NotifierUnderTest,
  type PluginRun,
  runNotifier,
  runWriter,
  startNotifier,
  startWriter,
  type WriterRun,
  type WriterUnderTest,
} from "./run.ts";
export { assertWriterContract, type WriterContractOptions } from "./writer_contract.ts";
export { type LogRecord, recordingLogger } from "./logger.ts";
export { closedPort, type ReceivedRequest, type Receiver, receiver } from "./http.ts";
export type { TempStore } from "./temp_sink.ts";
