/**
 * What V8's `--trace-gc` lines say about a sidecar's JavaScript heap, read from its output.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lastGc } from "./gc_trace.ts";
 * const gc = lastGc("[1:0x1]  900 ms: Mark-Compact 12.0 (14.0) -> 7.5 (13.0) MB, …\n");
 * assert(gc.used === 7.5 && gc.committed === 13 && gc.major === 1);
 * ```
 *
 * @module
 */

/** The heap after the last collection in a `--trace-gc` output, and how many there were. */
export interface GcTrace {
  /** MiB used after the last GC (V8 prints them as "MB", in units of 2^20 bytes). */
  used: number;
  /** MiB committed after the last GC. */
  committed: number;
  /** Collections seen. */
  count: number;
  /** How many of them were full (Mark-Compact) collections. */
  major: number;
  /** MiB used after the last full collection (NaN before the first). */
  usedAfterMajor: number;
  /** `ms` (since the isolate started) of the last full collection (NaN before the first). */
  lastMajorAtMs: number;
}

/**
 * The last `--trace-gc` line (`… 1234 ms: Scavenge 4.1 (5.6) -> 3.5 (6.6) MB, …`) of `output`, and
 * counts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lastGc } from "./gc_trace.ts";
 * assert(Number.isNaN(lastGc("no gc yet").used));
 * ```
 */
export function lastGc(output: string): GcTrace {
  // "Scavenge", "Minor Mark-Sweep", "Mark-Compact", "Incremental Mark-Compact"…
  const re =
    /(\d+) ms: [A-Za-z ()]*?(?:Scavenge|Mark-Sweep|Mark-Compact)[^\n]*?-> ([\d.]+) \(([\d.]+)\) MB/g;
  const out: GcTrace = {
    used: NaN,
    committed: NaN,
    count: 0,
    major: 0,
    usedAfterMajor: NaN,
    lastMajorAtMs: NaN,
  };
  for (const m of output.matchAll(re)) {
    out.used = Number(m[2]);
    out.committed = Number(m[3]);
    out.count++;
    if (m[0].includes("Mark-Compact")) {
      out.major++;
      out.usedAfterMajor = out.used;
      out.lastMajorAtMs = Number(m[1]);
    }
  }
  return out;
}

/**
 * Environment that line-buffers a child's stdout (coreutils' `stdbuf` preload), so that V8's GC
 * traces, printed with C stdio and fully buffered into a pipe, arrive as they happen; empty where
 * the preload library is missing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lineBufferedEnv } from "./gc_trace.ts";
 * const env = await lineBufferedEnv();
 * assert(Object.keys(env).length === 0 || env._STDBUF_O === "L");
 * ```
 */
export async function lineBufferedEnv(): Promise<Record<string, string>> {
  const lib = "/usr/libexec/coreutils/libstdbuf.so";
  return await Deno.stat(lib).then(() => ({ LD_PRELOAD: lib, _STDBUF_O: "L" }), () => ({}));
}
