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
 * ```ts
 * import assert from "node:assert/strict";
 * import rawFile from "./mod.ts";
 * import { changeSetOf, runWriter, tempSink } from "../../src/testing/mod.ts";
 * await using tmp = await tempSink();
 * const der = new Uint8Array([0x30, 0x82, 0x01, 0x0a]);
 * const set = changeSetOf([{
 *   kind: "secret",
 *   name: "tls",
 *   binaryData: { "ca.pem": der, "notes.txt": new TextEncoder().encode("x") },
 *   dir: tmp.dir,
 * }]);
 * const run = await runWriter(rawFile, { keys: ["*.pem"] }, set, tmp);
 * assert.deepEqual(run.result.written, [`${tmp.dir}/ca.pem`]);
 * assert.deepEqual(await Deno.readFile(`${tmp.dir}/ca.pem`), der);
 * ```
 */
const rawFile: ReturnType<typeof defineKeyWriter> = defineKeyWriter({
  name: "raw-file",
  version: "1.0.0",
  defaultKeys: ["*"],
});
export default rawFile;
