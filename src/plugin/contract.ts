/**
 * The plugin contract: how writers and notifiers are defined, created and called.
 *
 * A plugin module `export default`s a definition made with {@linkcode defineWriter} or
 * {@linkcode defineNotifier}. The core validates the instance's options with the definition's
 * Standard Schema, calls `create(options, ctx)` once, then `write`/`notify` for every change set,
 * and `close()` on shutdown. Every call goes through one wrapper that labels failures with plugin,
 * instance and hook, and enforces a timeout.
 *
 * @module
 */
import type { ChangeSet, ObjectRef, WriteResult } from "../model.ts";
import type { Logger } from "./logger.ts";
import type { StandardSchemaV1 } from "./standard_schema.ts";

/** One file a writer wants to exist for an object. */
export interface DesiredFile {
  /** Absolute path; must lie inside `FOLDER` or an allowed annotation root. */
  path: string;
  /** The file's bytes. */
  content: Uint8Array;
  /** File mode; `undefined` leaves it to the umask. */
  mode?: number | undefined;
}

/** What one sink call did. */
export interface SinkOutcome {
  /** Absolute paths created or replaced. */
  written: string[];
  /** Absolute paths removed. */
  removed: string[];
  /** Human-readable warnings (conflicts), already logged by the sink. */
  warnings: string[];
}

/** One object's files for {@linkcode FileSink.syncAll}. */
export interface SinkItem {
  /** The object the files belong to. */
  ref: ObjectRef;
  /** Every file the object contributes; empty removes all of them. */
  files: DesiredFile[];
  /** Paths that stay as they are although not listed (a refused key keeps its last good file). */
  keep?: string[] | undefined;
}

/** What one {@linkcode FileSink.syncAll} call did. */
export interface SinkBatchOutcome extends SinkOutcome {
  /** Objects whose files were refused (e.g. a path outside the folder); nothing of theirs changed. */
  refused: { ref: ObjectRef; reason: string }[];
}

/**
 * Where writers put files. Every write is atomic (temp file + rename in the same directory),
 * identical content is not rewritten, and only files this sidecar wrote are ever removed.
 * Ownership is per writer instance and object: two writers may not see each other's files.
 */
export interface FileSink {
  /**
   * Makes the files `ref` contributes through this writer exactly `files`: writes new and changed
   * ones, removes the ones no longer listed, except paths in `keep`, which stay as they are (used
   * for a key whose new content was rejected, so that the last good file stays).
   */
  sync(ref: ObjectRef, files: DesiredFile[], opts?: { keep?: string[] }): Promise<SinkOutcome>;
  /** Removes every file `ref` contributed through this writer. */
  remove(ref: ObjectRef): Promise<SinkOutcome>;
  /**
   * {@linkcode FileSink.sync} for several objects in one go: one journal sync for all of them, so
   * a writer should hand a whole change set to one call. An object the sink refuses is listed in
   * `refused` instead of failing the call.
   */
  syncAll(items: SinkItem[]): Promise<SinkBatchOutcome>;
  /** Paths `ref` currently owns through this writer. */
  owned(ref: ObjectRef): string[];
}

/** What every plugin instance gets. */
export interface PluginContext {
  /** Instance label, e.g. `json-file#0` or the `id` given in the config file. */
  instance: string;
  /** Logs with the instance label attached. */
  logger: Logger;
  /** Aborted on shutdown or when a call times out. */
  signal: AbortSignal;
}

/** What a writer instance gets. */
export interface WriterContext extends PluginContext {
  /** The only way a writer touches the folder. */
  sink: FileSink;
}

/** A created writer. */
export interface Writer {
  /** Applies one change set through `ctx.sink` and reports what changed. */
  write(changeSet: ChangeSet): Promise<WriteResult>;
  /**
   * Whether this writer writes key `key` at all. Optional; when every writer says, keys none of
   * them takes are reported to the user instead of being skipped silently.
   */
  accepts?(key: string): boolean;
  /** Releases what `create` acquired; called once on shutdown. */
  close?(): void | Promise<void>;
}

/** How the core retries a notifier whose `notify` threw a retryable error. */
export interface RetryPolicy {
  /** Attempts after the first one. */
  retries: number;
  /** Delay before retry n is `backoffMs * 2^(n-1)`, capped at `maxDelayMs`. */
  backoffMs: number;
  /** Longest delay between two attempts. */
  maxDelayMs: number;
}

/** A created notifier. */
export interface Notifier {
  /**
   * Tells the application that files changed. Throw {@linkcode NotifyError} to control retries.
   *
   * `changeSet` describes every change since the last successful notification (a burst, or the
   * whole initial sync, is one call); its changes carry no `entries` (the content is on disk, and
   * `result` says where).
   */
  notify(changeSet: ChangeSet, result: WriteResult): Promise<void>;
  /** Retry policy for failures; none when absent. */
  retry?: RetryPolicy | undefined;
  /** Skip the initial change set (e.g. `REQ_SKIP_INIT`). */
  skipInitial?: boolean | undefined;
  /** Releases what `create` acquired; called once on shutdown. */
  close?(): void | Promise<void>;
}

/**
 * A notification failure; `retryable: false` stops retries for this change set.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NotifyError } from "./contract.ts";
 * const e = new NotifyError("HTTP 401 from the reload endpoint", { retryable: false });
 * assert(!e.retryable);
 * ```
 */
export class NotifyError extends Error {
  /** Whether another attempt may succeed. */
  readonly retryable: boolean;
  /** Creates the error. */
  constructor(message: string, opts: { retryable: boolean; cause?: unknown }) {
    super(message, { cause: opts.cause });
    this.name = "NotifyError";
    this.retryable = opts.retryable;
  }
}

/** What writer and notifier definitions share. */
export interface DefinitionBase<O> {
  /** kebab-case name used in configuration. */
  name: string;
  /** The plugin's own version, logged when it is loaded. */
  version?: string | undefined;
  /** Options schema; the validated output is passed to `create`. */
  options?: StandardSchemaV1<unknown, O> | undefined;
  /** Per-call timeout in ms for this plugin's hooks (default 30 s). */
  timeoutMs?: number | undefined;
}

/** A writer plugin definition. */
export interface WriterDefinition<O = unknown> extends DefinitionBase<O> {
  /** Set by {@linkcode defineWriter}. */
  kind: "writer";
  /** Makes one instance; called once per configured instance, with its validated options. */
  create(options: O, ctx: WriterContext): Writer | Promise<Writer>;
}

/** A notifier plugin definition. */
export interface NotifierDefinition<O = unknown> extends DefinitionBase<O> {
  /** Set by {@linkcode defineNotifier}. */
  kind: "notifier";
  /** Makes one instance; called once per configured instance, with its validated options. */
  create(options: O, ctx: PluginContext): Notifier | Promise<Notifier>;
}

/** A writer definition with its options type erased, as registries and loaders hold them. */
// deno-lint-ignore no-explicit-any
export type AnyWriterDefinition = WriterDefinition<any>;

/** A notifier definition with its options type erased. */
// deno-lint-ignore no-explicit-any
export type AnyNotifierDefinition = NotifierDefinition<any>;

/** Either definition. */
export type PluginDefinition = AnyWriterDefinition | AnyNotifierDefinition;

/**
 * Defines a writer plugin.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineWriter } from "./contract.ts";
 * const writer = defineWriter({
 *   name: "upper-txt",
 *   create: (_options, ctx) => ({
 *     async write(changeSet) {
 *       const result = { written: [] as string[], removed: [] as string[], rejected: [] };
 *       for (const change of changeSet.changes) {
 *         const out = change.type === "delete"
 *           ? await ctx.sink.remove(change.ref)
 *           : await ctx.sink.sync(change.ref, []);
 *         result.written.push(...out.written);
 *         result.removed.push(...out.removed);
 *       }
 *       return result;
 *     },
 *   }),
 * });
 * assert.equal(writer.kind, "writer");
 * ```
 */
export function defineWriter<O = undefined>(
  def: Omit<WriterDefinition<O>, "kind">,
): WriterDefinition<O> {
  return { ...def, kind: "writer" };
}

/**
 * Defines a notifier plugin.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineNotifier } from "./contract.ts";
 * const notifier = defineNotifier({
 *   name: "stdout",
 *   create: (_options, ctx) => ({
 *     notify(changeSet, result) {
 *       ctx.logger.info("files changed", { seq: changeSet.seq, written: result.written.length });
 *       return Promise.resolve();
 *     },
 *   }),
 * });
 * assert.equal(notifier.kind, "notifier");
 * ```
 */
export function defineNotifier<O = undefined>(
  def: Omit<NotifierDefinition<O>, "kind">,
): NotifierDefinition<O> {
  return { ...def, kind: "notifier" };
}
