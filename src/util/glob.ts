/**
 * Minimal globs for key names: `*` (any run), `?` (one character), `{a,b}` (alternatives).
 *
 * @module
 */

/**
 * Compiles a glob to an anchored regular expression.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { globToRegExp } from "./glob.ts";
 * assert(globToRegExp("*.{yaml,yml}").test("rules.yml"));
 * ```
 */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  let inGroup = false;
  for (const ch of glob) {
    if (ch === "*") re += ".*";
    else if (ch === "?") re += ".";
    else if (ch === "{" && !inGroup) {
      inGroup = true;
      re += "(?:";
    } else if (ch === "}" && inGroup) {
      inGroup = false;
      re += ")";
    } else if (ch === "," && inGroup) re += "|";
    else re += ch.replace(/[.+^$()|[\]\\]/g, "\\$&");
  }
  if (inGroup) throw new Error(`glob ${JSON.stringify(glob)} has an unclosed "{"`);
  return new RegExp(`^${re}$`);
}
