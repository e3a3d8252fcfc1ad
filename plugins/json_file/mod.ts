/**
 * `json-file`: writes keys ending in `.json` whose content parses as JSON; a key that does not
 * parse is refused with an error naming object and key, and its last good file stays.
 *
 * Options: `keys` — globs of keys to write instead of `*.json`.
 *
 * @example
 * ```yaml
 * writers:
 *   - use: json-file
 *     options: { keys: ["*.json", "*.dashboard"] }
 * ```
 *
 * @module
 */
import { defineKeyWriter } from "../../src/plugin/mod.ts";
import { jsonErrorOffset, lineColumn } from "./json_position.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Why `bytes` are not JSON, or undefined when they are.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jsonProblem } from "./mod.ts";
 * const bytes = (s: string) => new TextEncoder().encode(s);
 * assert(jsonProblem(bytes('{"a": 1}')) === undefined);
 * assert(jsonProblem(bytes('{"pw": hunter2}')) === "not valid JSON at line 1, column 8");
 * ```
 */
export function jsonProblem(bytes: Uint8Array): string | undefined {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return "not valid JSON: not UTF-8 text";
  }
  try {
    JSON.parse(text);
    return undefined;
  } catch {
    // V8's message may quote the offending text; for a Secret that would put its value in the
    // logs, so only the position is reported, found by our own scan.
    const offset = jsonErrorOffset(text);
    if (offset < 0) return "not valid JSON";
    const { line, column } = lineColumn(text, offset);
    return `not valid JSON at line ${line}, column ${column}`;
  }
}

/**
 * The `json-file` writer definition.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import jsonFile from "./mod.ts";
 * assert(jsonFile.name === "json-file");
 * ```
 */
const jsonFile: ReturnType<typeof defineKeyWriter> = defineKeyWriter({
  name: "json-file",
  version: "1.0.0",
  defaultKeys: ["*.json"],
  fileContent(_key, bytes) {
    const problem = jsonProblem(bytes);
    return problem === undefined ? bytes : { refuse: problem };
  },
});
export default jsonFile;
