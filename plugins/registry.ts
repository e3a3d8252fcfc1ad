/**
 * The built-in plugins. Literal `import()` specifiers, so that `deno compile` embeds every
 * built-in while each is loaded only when configured.
 *
 * @module
 */
import type { AnyNotifierDefinition, AnyWriterDefinition } from "../src/plugin/contract.ts";

type Loader<D> = () => Promise<{ default: D }>;

/**
 * Built-in writers by name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BUILTIN_WRITERS } from "./registry.ts";
 * const jsonFile = (await BUILTIN_WRITERS["json-file"]!()).default;
 * assert(jsonFile.name === "json-file");
 * ```
 */
export const BUILTIN_WRITERS: Readonly<Record<string, Loader<AnyWriterDefinition>>> = {
  "json-file": () => import("./json_file/mod.ts"),
  "yaml-file": () => import("./yaml_file/mod.ts"),
  "txt-file": () => import("./txt_file/mod.ts"),
  "raw-file": () => import("./raw_file/mod.ts"),
};

/**
 * Built-in notifiers by name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BUILTIN_NOTIFIERS } from "./registry.ts";
 * assert("http-basic" in BUILTIN_NOTIFIERS);
 * ```
 */
export const BUILTIN_NOTIFIERS: Readonly<Record<string, Loader<AnyNotifierDefinition>>> = {
  "http-basic": () => import("./http_basic/mod.ts"),
  "script": () => import("./script/mod.ts"),
  "webhook": () => import("./webhook/mod.ts"),
  "signal": () => import("./signal/mod.ts"),
  "slack": () => import("./slack/mod.ts"),
};
