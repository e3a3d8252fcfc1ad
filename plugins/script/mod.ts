/**
 * `script`: runs an executable after every change set that changed files (the `SCRIPT`
 * variable), with a timeout, the change summary in its environment, and its output in the logs.
 * A failing or hanging script is reported without stopping the sync.
 *
 * The script sees the sidecar's environment minus `REQ_USERNAME`/`REQ_PASSWORD`, plus:
 * `GSIDECAR_SEQ`, `GSIDECAR_INITIAL` (`true`/`false`), `GSIDECAR_WRITTEN` and `GSIDECAR_REMOVED`
 * (absolute paths, one per line), `GSIDECAR_WRITTEN_COUNT`, `GSIDECAR_REMOVED_COUNT`.
 * A file that is not executable is run with `sh`, as kiwigrid/k8s-sidecar does.
 *
 * @example
 * ```yaml
 * notifiers:
 *   - use: script
 *     options: { path: /scripts/reload.sh, timeoutMs: 30000 }
 * ```
 *
 * @module
 */
import { defineNotifier, NotifyError } from "../../src/plugin/mod.ts";
import * as s from "../../src/plugin/_schema.ts";

const schema = s.object({
  /** Executable (or shell script) to run. */
  path: s.string().min(1),
  args: s.array(s.string()).default([]),
  /** Kill the script after this long. */
  timeoutMs: s.number().int().positive().default(60_000),
  /** Retries when the script fails (non-zero exit or timeout). */
  retries: s.number().int().min(0).default(0),
});

/** Options of the `script` notifier. */
export type ScriptOptions = s.Input<typeof schema>;

const HIDDEN = ["REQ_USERNAME", "REQ_PASSWORD"];

export default defineNotifier<s.Infer<typeof schema>>({
  name: "script",
  version: "1.0.0",
  options: schema,
  // The hook must outlive the script's own timeout so that the kill, not the wrapper, ends it.
  timeoutMs: 24 * 3600_000,
  create(options, ctx) {
    return {
      retry: options.retries > 0
        ? { retries: options.retries, backoffMs: 1000, maxDelayMs: 30_000 }
        : undefined,
      async notify(changeSet, result) {
        const executable = await isExecutable(options.path);
        const [cmd, args] = executable
          ? [options.path, options.args]
          : ["sh", [options.path, ...options.args]];
        const env = Deno.env.toObject();
        for (const k of HIDDEN) delete env[k];
        Object.assign(env, {
          GSIDECAR_SEQ: String(changeSet.seq),
          GSIDECAR_INITIAL: String(changeSet.initial),
          GSIDECAR_WRITTEN: result.written.join("\n"),
          GSIDECAR_REMOVED: result.removed.join("\n"),
          GSIDECAR_WRITTEN_COUNT: String(result.written.length),
          GSIDECAR_REMOVED_COUNT: String(result.removed.length),
        });
        const timeout = AbortSignal.timeout(options.timeoutMs);
        const started = Date.now();
        let out: Deno.CommandOutput;
        try {
          out = await new Deno.Command(cmd, {
            args,
            env,
            clearEnv: true,
            stdin: "null",
            stdout: "piped",
            stderr: "piped",
            signal: AbortSignal.any([timeout, ctx.signal]),
          }).output();
        } catch (e) {
          throw new NotifyError(
            `cannot run ${options.path}: ${e instanceof Error ? e.message : e}`,
            {
              retryable: false,
              cause: e,
            },
          );
        }
        const dec = new TextDecoder();
        const stdout = dec.decode(out.stdout).trimEnd();
        const stderr = dec.decode(out.stderr).trimEnd();
        const fields = {
          script: options.path,
          seq: changeSet.seq,
          exitCode: out.code,
          ms: Date.now() - started,
        };
        if (stdout) ctx.logger.info("script output", { ...fields, stdout });
        if (stderr) ctx.logger.warn("script error output", { ...fields, stderr });
        if (timeout.aborted) {
          throw new NotifyError(`${options.path} killed after ${options.timeoutMs} ms`, {
            retryable: true,
          });
        }
        if (!out.success) {
          throw new NotifyError(`${options.path} exited with ${out.signal ?? out.code}`, {
            retryable: true,
          });
        }
        ctx.logger.info("script done", fields);
      },
    };
  },
});

async function isExecutable(path: string): Promise<boolean> {
  try {
    const st = await Deno.stat(path);
    return st.isFile && ((st.mode ?? 0o755) & 0o111) !== 0;
  } catch {
    return false;
  }
}
