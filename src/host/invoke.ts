/**
 * The one wrapper every plugin hook is called through: it labels failures with plugin, instance
 * and hook, and turns a call that does not settle within its timeout into an error (aborting the
 * signal handed to the hook so well-behaved plugins can stop).
 *
 * @module
 */
import { after, type Timer } from "../util/clock.ts";
import { messageOf } from "../util/errors.ts";

/** Which plugin call failed. */
export interface HookLabel {
  plugin: string;
  instance: string;
  hook: string;
}

/**
 * A plugin hook that threw or timed out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { invokeHook, PluginError } from "./invoke.ts";
 * import { recordingLogger } from "../testing/logger.ts";
 * const { logger, records } = recordingLogger();
 * const label = { plugin: "json-file", instance: "json-file#0", hook: "write" };
 * try {
 *   await invokeHook(label, 1_000, undefined, () => Promise.reject(new Error("disk full")));
 * } catch (e) {
 *   if (e instanceof PluginError) logger.error(e.message, { ...e.label });
 * }
 * assert.equal(
 *   records[0]?.message,
 *   'plugin "json-file" instance "json-file#0" hook write: disk full',
 * );
 * const hangs = (signal: AbortSignal) =>
 *   new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
 * await assert.rejects(
 *   invokeHook(label, 10, undefined, hangs),
 *   (e) => e instanceof PluginError && e.timedOut,
 * );
 * ```
 */
export class PluginError extends Error {
  readonly label: HookLabel;
  readonly timedOut: boolean;
  /** Wraps `cause`. */
  constructor(
    label: HookLabel,
    message: string,
    opts: { cause?: unknown; timedOut?: boolean } = {},
  ) {
    super(`plugin "${label.plugin}" instance "${label.instance}" hook ${label.hook}: ${message}`, {
      cause: opts.cause,
    });
    this.name = "PluginError";
    this.label = label;
    this.timedOut = opts.timedOut ?? false;
  }
}

/**
 * Calls `fn` with a signal that aborts when `parent` aborts or `timeoutMs` passes; rejects with a
 * {@linkcode PluginError} when `fn` throws or has not settled by then. A hook that ignores the
 * signal keeps running in the background, but nothing waits for it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { invokeHook } from "./invoke.ts";
 * const label = { plugin: "demo", instance: "demo#0", hook: "notify" };
 * const value = await invokeHook(label, 1000, undefined, () => Promise.resolve(42));
 * assert(value === 42);
 * ```
 */
export async function invokeHook<T>(
  label: HookLabel,
  timeoutMs: number,
  parent: AbortSignal | undefined,
  fn: (signal: AbortSignal) => T | Promise<T>,
): Promise<T> {
  const ac = new AbortController();
  let timer: Timer | undefined;
  let onParentAbort = () => {};
  const timeout = new Promise<never>((_, reject) => {
    // On shutdown nobody waits for a hook that ignores its signal.
    onParentAbort = () => {
      ac.abort(parent?.reason);
      reject(new PluginError(label, "aborted by shutdown", { cause: parent?.reason }));
    };
    if (parent?.aborted) onParentAbort();
    else parent?.addEventListener("abort", onParentAbort, { once: true });
    timer = after(timeoutMs, () => {
      const err = new PluginError(label, `did not settle within ${timeoutMs} ms`, {
        timedOut: true,
      });
      ac.abort(err);
      reject(err);
    });
  });
  try {
    return await Promise.race([
      (async () => {
        try {
          return await fn(ac.signal);
        } catch (e) {
          if (e instanceof PluginError) throw e;
          throw new PluginError(label, messageOf(e), { cause: e });
        }
      })(),
      timeout,
    ]);
  } finally {
    timer?.cancel();
    parent?.removeEventListener("abort", onParentAbort);
  }
}
