/**
 * `raw-file`: writes every key as a file, bytes as they are, without any check — what
 * kiwigrid/k8s-sidecar does. Use it for binary data (`binaryData`, Secrets holding certificates)
 * or when the application validates its own files.
 *
 * Options: `keys` — globs of keys to write instead of `*`.
 *
 * @example
 * ```yaml
 * writers:
 *   - use: raw-file
 *     options: { keys: ["*.pem", "*.crt"] }
 * ```
 *
 * @module
 */
import { defineKeyWriter } from "../../src/plugin/mod.ts";

/**
 * The `raw-file` writer definition.
 *
 * @example
 * ```ts ignore
 * import rawFile from "./mod.ts";
 * const slot = await createWriter(rawFile, { keys: ["*.pem"] }, ctx);
 * ```
 */
const rawFile: ReturnType<typeof defineKeyWriter> = defineKeyWriter({
  name: "raw-file",
  version: "1.0.0",
  defaultKeys: ["*"],
});
export default rawFile;
