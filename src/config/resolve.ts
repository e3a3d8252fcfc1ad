/**
 * Everything the sidecar needs before it may touch the folder: the command line, the
 * environment, the optional config file (`CONFIG` or `--config`), every plugin module loaded and
 * every instance's options validated. All problems are collected and reported together.
 *
 * @module
 */
import { dirname } from "node:path";
import { type LoadedInstanceSpec, loadPipeline, validateOptions } from "../host/loader.ts";
import { BUILTIN_WRITERS } from "../../plugins/registry.ts";
import { parseArgs } from "./args.ts";
import { EnvReader } from "./declare.ts";
import { compatFrom, parseEnv } from "./env.ts";
import { pipelineFromEnv, readConfigFile } from "./file.ts";
import type { Config } from "./types.ts";
import { VARS } from "./vars.ts";

/** A configuration ready to run. */
export interface ResolvedConfiguration {
  config: Config;
  writers: LoadedInstanceSpec[];
  notifiers: LoadedInstanceSpec[];
  warnings: string[];
  /** The config file used, if any. */
  configFile?: string | undefined;
}

/**
 * Resolves command line + environment + config file + plugins; `errors` lists every problem
 * found. Command-line flags of kiwigrid (`COMPAT=kiwigrid`) win over the variables they stand
 * for, as in kiwigrid. `--help` is the caller's to handle before.
 *
 * @example
 * ```ts ignore
 * const r = await resolveConfiguration(Deno.env.toObject(), Deno.args);
 * if (!r.ok) { console.error(r.errors.join("\n")); Deno.exit(2); }
 * ```
 */
export async function resolveConfiguration(
  env: Record<string, string | undefined>,
  argv: readonly string[],
): Promise<({ ok: true } & ResolvedConfiguration) | { ok: false; errors: string[] }> {
  const args = parseArgs(argv, compatFrom(env));
  const errors: string[] = [...args.errors];
  const parsed = parseEnv({ ...env, ...args.env }, {
    knownWriters: Object.keys(BUILTIN_WRITERS),
  });
  if (!parsed.ok) errors.push(...parsed.errors);
  const configPath = args.configPath ?? new EnvReader(env, {}).value(VARS.CONFIG);
  const fallback = parsed.ok ? pipelineFromEnv(parsed.config) : undefined;
  let spec = fallback;
  let source: string | undefined;
  if (configPath !== undefined) {
    const file = await readConfigFile(configPath, fallback ? { fallback } : {});
    if (file.ok) {
      spec = file.file.spec;
      source = file.file.path;
    } else {
      errors.push(...file.errors);
      spec = undefined;
    }
  }
  if (!spec) return { ok: false, errors };
  const loaded = await loadPipeline(spec, {
    source,
    baseDir: source ? dirname(source) : undefined,
  });
  if (!loaded.ok) return { ok: false, errors: [...errors, ...loaded.errors] };
  errors.push(...await validateOptions([...loaded.writers, ...loaded.notifiers]));
  if (errors.length > 0 || !parsed.ok) return { ok: false, errors };
  return {
    ok: true,
    config: parsed.config,
    writers: loaded.writers,
    notifiers: loaded.notifiers,
    warnings: parsed.warnings,
    configFile: source,
  };
}
