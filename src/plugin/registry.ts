/**
 * The built-in plugins. Literal `import()` specifiers, so that `deno compile` embeds every
 * built-in while each is loaded only when configured.
 *
 * @module
 */
import type { AnyNotifierDefinition, AnyWriterDefinition } from "./contract.ts";

type Loader<D> = () => Promise<{ default: D }>;

/**
 * Built-in writers by name.
 *
 * @example
 * ```ts
 * import { BUILTIN_WRITERS } from "./registry.ts";
 * const jsonFile = (await BUILTIN_WRITERS["json-file"]!()).default;
 * console.assert(jsonFile.name === "json-file");
 * ```
 */
export const BUILTIN_WRITERS: Readonly<Record<string, Loader<AnyWriterDefinition>>> = {
  "json-file": () => import("../../plugins/json_file/mod.ts"),
  "yaml-file": () => import("../../plugins/yaml_file/mod.ts"),
  "txt-file": () => import("../../plugins/txt_file/mod.ts"),
  "raw-file": () => import("../../plugins/raw_file/mod.ts"),
};

/**
 * Built-in notifiers by name.
 *
 * @example
 * ```ts
 * import { BUILTIN_NOTIFIERS } from "./registry.ts";
 * console.assert("http-basic" in BUILTIN_NOTIFIERS);
 * ```
 */
export const BUILTIN_NOTIFIERS: Readonly<Record<string, Loader<AnyNotifierDefinition>>> = {
  "http-basic": () => import("../../plugins/http_basic/mod.ts"),
  "script": () => import("../../plugins/script/mod.ts"),
  "webhook": () => import("../../plugins/webhook/mod.ts"),
  "signal": () => import("../../plugins/signal/mod.ts"),
  "slack": () => import("../../plugins/slack/mod.ts"),
};
