import assert from "node:assert/strict";
import { Hash64 } from "./hash64.ts";

const bytesHash = (b: Uint8Array) => new Hash64().bytes(b).hex();

Deno.test("Hash64 gives a different hash for every one-bit change of a 4 KB value", () => {
  const base = new Uint8Array(4099).map((_, i) => (i * 7) & 0xff);
  const seen = new Set([bytesHash(base)]);
  for (let bit = 0; bit < base.length * 8; bit++) {
    const flipped = base.slice();
    flipped[bit >> 3]! ^= 1 << (bit & 7);
    seen.add(bytesHash(flipped));
  }
  assert.equal(seen.size, base.length * 8 + 1);
});

Deno.test("Hash64 tells apart values that differ only in length or in their last bytes", () => {
  const seen = new Set<string>();
  for (let n = 0; n <= 64; n++) seen.add(bytesHash(new Uint8Array(n)));
  for (let n = 0; n <= 64; n++) seen.add(new Hash64().text("\0".repeat(n)).hex());
  assert.equal(seen.size, 130);
  assert.notEqual(
    bytesHash(new Uint8Array([1, 2, 3, 4, 5])),
    bytesHash(new Uint8Array([1, 2, 3, 4, 6])),
  );
  assert.notEqual(new Hash64().text("abc").hex(), new Hash64().text("abd").hex());
});

Deno.test("Hash64 depends on where one part ends and the next begins", () => {
  const parts = (...ps: string[]) => ps.reduce((h, p) => h.text(p), new Hash64()).hex();
  const splits = new Set([parts("abcd"), parts("a", "bcd"), parts("ab", "cd"), parts("abc", "d")]);
  splits.add(parts("abcd", "")).add(parts("", "abcd"));
  assert.equal(splits.size, 6);
  const enc = new TextEncoder();
  assert.notEqual(
    new Hash64().bytes(enc.encode("ab")).bytes(enc.encode("cd")).hex(),
    new Hash64().bytes(enc.encode("abcd")).hex(),
  );
});

Deno.test("Hash64 gives the same hash for the same parts, wherever the bytes lie", () => {
  const value = new TextEncoder().encode("the same value, at another offset");
  const slab = new Uint8Array(value.length + 3);
  slab.set(value, 3);
  assert.equal(bytesHash(value), bytesHash(slab.subarray(3)));
  assert.equal(
    new Hash64().text("k").bytes(value).hex(),
    new Hash64().text("k").bytes(value).hex(),
  );
});
