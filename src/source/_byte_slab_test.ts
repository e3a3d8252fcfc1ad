import assert from "node:assert/strict";
import { ByteSlab } from "./_byte_slab.ts";

Deno.test("ByteSlab.encode() keeps every earlier value intact across chunks", () => {
  const slab = new ByteSlab();
  const values = Array.from({ length: 400 }, (_, i) => `${i}:` + "ü€x".repeat(i * 7));
  const encoded = values.map((v) => slab.encode(v));
  const decoder = new TextDecoder();
  assert.deepEqual(encoded.map((b) => decoder.decode(b)), values);
  assert.ok(new Set(encoded.map((b) => b.buffer)).size > 1, "more than one chunk was used");
});

Deno.test("ByteSlab.encode() gives a large value a buffer of its own", () => {
  const slab = new ByteSlab();
  const small = slab.encode("a");
  const large = slab.encode("x".repeat(100_000));
  assert.equal(large.byteLength, 100_000);
  assert.equal(large.buffer.byteLength, 100_000);
  assert.notEqual(large.buffer, small.buffer);
  assert.equal(slab.encode("b").buffer, small.buffer);
});
