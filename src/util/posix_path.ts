/**
 * POSIX path functions with the results of `node:path`'s, for the sidecar's own modules.
 *
 * Why not `node:path`: importing any `node:` module starts Deno's Node compatibility, which cost
 * an idle process about 4 MiB of resident memory (`bench/floor_parts.ts`) for a handful of string
 * functions. The sidecar runs on Linux only, so POSIX is all it needs.
 * `posix_path_test.ts` checks every function against `node:path`'s POSIX functions.
 *
 * @module
 */

/**
 * True when `path` starts at the root.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isAbsolute } from "./posix_path.ts";
 * assert(isAbsolute("/etc") && !isAbsolute("etc"));
 * ```
 */
export function isAbsolute(path: string): boolean {
  return path.startsWith("/");
}

/** A path with a `.` or `..` segment or a repeated slash: only these need the segment walk. */
const NOT_NORMAL = /\/\/|(?:^|\/)\.\.?(?:\/|$)/;

/**
 * Resolves `.`, `..` and repeated slashes; `..` above the root is dropped when `rooted`. The
 * result has no leading or trailing slash.
 */
function segments(path: string, rooted: boolean): string {
  // Nearly every path the sidecar builds is already normal: one regular expression test instead
  // of splitting and joining (it was the largest cost of these functions in a sync's profile).
  if (!NOT_NORMAL.test(path)) {
    const start = path.startsWith("/") ? 1 : 0;
    const end = path.length > start && path.endsWith("/") ? path.length - 1 : path.length;
    return path.slice(start, end);
  }
  const out: string[] = [];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg !== "..") out.push(seg);
    else if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
    else if (!rooted) out.push("..");
  }
  return out.join("/");
}

/**
 * `path` with `.`, `..` and repeated slashes resolved; a trailing slash is kept.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { normalize } from "./posix_path.ts";
 * assert.equal(normalize("/a//b/../c/"), "/a/c/");
 * assert.equal(normalize("../a/./b"), "../a/b");
 * ```
 */
export function normalize(path: string): string {
  if (path === "") return ".";
  const rooted = isAbsolute(path);
  let out = segments(path, rooted);
  if (out === "" && !rooted) out = ".";
  if (out !== "" && path.endsWith("/")) out += "/";
  return rooted ? `/${out}` : out;
}

/**
 * The non-empty `parts` joined by `/` and normalised; `.` when there are none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "./posix_path.ts";
 * assert.equal(join("/data", "a/../b", "c.json"), "/data/b/c.json");
 * assert.equal(join("", ""), ".");
 * ```
 */
export function join(...parts: string[]): string {
  const joined = parts.filter((p) => p !== "").join("/");
  return joined === "" ? "." : normalize(joined);
}

/**
 * The absolute path `parts` lead to, read right to left until one is absolute, else from the
 * working directory; normalised, without a trailing slash.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolve } from "./posix_path.ts";
 * assert.equal(resolve("/data", "a", "../b/"), "/data/b");
 * assert.equal(resolve("/data", "/etc"), "/etc");
 * ```
 */
export function resolve(...parts: string[]): string {
  let path = "";
  for (let i = parts.length - 1; i >= -1 && !isAbsolute(path); i--) {
    const part = i >= 0 ? parts[i]! : Deno.cwd();
    if (part !== "") path = path === "" ? part : `${part}/${path}`;
  }
  return `/${segments(path, true)}`;
}

/**
 * Everything before the last segment (trailing slashes ignored): `/` for a top-level path, `.`
 * for a bare name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dirname } from "./posix_path.ts";
 * assert.equal(dirname("/data/a/b.json"), "/data/a");
 * assert.equal(dirname("/data/"), "/");
 * assert.equal(dirname("b.json"), ".");
 * ```
 */
export function dirname(path: string): string {
  if (path === "") return ".";
  let end = -1;
  let inTrailingSlashes = true;
  for (let i = path.length - 1; i >= 1; i--) {
    if (path[i] !== "/") inTrailingSlashes = false;
    else if (!inTrailingSlashes) {
      end = i;
      break;
    }
  }
  if (end === -1) return isAbsolute(path) ? "/" : ".";
  // As node:path does, a path that starts with `//` keeps it.
  return isAbsolute(path) && end === 1 ? "//" : path.slice(0, end);
}

/**
 * The last segment of `path`, trailing slashes ignored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { basename } from "./posix_path.ts";
 * assert.equal(basename("/data/a/b.json"), "b.json");
 * assert.equal(basename("/data/a/"), "a");
 * ```
 */
export function basename(path: string): string {
  let end = path.length;
  while (end > 0 && path[end - 1] === "/") end--;
  return path.slice(path.lastIndexOf("/", end - 1) + 1, end);
}

/**
 * The extension of the last segment, from its last dot (`""` when it has none or only a leading
 * one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { extname } from "./posix_path.ts";
 * assert.equal(extname("/etc/a.tar.gz"), ".gz");
 * assert.equal(extname("/etc/.profile"), "");
 * ```
 */
export function extname(path: string): string {
  let start = 0, end = -1, dot = -1;
  // 0: no dot yet; 1: a dot before the last dot; -1: a name character before the last dot.
  let beforeDot = 0;
  for (let i = path.length - 1; i >= 0; i--) {
    if (path[i] === "/") {
      if (end !== -1) {
        start = i + 1;
        break;
      }
      continue;
    }
    if (end === -1) end = i + 1;
    if (path[i] === ".") {
      if (dot === -1) dot = i;
      else if (beforeDot !== 1) beforeDot = 1;
    } else if (dot !== -1) beforeDot = -1;
  }
  const onlyDots = beforeDot === 1 && dot === end - 1 && dot === start + 1;
  return dot === -1 || end === -1 || beforeDot === 0 || onlyDots ? "" : path.slice(dot, end);
}

/**
 * The path from `from` to `to`, both resolved first; `""` when they are the same.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { relative } from "./posix_path.ts";
 * assert.equal(relative("/data/a", "/data/b/c"), "../b/c");
 * assert.equal(relative("/data", "/data"), "");
 * ```
 */
export function relative(from: string, to: string): string {
  const a = resolve(from), b = resolve(to);
  if (a === b) return "";
  const as = a === "/" ? [] : a.slice(1).split("/");
  const bs = b === "/" ? [] : b.slice(1).split("/");
  let same = 0;
  while (same < as.length && same < bs.length && as[same] === bs[same]) same++;
  return [...as.slice(same).map(() => ".."), ...bs.slice(same)].join("/");
}

/**
 * The `file:` URL of `path` (resolved), every character that a URL would read otherwise
 * percent-encoded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toFileUrl } from "./posix_path.ts";
 * assert.equal(toFileUrl("/plugins/my plugin#1.ts").href, "file:///plugins/my%20plugin%231.ts");
 * ```
 */
export function toFileUrl(path: string): URL {
  const url = new URL("file:///");
  // The pathname setter encodes spaces, `?` and `#`, but takes `%` as an escape, `\` as a
  // separator and drops tabs and newlines.
  url.pathname = resolve(path).replace(/[%\\\t\n\r]/g, encodeURIComponent);
  return url;
}
