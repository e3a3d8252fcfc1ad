import assert from "node:assert/strict";
import { PathsByOwner } from "./_paths_by_owner.ts";

Deno.test("PathsByOwner keeps each owner's paths, one or many", () => {
  const index = new PathsByOwner();
  index.add("o", "/a");
  index.add("o", "/a");
  assert.deepEqual(index.of("o"), ["/a"]);
  index.add("o", "/b");
  index.add("o", "/c");
  index.add("p", "/a");
  assert.deepEqual(index.of("o").sort(), ["/a", "/b", "/c"]);
  assert.deepEqual([...index.owners()].sort(), ["o", "p"]);
  index.delete("o", "/a");
  index.delete("o", "/c");
  assert.deepEqual(index.of("o"), ["/b"]);
  index.delete("o", "/missing");
  index.delete("o", "/b");
  assert.deepEqual([...index.owners()], ["p"]);
  assert.deepEqual(index.of("o"), []);
});
