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
    try {
      JSON.parse(decoder.decode(content));
      return undefined;
    } catch (e) {
      return `not valid JSON: ${e instanceof Error ? e.message : e}`;
    }
  },
});
