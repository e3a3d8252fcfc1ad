/**
 * What every test and benchmark needs to start the sidecar as a child `deno` process: the path of
 * `main.ts`, the few variables Deno needs to find itself and its caches (the child gets those and
 * nothing else of the parent's environment), and the V8 flags the shipped program runs with.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The sidecar's entry point. */
export const MAIN: string = fileURLToPath(new URL("../../main.ts", import.meta.url));

/**
 * The V8 flags `deno task compile` gives the binary (and `deno task start` the sources), read from
 * deno.json: every sidecar a test or benchmark starts runs with them, as shipped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SHIPPED_V8_FLAGS } from "./deno_child.ts";
 * assert.match(SHIPPED_V8_FLAGS, /--expose-gc/);
 * ```
 */
export const SHIPPED_V8_FLAGS: string = shippedV8Flags();

/** The command of deno.json's task `name` ("" when there is none). */
function task(name: string): string {
  const config = JSON.parse(Deno.readTextFileSync(new URL("../../deno.json", import.meta.url)));
  return String(config.tasks?.[name]?.command ?? "");
}

function shippedV8Flags(): string {
  const flagsOf = (name: string) => task(name).match(/--v8-flags=(\S+)/)?.[1];
  const compile = flagsOf("compile");
  if (compile === undefined || compile !== flagsOf("start")) {
    throw new Error("deno.json: the compile and start tasks must give the same --v8-flags");
  }
  return compile;
}

/**
 * The environment the image gives the binary (the Dockerfile's `ENV` lines, the same prefix as
 * `deno task start`'s): every sidecar a test or benchmark starts gets it, as shipped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SHIPPED_ENV } from "./deno_child.ts";
 * assert.match(SHIPPED_ENV.GLIBC_TUNABLES ?? "", /mmap_threshold/);
 * ```
 */
export const SHIPPED_ENV: Readonly<Record<string, string>> = shippedEnv();

function shippedEnv(): Record<string, string> {
  const dockerfile = Deno.readTextFileSync(new URL("../../Dockerfile", import.meta.url));
  const env: Record<string, string> = {};
  for (const m of dockerfile.matchAll(/^ENV (\w+)=(\S+)$/gm)) env[m[1]!] = m[2]!;
  const start = task("start");
  const prefix = Object.entries(env).map(([k, v]) => `${k}=${v} `).join("");
  if (!start.startsWith(`${prefix}deno `)) {
    throw new Error(`deno.json: the start task must begin with the Dockerfile's ENV: ${prefix}`);
  }
  return env;
}

const PASSED = ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR", "NO_COLOR"] as const;

/**
 * `PATH`, `HOME`, `DENO_DIR`, `XDG_CACHE_HOME`, `TMPDIR` and `NO_COLOR` as this process has them,
 * except those in `omit` (a pod has its own `/tmp`; a test may point `HOME` elsewhere), with
 * {@linkcode SHIPPED_ENV} and `DENO_V8_FLAGS` = {@linkcode SHIPPED_V8_FLAGS}. `DENO_DIR` is
 * always given where Deno would look by default, so the cache stays found whatever `HOME` the child
 * gets.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { denoEnv, SHIPPED_V8_FLAGS } from "./deno_child.ts";
 * const env = denoEnv(["HOME"]);
 * assert.equal(env.HOME, undefined);
 * assert.equal(env.PATH, Deno.env.get("PATH"));
 * assert.equal(env.DENO_V8_FLAGS, SHIPPED_V8_FLAGS);
 * ```
 */
export function denoEnv(omit: readonly (typeof PASSED)[number][] = []): Record<string, string> {
  const env: Record<string, string> = { ...SHIPPED_ENV, DENO_V8_FLAGS: SHIPPED_V8_FLAGS };
  for (const k of PASSED) {
    const v = Deno.env.get(k);
    if (v !== undefined && !omit.includes(k)) env[k] = v;
  }
  const cache = Deno.env.get("XDG_CACHE_HOME") ??
    (Deno.env.get("HOME") === undefined ? undefined : join(Deno.env.get("HOME")!, ".cache"));
  if (env.DENO_DIR === undefined && cache !== undefined) env.DENO_DIR = join(cache, "deno");
  return env;
}
