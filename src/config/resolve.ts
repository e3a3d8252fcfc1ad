/**
 * Everything the sidecar needs before it may touch a folder: the environment, the command line,
 * the optional config file (`CONFIG` or `--config`) with one pipeline or several syncs, every
 * plugin module loaded and every instance's options validated. All problems are collected and
 * reported together.
 *
 * @module
 */
import { dirname } from "../util/posix_path.ts";
import { type LoadedInstanceSpec, loadPipeline, validateOptions } from "../host/loader.ts";
import type { PipelineSpec } from "../host/spec.ts";
import { BUILTIN_WRITERS } from "../../plugins/registry.ts";
import { isWithin } from "../util/paths.ts";
import { parseArgs } from "./args.ts";
import { EnvReader } from "./declare.ts";
import { compatFrom, parseEnv } from "./env.ts";
import { pipelineFromEnv, readConfigFile, type SyncFileEntry } from "./file.ts";
import type { Config } from "./types.ts";
import { VARS } from "./vars.ts";

/** One sync: what it selects, where it writes, and its plugin instances. */
export interface SyncPlan {
  /** The name a config file's `syncs:` gives it; undefined for the environment's one sync. */
  name?: string | undefined;
  config: Config;
  writers: LoadedInstanceSpec[];
  notifiers: LoadedInstanceSpec[];
}

/** A configuration ready to run. */
export interface ResolvedConfiguration {
  /** The process's settings (health, logs, timings, connection): the first sync's. */
  config: Config;
  /** Every sync, in order; the environment alone declares exactly one. */
  syncs: SyncPlan[];
  warnings: string[];
  /** The config file used, if any. */
  configFile?: string | undefined;
}

/**
 * Resolves environment + command line + config file + plugins; `errors` lists every problem
 * found.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveConfiguration } from "./resolve.ts";
 * const env = { FOLDER: "/config", LABEL: "grafana_dashboard", WRITERS: "json-file,txt-file" };
 * const r = await resolveConfiguration(env, []);
 * assert.ok(r.ok);
 * assert.deepEqual(r.syncs[0]?.writers.map((w) => w.label), ["json-file#0", "txt-file#1"]);
 * // Every problem at once, each naming its variable (main.ts prints them and exits with 2).
 * const bad = await resolveConfiguration({ LABEL: "app", METHOD: "sometimes" }, []);
 * assert.ok(!bad.ok);
 * assert.deepEqual(bad.errors.map((e) => e.match(/^[A-Z_]+/)?.[0]), ["METHOD", "FOLDER"]);
 * ```
 */
export async function resolveConfiguration(
  env: Record<string, string | undefined>,
  argv: readonly string[],
): Promise<({ ok: true } & ResolvedConfiguration) | { ok: false; errors: string[] }> {
  const args = parseArgs(argv, compatFrom(env));
  const errors: string[] = [...args.errors];
  const baseEnv = { ...env, ...args.env };
  const knownWriters = Object.keys(BUILTIN_WRITERS);
  const configPath = args.configPath ?? new EnvReader(env, {}).value(VARS.CONFIG);

  const file = configPath === undefined ? undefined : await readConfigFile(configPath, {});
  if (file !== undefined && !file.ok) errors.push(...file.errors);
  if (file?.ok && file.file.syncs) {
    const syncs = await resolveSyncs(file.file.syncs, baseEnv, dirname(file.file.path), errors);
    if (errors.length > 0 || syncs.plans.length === 0) return { ok: false, errors };
    return {
      ok: true,
      config: syncs.plans[0]!.config,
      syncs: syncs.plans,
      warnings: syncs.warnings,
      configFile: file.file.path,
    };
  }

  const parsed = parseEnv(baseEnv, { knownWriters });
  if (!parsed.ok) errors.push(...parsed.errors);
  const fallback = parsed.ok ? pipelineFromEnv(parsed.config) : undefined;
  let spec: PipelineSpec | undefined = fallback;
  let source: string | undefined;
  if (file?.ok) {
    // Sections the file leaves out come from the environment.
    const given = file.file.sections;
    spec = {
      writers: given.includes("writers") ? file.file.spec.writers : fallback?.writers ?? [],
      notifiers: given.includes("notifiers") ? file.file.spec.notifiers : fallback?.notifiers ?? [],
    };
    source = file.file.path;
  } else if (file !== undefined) {
    spec = undefined;
  }
  if (!spec) return { ok: false, errors };
  const loaded = await loadPlugins(spec, source, source ? dirname(source) : undefined);
  errors.push(...loaded.errors);
  if (errors.length > 0 || !parsed.ok) return { ok: false, errors };
  return {
    ok: true,
    config: parsed.config,
    syncs: [{ config: parsed.config, writers: loaded.writers, notifiers: loaded.notifiers }],
    warnings: parsed.warnings,
    configFile: source,
  };
}

async function resolveSyncs(
  entries: readonly SyncFileEntry[],
  baseEnv: Record<string, string | undefined>,
  baseDir: string,
  errors: string[],
): Promise<{ plans: SyncPlan[]; warnings: string[] }> {
  const plans: SyncPlan[] = [];
  const warnings: string[] = [];
  for (const entry of entries) {
    const parsed = parseEnv({ ...baseEnv, ...entry.env }, {
      knownWriters: Object.keys(BUILTIN_WRITERS),
      cwd: baseDir,
    });
    if (!parsed.ok) {
      errors.push(...parsed.errors.map((e) => `${entry.where}: ${e}`));
      continue;
    }
    warnings.push(...parsed.warnings.map((w) => `${entry.where}: ${w}`));
    const fallback = pipelineFromEnv(parsed.config);
    const spec: PipelineSpec = {
      writers: entry.writers ?? fallback.writers,
      notifiers: entry.notifiers ?? fallback.notifiers,
    };
    const loaded = await loadPlugins(spec, entry.where, baseDir);
    if (loaded.errors.length > 0) {
      errors.push(...loaded.errors);
      continue;
    }
    plans.push({ name: entry.name, config: parsed.config, ...loaded });
  }
  // Two syncs writing into one folder (or one inside the other) could claim the same file.
  for (let i = 0; i < plans.length; i++) {
    for (let j = i + 1; j < plans.length; j++) {
      const a = plans[i]!;
      const b = plans[j]!;
      if (
        isWithin(a.config.folder, b.config.folder) || isWithin(b.config.folder, a.config.folder)
      ) {
        errors.push(
          `${entries.find((e) => e.name === b.name)?.where}: folder ${b.config.folder} overlaps ` +
            `the folder ${a.config.folder} of sync ${JSON.stringify(a.name)}: two syncs must not ` +
            "claim one file; give each its own folder",
        );
      }
    }
  }
  return { plans, warnings };
}

async function loadPlugins(
  spec: PipelineSpec,
  source: string | undefined,
  baseDir: string | undefined,
): Promise<{ writers: LoadedInstanceSpec[]; notifiers: LoadedInstanceSpec[]; errors: string[] }> {
  const loaded = await loadPipeline(spec, { source, baseDir });
  if (!loaded.ok) return { writers: [], notifiers: [], errors: loaded.errors };
  const errors = await validateOptions([...loaded.writers, ...loaded.notifiers]);
  return { writers: loaded.writers, notifiers: loaded.notifiers, errors };
}
