/**
 * Path containment, the rule that keeps every file inside the folders it may be written to.
 *
 * @module
 */
import { isAbsolute, relative } from "./posix_path.ts";

/**
 * True when `path` is `root` itself or lies below it (both absolute and normalised). A name that
 * merely starts with two dots (`..cache`) is inside; `..` and `../x` are not.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isWithin } from "./paths.ts";
 * assert(isWithin("/data", "/data/a") && isWithin("/data", "/data/..cache"));
 * assert(!isWithin("/data", "/database") && !isWithin("/data", "/data/../etc"));
 * ```
 */
export function isWithin(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (rel !== ".." && !rel.startsWith("../") && !isAbsolute(rel));
}
