/**
 * The public API for plugin authors (`@gsidecar/k8s-gsidecar/plugin`).
 *
 * A plugin is a module whose default export is a definition:
 *
 * - a **writer** ({@linkcode defineWriter}) turns each {@linkcode ChangeSet} into files through
 *   the {@linkcode FileSink} in its context — atomic writes, identical content not rewritten, only
 *   its own files ever removed — and reports a {@linkcode WriteResult};
 * - a **notifier** ({@linkcode defineNotifier}) tells the application that files changed, once per
 *   change set that changed files; throw {@linkcode NotifyError} to say whether a failure is worth
 *   retrying under its {@linkcode RetryPolicy}.
 *
 * Options are declared with any Standard Schema library (zod, valibot, arktype…); the sidecar
 * validates them before `create` and names each bad field. Most file writers only pick keys and
 * check content: {@linkcode defineKeyWriter} does the rest. Every hook runs with a timeout and
 * isolated from the others: a throwing or hanging plugin is reported with its name, instance and
 * hook, and syncing goes on. Never log Secret values or credentials through `ctx.logger`.
 *
 * Tests: see `@gsidecar/k8s-gsidecar/testing` (`src/testing/mod.ts`); runnable examples with
 * their tests are in `examples/plugins/`.
 *
 * @example
 * ```ts
 * import { defineNotifier, NotifyError } from "./mod.ts";
 * import { z } from "zod";
 *
 * export default defineNotifier({
 *   name: "touch-file",
 *   options: z.object({ path: z.string().min(1) }).strict(),
 *   create: (options, ctx) => ({
 *     retry: { retries: 3, backoffMs: 500, maxDelayMs: 5000 },
 *     async notify(changeSet) {
 *       try {
 *         await Deno.writeTextFile(options.path, `${changeSet.seq}\n`);
 *       } catch (e) {
 *         throw new NotifyError(`cannot write ${options.path}`, { retryable: true, cause: e });
 *       }
 *       ctx.logger.info("touched", { path: options.path, seq: changeSet.seq });
 *     },
 *   }),
 * });
 * ```
 *
 * @module
 */
export {
  type AnyNotifierDefinition,
  type AnyWriterDefinition,
  defineNotifier,
  defineWriter,
  type DefinitionBase,
  type DesiredFile,
  type FileSink,
  type Notifier,
  type NotifierDefinition,
  NotifyError,
  type PluginContext,
  type PluginDefinition,
  type RetryPolicy,
  type SinkBatchOutcome,
  type SinkItem,
  type SinkOutcome,
  type Writer,
  type WriterContext,
  type WriterDefinition,
} from "./contract.ts";
export {
  type Change,
  type ChangeSet,
  type ObjectRef,
  refKey,
  type Rejection,
  type ResourceKind,
  type WriteResult,
} from "../model.ts";
export type { LogFields, Logger } from "./logger.ts";
export type { StandardSchemaV1 } from "./standard_schema.ts";
export {
  defineKeyWriter,
  type KeyRefusal,
  type KeyWriterOptions,
  type KeyWriterSpec,
} from "./key_writer.ts";
