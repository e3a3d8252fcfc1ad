import assert from "node:assert/strict";
import { Claims } from "./_claims.ts";

Deno.test("Claims keeps every owner's claim through rivals coming and going", () => {
  const claims = new Claims<number>();
  assert.equal(claims.size, 0);
  assert.equal(claims.winner(), undefined);
  claims.set("c", 3);
  claims.set("c", 30);
  assert.deepEqual([claims.size, claims.get("c")], [1, 30]);
  claims.set("b", 2);
  claims.set("a", 1);
  assert.deepEqual(claims.owners().sort(), ["a", "b", "c"]);
  assert.equal(claims.winner(), "a");
  claims.delete("a");
  claims.delete("c");
  assert.deepEqual([claims.size, claims.winner(), claims.get("b"), claims.has("c")], [
    1,
    "b",
    2,
    false,
  ]);
  claims.set("d", 4);
  assert.deepEqual([claims.size, claims.get("b"), claims.get("d")], [2, 2, 4]);
  claims.delete("b");
  claims.delete("d");
  assert.deepEqual([claims.size, claims.owners(), claims.winner()], [0, [], undefined]);
  claims.delete("nobody");
  assert.equal(claims.size, 0);
});
