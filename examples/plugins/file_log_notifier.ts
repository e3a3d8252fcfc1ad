/**
 * An example notifier plugin: appends one JSON line per change set to a log file, e.g. for an
 * application that tails it, or for auditing.
 *
 * ```json
 * {"time":"2025-01-01T12:00:00.000Z","seq":7,"initial":false,"written":["/config/a.json"],"removed":[],"rejected":0}
 * ```
 *
 * It shows the notifier contract: an options schema (zod), a retry policy, and
 * {@linkcode NotifyError} telling the sidecar whether a failure is worth retrying. The sidecar
 * calls `notify` once per change set that changed files, never blocks syncing on it, and retries
 * with exponential backoff; while a call is pending, newer change sets are merged into one. Its
 * test, `file_log_notifier_test.ts`, uses the testing kit.
 *
 * ```yaml
 * notifiers:
 *   - use: ./examples/plugins/file_log_notifier.ts
 *     options: { path: /var/log/app/config-changes.jsonl }
 * ```
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import fileLog from "./file_log_notifier.ts";
 * import { changeSetOf, runNotifier } from "../../src/testing/mod.ts";
 *
 * const path = await Deno.makeTempFile();
 * await runNotifier(fileLog, { path }, changeSetOf([], { seq: 1 }), {
 *   written: ["/config/a.json"],
 *   removed: [],
 *   rejected: [],
 * });
 * assert(JSON.parse(await Deno.readTextFile(path)).seq === 1);
 * await Deno.remove(path);
 * ```
 *
 * @module
 */
import { z } from "zod";
import { defineNotifier, type NotifierDefinition, NotifyError } from "../../src/plugin/mod.ts";

const options = z.object({
  /** The log file; created if missing, its directory must exist. */
  path: z.string().min(1),
  /** Retries of a failed append. */
  retries: z.number().int().min(0).default(3),
}).strict();

/**
 * Options of the example notifier as written in the configuration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FileLogOptions } from "./file_log_notifier.ts";
 * const options: FileLogOptions = { path: "/var/log/changes.jsonl" };
 * assert(options.retries === undefined);
 * ```
 */
export type FileLogOptions = z.input<typeof options>;

/**
 * The example notifier's definition (the module's default export).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import fileLog from "./file_log_notifier.ts";
 * assert(fileLog.name === "file-log" && fileLog.kind === "notifier");
 * ```
 */
const fileLog: NotifierDefinition<z.output<typeof options>> = defineNotifier({
  name: "file-log",
  version: "1.0.0",
  options,
  create(opts, ctx) {
    return {
      // Retried on a retryable NotifyError (or any other error): 1 s, 2 s, 4 s…, at most 30 s.
      retry: { retries: opts.retries, backoffMs: 1000, maxDelayMs: 30_000 },
      async notify(changeSet, result) {
        const line = JSON.stringify({
          time: new Date().toISOString(),
          seq: changeSet.seq,
          initial: changeSet.initial,
          written: result.written,
          removed: result.removed,
          rejected: result.rejected.length,
        }) + "\n";
        try {
          await Deno.writeTextFile(opts.path, line, { append: true, create: true });
        } catch (e) {
          // A missing directory will not appear by itself: retrying is pointless. A full disk or
          // a busy file may recover.
          const retryable = !(e instanceof Deno.errors.NotFound ||
            e instanceof Deno.errors.PermissionDenied);
          throw new NotifyError(
            `cannot append to ${opts.path}: ${e instanceof Error ? e.message : e}`,
            { retryable, cause: e },
          );
        }
        ctx.logger.debug("change set logged", { path: opts.path, seq: changeSet.seq });
      },
    };
  },
});
export default fileLog;
