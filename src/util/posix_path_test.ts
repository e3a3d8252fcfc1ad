import assert from "node:assert/strict";
import { posix } from "node:path";
import { pathToFileURL } from "node:url";
import {
  basename,
  dirname,
  extname,
  isAbsolute,
  join,
  normalize,
  relative,
  resolve,
  toFileUrl,
} from "./posix_path.ts";

/** Every string of up to `max` characters from `alphabet`: all the corner cases of slashes and dots. */
function allStrings(alphabet: string, max: number): string[] {
  let level = [""];
  const out = [""];
  for (let n = 1; n <= max; n++) {
    level = level.flatMap((s) => [...alphabet].map((c) => s + c));
    out.push(...level);
  }
  return out;
}

const PATHS = allStrings("/.a", 6);
const SHORT = allStrings("/.a", 3);

Deno.test("posix_path's one-path functions give node:path's results for every short path", () => {
  for (const p of PATHS) {
    assert.equal(isAbsolute(p), posix.isAbsolute(p), `isAbsolute(${JSON.stringify(p)})`);
    assert.equal(normalize(p), posix.normalize(p), `normalize(${JSON.stringify(p)})`);
    assert.equal(dirname(p), posix.dirname(p), `dirname(${JSON.stringify(p)})`);
    assert.equal(basename(p), posix.basename(p), `basename(${JSON.stringify(p)})`);
    assert.equal(extname(p), posix.extname(p), `extname(${JSON.stringify(p)})`);
    assert.equal(resolve(p), posix.resolve(p), `resolve(${JSON.stringify(p)})`);
  }
});

Deno.test("posix_path's join(), resolve() and relative() give node:path's results for pairs", () => {
  for (const a of SHORT) {
    for (const b of SHORT) {
      const args = JSON.stringify([a, b]);
      assert.equal(join(a, b), posix.join(a, b), `join(${args})`);
      assert.equal(resolve(a, b), posix.resolve(a, b), `resolve(${args})`);
      assert.equal(relative(a, b), posix.relative(a, b), `relative(${args})`);
    }
  }
  assert.equal(join(), posix.join());
  assert.equal(resolve(), posix.resolve());
  assert.equal(resolve("a", "", "/b", "c"), posix.resolve("a", "", "/b", "c"));
});

Deno.test("toFileUrl() encodes what a URL would read otherwise, as pathToFileURL() does", () => {
  for (
    const p of ["/a b/c#d?e", "/x/100%/y", "/back\\slash", "/tab\tnew\nline\r", "/ü/€", "rel/a"]
  ) {
    const url = toFileUrl(p);
    assert.equal(url.href, pathToFileURL(p).href, p);
    assert.equal(decodeURIComponent(url.pathname), resolve(p));
  }
});
