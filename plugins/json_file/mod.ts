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
import { defineKeyWriter } from "../../src/writers/key_writer.ts";
import { jsonErrorOffset, lineColumn } from "./json_position.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

export default defineKeyWriter({
  name: "json-file",
  version: "1.0.0",
  defaultKeys: ["*.json"],
  check(content) {
    let text: string;
    try {
      text = decoder.decode(content);
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
  },
});
