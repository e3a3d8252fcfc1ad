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
    } catch (e) {
      // V8's message quotes the offending text; for a Secret that would put its value in the
      // logs, so only the position is reported.
      const m = e instanceof Error ? /\(line (\d+) column (\d+)\)/.exec(e.message) : null;
      return m ? `not valid JSON at line ${m[1]}, column ${m[2]}` : "not valid JSON";
    }
  },
});
