/**
 * What every test and benchmark needs to start the sidecar as a child `deno` process: the path of
 * `main.ts`, and the few variables Deno needs to find itself and its caches (the child gets those
 * and nothing else of the parent's environment).
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The sidecar's entry point. */
export const MAIN: string = fileURLToPath(new URL("../../main.ts", import.meta.url));

const PASSED = ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR", "NO_COLOR"] as const;

/**
 * `PATH`, `HOME`, `DENO_DIR`, `XDG_CACHE_HOME`, `TMPDIR` and `NO_COLOR` as this process has them,
 * except those in `omit` (a pod has its own `/tmp`; a test may point `HOME` elsewhere).
 * `DENO_DIR` is always given where Deno would look by default, so the cache stays found whatever
 * `HOME` the child gets.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { denoEnv } from "./deno_child.ts";
 * const env = denoEnv(["HOME"]);
 * assert.equal(env.HOME, undefined);
 * assert.equal(env.PATH, Deno.env.get("PATH"));
 * ```
 */
export function denoEnv(omit: readonly (typeof PASSED)[number][] = []): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of PASSED) {
    const v = Deno.env.get(k);
    if (v !== undefined && !omit.includes(k)) env[k] = v;
  }
  const cache = Deno.env.get("XDG_CACHE_HOME") ??
    (Deno.env.get("HOME") === undefined ? undefined : join(Deno.env.get("HOME")!, ".cache"));
  if (env.DENO_DIR === undefined && cache !== undefined) env.DENO_DIR = join(cache, "deno");
  return env;
}
