/**
 * Applies change sets: every writer in order through the hook wrapper, the orphan sweep after the
 * initial sync, then hands the result to the notifiers (without waiting for them).
 *
 * @module
 */
import {
  changedFiles,
  type ChangeSet,
  emptyResult,
  type ObjectRef,
  type WriteResult,
} from "./model.ts";
import type { Notifier, Writer } from "./plugin/contract.ts";
import { invokeHook } from "./plugin/invoke.ts";
import type { Slot } from "./plugin/instantiate.ts";
import type { Logger } from "./plugin/logger.ts";
import type { NotifierSlot, NotifyDispatcher } from "./notifiers/dispatcher.ts";
import { type FileStore, ownerKey } from "./writers/file_store.ts";

/** Options of {@linkcode Pipeline}. */
export interface PipelineOptions {
  store: FileStore;
  writers: Slot<Writer>[];
  dispatcher: NotifyDispatcher;
  logger: Logger;
  /** Objects currently selected; their files survive the orphan sweep. */
  liveRefs: () => ObjectRef[];
  /** Runs before the writers (e.g. downloads `.url` keys). */
  prepare?: ((changeSet: ChangeSet) => Promise<ChangeSet>) | undefined;
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

/**
 * The write half of the sidecar.
 *
 * @example
 * ```ts ignore
 * const pipeline = new Pipeline({ store, writers, dispatcher, logger, liveRefs });
 * const ok = await pipeline.apply(changeSet);
 * ```
 */
export class Pipeline {
  readonly #opts: PipelineOptions;
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
  }

  /** Writes one change set; returns false when a writer failed (its files stay as they were). */
  async apply(original: ChangeSet): Promise<boolean> {
    const { writers, logger } = this.#opts;
    const changeSet = this.#opts.prepare ? await this.#opts.prepare(original) : original;
    const result = emptyResult();
    let ok = true;
    for (const slot of writers) {
      const label = { plugin: slot.plugin, instance: slot.instance, hook: "write" };
      try {
        // No shutdown signal here: SIGTERM lets the write in progress finish (the timeout still applies).
        const r = await invokeHook(
          label,
          slot.timeoutMs,
          undefined,
          () => slot.impl.write(changeSet),
        );
        merge(result, r);
      } catch (e) {
        ok = false;
        this.stats.writerErrors++;
        logger.error("writer failed; its files stay as they were", {
          plugin: slot.plugin,
          instance: slot.instance,
          seq: changeSet.seq,
          error: e instanceof Error ? e.message : String(e),
        });
      }
    }
    if (changeSet.initial) {
      const live = new Set<string>();
      for (const ref of this.#opts.liveRefs()) {
        for (const slot of writers) live.add(ownerKey(slot.instance, ref));
      }
      const swept = await this.#opts.store.prune(live);
      result.removed.push(...swept.removed);
      if (swept.removed.length) {
        logger.info("removed files of objects gone while stopped", { files: swept.removed.length });
      }
    }
    this.stats.changeSets++;
    this.stats.filesWritten += result.written.length;
    this.stats.filesRemoved += result.removed.length;
    this.stats.rejected += result.rejected.length;
    if (ok) this.stats.lastSuccess = Date.now();
    logger.info(changeSet.initial ? "initial sync written" : "change set written", {
      seq: changeSet.seq,
      objects: changeSet.changes.length,
      written: result.written.length,
      removed: result.removed.length,
      rejected: result.rejected.length,
    });
    if (changedFiles(result)) this.#opts.dispatcher.submit(changeSet, result);
    return ok;
  }
}

function merge(into: WriteResult, from: WriteResult | undefined): void {
  if (!from) return;
  into.written.push(...(from.written ?? []));
  into.removed.push(...(from.removed ?? []));
  into.rejected.push(...(from.rejected ?? []));
}

/**
 * Notifier slots as the dispatcher wants them.
 *
 * @example
 * ```ts
 * import { notifierSlots } from "./pipeline.ts";
 * console.assert(notifierSlots([]).length === 0);
 * ```
 */
export function notifierSlots(slots: Slot<Notifier>[]): NotifierSlot[] {
  return slots.map((s) => ({
    plugin: s.plugin,
    instance: s.instance,
    notifier: s.impl,
    timeoutMs: s.timeoutMs,
    logger: s.logger,
  }));
}
