/**
 * `npm:yaml`, loaded on demand. A dynamic import of it gives the named exports when run from
 * source but only a `default` export in a `deno bundle` chunk; both work here.
 *
 * @module
 */

/** The `yaml` package's module. */
export type YamlModule = typeof import("yaml");

/**
 * Loads `npm:yaml` (once; later calls get the same module).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadYaml } from "./load_yaml.ts";
 * const { parse } = await loadYaml();
 * assert(parse("a: 1").a === 1);
 * ```
 */
export async function loadYaml(): Promise<YamlModule> {
  const mod = await import("yaml") as YamlModule & { default?: YamlModule };
  return typeof mod.parse === "function" ? mod : mod.default!;
}
