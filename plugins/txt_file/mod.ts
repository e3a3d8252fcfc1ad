/**
 * `txt-file`: writes keys ending in `.txt` whose content is valid UTF-8. A key that is not is
 * refused with the offset of the first invalid byte, and its last good file stays.
 *
 * Options: `keys` — globs of keys to write instead of `*.txt`.
 *
 * @example
 * ```yaml
 * writers:
 *   - use: txt-file
 *     options: { keys: ["*.txt", "*.conf"] }
 * ```
 *
 * @module
 */
import { defineKeyWriter } from "../../src/plugin/mod.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * The offset of the first byte of `bytes` that is not part of valid UTF-8, or -1 when all of it is
 * (overlong forms, surrogates and code points above U+10FFFF are invalid, as for `TextDecoder`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { firstInvalidUtf8 } from "./mod.ts";
 * assert(firstInvalidUtf8(new TextEncoder().encode("héllo")) === -1);
 * assert(firstInvalidUtf8(new Uint8Array([0x61, 0xff])) === 1);
 * ```
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i;
    }
    i += need + 1;
  }
  return -1;
}

/**
 * The `txt-file` writer definition.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import txtFile from "./mod.ts";
 * import { changeSetOf, runWriter, tempSink } from "../../src/testing/mod.ts";
 * await using tmp = await tempSink();
 * const run = await runWriter(txtFile, {}, changeSetOf([
 *   { name: "app", data: { "notes.txt": "hi" }, dir: tmp.dir },
 * ]), tmp);
 * assert(run.result.written.length === 1);
 * ```
 */
const txtFile: ReturnType<typeof defineKeyWriter> = defineKeyWriter({
  name: "txt-file",
  version: "1.0.0",
  defaultKeys: ["*.txt"],
  fileContent(_key, bytes) {
    try {
      decoder.decode(bytes);
      return bytes;
    } catch {
      return {
        refuse: `not valid UTF-8 text (first invalid byte at offset ${firstInvalidUtf8(bytes)})`,
      };
    }
  },
});
export default txtFile;
