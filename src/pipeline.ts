/**
 * The write stage: applies each {@linkcode SyncStep} through every writer (in order, through the
 * hook wrapper), removes files of objects that no longer exist when a step says so, and hands what
 * changed to the notifiers without waiting for them.
 *
 * The initial sync arrives in several steps (page by page); notifiers hear about it once, when its
 * last step is written. Files a failed write left stale and the file store later repaired reach
 * the notifiers the same way as any other change.
 *
 * @module
 */
import {
  type Change,
  changedFiles,
  type ChangeSet,
  emptyResult,
  inKindNamespace,
  refKey,
  type SyncStep,
  type WriteResult,
} from "./model.ts";
import type { HeldKeys, PluginHost } from "./host/plugin_host.ts";
import type { Logger } from "./plugin/logger.ts";
import {
  type NotifierSlot,
  type NotifyDispatcher,
  type NotifyItem,
  NotifyMerge,
} from "./notifiers/dispatcher.ts";
import { errorMessage } from "./util/errors.ts";
import { CollectionSchedule, type Urgency } from "./util/collect_garbage.ts";
import { family, type Metric } from "./util/metrics.ts";
import { type FileStore, ownerKey, parseOwnerKey } from "./writers/file_store.ts";

/** Options of {@linkcode Pipeline}. */
export interface PipelineOptions {
  store: FileStore;
  host: PluginHost;
  dispatcher: NotifyDispatcher;
  logger: Logger;
  /**
   * Runs before the writers (downloads `.url` keys); `held` names keys whose content could not be
   * obtained this time.
   */
  prepare?:
    | ((changeSet: ChangeSet) => Promise<{ changeSet: ChangeSet; held: HeldKeys }>)
    | undefined;
  /**
   * Asks for a thorough garbage collection: `"now"` after the end of the initial sync and after
   * each relisted scope (the work that leaves the most garbage), `"within-interval"` after any
   * other step that changed files. The process's one {@linkcode CollectionSchedule} by default.
   */
  collectGarbage?: ((urgency: Urgency) => void) | undefined;
}

/** Counters for metrics. */
export interface PipelineStats {
  changeSets: number;
  filesWritten: number;
  filesRemoved: number;
  rejected: number;
  writerErrors: number;
  lastSuccess: number;
}

// V8's heap is the process's: every pipeline asks the same schedule.
let schedule: CollectionSchedule | undefined;
const processSchedule = () => schedule ??= new CollectionSchedule();

const NO_ENTRIES: ReadonlyMap<string, Uint8Array> = new Map();

/**
 * The write half of the sidecar.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { notifierSlots, Pipeline } from "./pipeline.ts";
 * import jsonFile from "../plugins/json_file/mod.ts";
 * import { PluginHost } from "./host/plugin_host.ts";
 * import { NotifyDispatcher } from "./notifiers/dispatcher.ts";
 * import { changeSetOf } from "./testing/change_set.ts";
 * import { recordingLogger } from "./testing/logger.ts";
 * import { FileStore } from "./writers/file_store.ts";
 * const { logger } = recordingLogger();
 * const signal = new AbortController().signal;
 * const folder = await Deno.makeTempDir();
 * const store = await FileStore.open({ folder, logger });
 * const host = await PluginHost.create({
 *   writers: [{
 *     kind: "writer",
 *     label: "json-file#0",
 *     definition: jsonFile,
 *     options: {},
 *     use: "json-file",
 *   }],
 *   notifiers: [],
 *   sinkFor: (instance) => store.scoped(instance),
 *   logger,
 *   signal,
 * });
 * const dispatcher = new NotifyDispatcher(notifierSlots(host), { signal, logger });
 * const pipeline = new Pipeline({ store, host, dispatcher, logger });
 * const changeSet = changeSetOf([
 *   { name: "dash", data: { "a.json": "{}", "b.json": "{" }, dir: folder },
 * ]);
 * const ok = await pipeline.apply({ changeSet, endOfInitial: false });
 * assert.ok(ok); // b.json was refused (not JSON): a rejection, not a writer failure
 * assert.equal(await Deno.readTextFile(`${folder}/a.json`), "{}");
 * assert.equal(pipeline.stats.rejected, 1);
 * await dispatcher.close();
 * await host.close();
 * await store.close();
 * await Deno.remove(folder, { recursive: true });
 * ```
 */
export class Pipeline {
  readonly #opts: PipelineOptions;
  /** What the initial sync changed so far; notified once, at its end. */
  #initial = new NotifyMerge();
  /** Keys already reported as taken by no writer, per object. */
  readonly #unclaimedReported = new Map<string, Set<string>>();
  #seq = 0;
  readonly stats: PipelineStats = {
    changeSets: 0,
    filesWritten: 0,
    filesRemoved: 0,
    rejected: 0,
    writerErrors: 0,
    lastSuccess: 0,
  };

  /** Creates the pipeline. */
  constructor(opts: PipelineOptions) {
    this.#opts = opts;
    opts.store.onRepaired((outcome) => {
      const result = { written: outcome.written, removed: outcome.removed, rejected: [] };
      this.#count(result);
      this.#notify({ seq: this.#seq, initial: false, changes: [] }, result, false);
    });
  }

  /** What the write stage counts. */
  metrics(): Metric[] {
    const c = (name: string, help: string, value: number) => family(name, help, "counter", value);
    return [
      c("gsidecar_change_sets_total", "Change sets applied.", this.stats.changeSets),
      c("gsidecar_files_written_total", "Files written.", this.stats.filesWritten),
      c("gsidecar_files_removed_total", "Files removed.", this.stats.filesRemoved),
      c("gsidecar_rejected_total", "Keys or objects the writers refused.", this.stats.rejected),
      c("gsidecar_writer_errors_total", "Writer calls that failed.", this.stats.writerErrors),
    ];
  }

  /** Writes one step; returns false when a writer failed (its files stay as they were). */
  async apply(step: SyncStep): Promise<boolean> {
    const { host, logger } = this.#opts;
    const original = step.changeSet;
    this.#seq = Math.max(this.#seq, original.seq);
    const { changeSet, held } = this.#opts.prepare
      ? await this.#opts.prepare(original)
      : { changeSet: original, held: new Map() };
    this.#reportUnclaimedKeys(changeSet);
    let result = emptyResult();
    let ok = true;
    if (changeSet.changes.length > 0) {
      const written = await host.write(changeSet, held);
      result = written.result;
      for (const f of written.failed) {
        ok = false;
        this.stats.writerErrors++;
        logger.error("writer failed; its files stay as they were", {
          plugin: f.plugin,
          instance: f.instance,
          seq: changeSet.seq,
          error: errorMessage(f.error),
        });
      }
    }
    if (step.prune) await this.#prune(step.prune, result);
    this.#count(result);
    if (ok) this.stats.lastSuccess = Date.now();
    if (changeSet.changes.length > 0 || changedFiles(result)) {
      logger.info(changeSet.initial ? "initial sync written" : "change set written", {
        seq: changeSet.seq,
        objects: changeSet.changes.length,
        written: result.written.length,
        removed: result.removed.length,
        rejected: result.rejected.length,
      });
    }
    this.#notify(changeSet, result, step.endOfInitial);
    const collect = this.#opts.collectGarbage ?? ((urgency) => processSchedule().request(urgency));
    if (step.endOfInitial || step.prune !== undefined) collect("now");
    else if (!changeSet.initial && changedFiles(result)) collect("within-interval");
    return ok;
  }

  /** Submits what changed; the initial sync's steps are held back and submitted as one. */
  #notify(changeSet: ChangeSet, result: WriteResult, endOfInitial: boolean): void {
    // Notifiers get the changes without their content: it is on disk now, and a notification
    // that waits for a slow endpoint must not hold every object's bytes.
    const item: NotifyItem = {
      changeSet: { ...changeSet, changes: changeSet.changes.map(withoutEntries) },
      result,
    };
    if (changeSet.initial) {
      this.#initial.add(item);
      if (!endOfInitial) return;
      const whole = this.#initial.item();
      this.#initial = new NotifyMerge();
      this.#opts.dispatcher.submit(whole.changeSet, whole.result);
      return;
    }
    if (changedFiles(result)) this.#opts.dispatcher.submit(item.changeSet, item.result);
  }

  async #prune(prune: NonNullable<SyncStep["prune"]>, result: WriteResult): Promise<void> {
    const live = new Set<string>();
    for (const ref of prune.live) {
      for (const w of this.#opts.host.writers) live.add(ownerKey(w.instance, ref));
    }
    const where = prune.where;
    const swept = await this.#opts.store.prune((owner) => {
      if (live.has(owner)) return false;
      if (where === "all") return true;
      const ref = parseOwnerKey(owner)?.ref;
      return ref !== undefined && where.some((w) => inKindNamespace(w, ref));
    });
    result.removed.push(...swept.removed);
    if (swept.removed.length) {
      this.#opts.logger.info("removed files of objects gone while stopped", {
        files: swept.removed.length,
      });
    }
  }

  /**
   * Keys that no writer takes are reported once per object and key: a `.yaml` key with only
   * `json-file` configured is otherwise silently ignored.
   */
  #reportUnclaimedKeys(changeSet: ChangeSet): void {
    const host = this.#opts.host;
    for (const change of changeSet.changes) {
      const object = refKey(change.ref);
      if (change.type === "delete") {
        this.#unclaimedReported.delete(object);
        continue;
      }
      const reported = this.#unclaimedReported.get(object);
      for (const key of change.entries.keys()) {
        // undefined: a writer that does not say which keys it takes may take any.
        if (reported?.has(key) || host.takes(key) !== false) continue;
        const names = host.writers.map((w) => w.plugin);
        this.#opts.logger.info("key not written: no configured writer takes it", {
          object,
          key,
          writers: names.join(","),
          hint: hintFor(key, names),
        });
        if (reported) reported.add(key);
        else this.#unclaimedReported.set(object, new Set([key]));
      }
    }
  }

  #count(result: WriteResult): void {
    this.stats.changeSets++;
    this.stats.filesWritten += result.written.length;
    this.stats.filesRemoved += result.removed.length;
    this.stats.rejected += result.rejected.length;
  }
}

function withoutEntries(change: Change): Change {
  return change.entries.size === 0 ? change : { ...change, entries: NO_ENTRIES };
}

/** How to get `key` written, in the words of the configuration. */
function hintFor(key: string, writers: string[]): string {
  const builtin = /\.ya?ml$/i.test(key)
    ? "yaml-file"
    : /\.txt$/i.test(key)
    ? "txt-file"
    : /\.json$/i.test(key)
    ? "json-file"
    : undefined;
  const add = builtin && !writers.includes(builtin) ? builtin : "raw-file";
  return `add ${add} to WRITERS (e.g. WRITERS=${[...writers, add].join(",")}) ` +
    "or give a writer's `keys` option in the config file; raw-file writes every key as it is";
}

/**
 * The host's notifier instances as the dispatcher wants them: every call through the host.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { notifierSlots } from "./pipeline.ts";
 * import { PluginHost } from "./host/plugin_host.ts";
 * import { NotifyDispatcher } from "./notifiers/dispatcher.ts";
 * import { defineNotifier } from "./plugin/mod.ts";
 * import { recordingLogger } from "./testing/logger.ts";
 * const { logger } = recordingLogger();
 * const signal = new AbortController().signal;
 * const seen: number[] = [];
 * const counter = defineNotifier({
 *   name: "counter",
 *   create: () => ({ notify: (set) => Promise.resolve(void seen.push(set.seq)) }),
 * });
 * const host = await PluginHost.create({
 *   writers: [],
 *   notifiers: [{
 *     kind: "notifier",
 *     label: "counter#0",
 *     definition: counter,
 *     options: {},
 *     use: "./counter.ts",
 *   }],
 *   sinkFor: () => {
 *     throw new Error("a notifier has no sink");
 *   },
 *   logger,
 *   signal,
 * });
 * const slots = notifierSlots(host);
 * assert.deepEqual(slots.map((slot) => slot.instance), ["counter#0"]);
 * const dispatcher = new NotifyDispatcher(slots, { signal, logger, quietMs: 0 });
 * const result = { written: ["/config/a.json"], removed: [], rejected: [] };
 * dispatcher.submit({ seq: 4, initial: false, changes: [] }, result);
 * await dispatcher.idle();
 * assert.deepEqual(seen, [4]);
 * await dispatcher.close();
 * await host.close();
 * ```
 */
export function notifierSlots(host: PluginHost): NotifierSlot[] {
  return host.notifiers.map((n) => ({
    plugin: n.plugin,
    instance: n.instance,
    retry: n.impl.retry,
    skipInitial: n.impl.skipInitial,
    logger: n.logger,
    notify: (changeSet, result, signal) => host.notify(n, changeSet, result, signal),
  }));
}
