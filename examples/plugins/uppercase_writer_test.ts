import assert from "node:assert/strict";
import { join } from "node:path";
import { assertWriterContract, changeSetOf, runWriter, tempSink } from "../../src/testing/mod.ts";
import uppercase from "./uppercase_writer.ts";

Deno.test("uppercase writer writes .txt keys upper-cased into <key>.upper files", async () => {
  await using tmp = await tempSink();
  const run = await runWriter(
    uppercase,
    {},
    changeSetOf([{
      name: "greetings",
      data: { "hello.txt": "hello, wörld", "data.json": "{}" },
      dir: tmp.dir,
    }]),
    tmp,
  );
  assert.deepEqual(run.result, {
    written: [join(tmp.dir, "hello.txt.upper")],
    removed: [],
    rejected: [],
  });
  assert.equal(await Deno.readTextFile(join(tmp.dir, "hello.txt.upper")), "HELLO, WÖRLD");
});

Deno.test("uppercase writer keeps the last good file when a key is not UTF-8", async () => {
  await using tmp = await tempSink();
  const dir = tmp.dir;
  await runWriter(uppercase, {}, changeSetOf([{ name: "g", data: { "a.txt": "ok" }, dir }]), tmp);
  const run = await runWriter(
    uppercase,
    {},
    changeSetOf([{ name: "g", binaryData: { "a.txt": new Uint8Array([0xff]) }, dir }], { seq: 2 }),
    tmp,
  );
  assert.deepEqual(run.result.rejected, [{
    ref: { kind: "configmap", namespace: "default", name: "g" },
    key: "a.txt",
    reason: "not UTF-8 text",
  }]);
  assert.equal(await Deno.readTextFile(join(dir, "a.txt.upper")), "OK");
  assert.match(run.text(), /key refused; the last good file stays .*configmap\/default\/g.*a\.txt/);
});

Deno.test("uppercase writer removes an object's files when it is deleted or loses a key", async () => {
  await using tmp = await tempSink();
  const dir = tmp.dir;
  await runWriter(
    uppercase,
    { suffix: ".shout" },
    changeSetOf([{ name: "g", data: { "a.txt": "a", "b.txt": "b" }, dir }]),
    tmp,
  );
  const lost = await runWriter(
    uppercase,
    { suffix: ".shout" },
    changeSetOf([{ name: "g", data: { "a.txt": "a" }, dir }], { seq: 2 }),
    tmp,
  );
  assert.deepEqual(lost.result, { written: [], removed: [join(dir, "b.txt.shout")], rejected: [] });
  const deleted = await runWriter(
    uppercase,
    { suffix: ".shout" },
    changeSetOf([{ name: "g", type: "delete", dir }], { seq: 3 }),
    tmp,
  );
  assert.deepEqual(deleted.result.removed, [join(dir, "a.txt.shout")]);
});

Deno.test("uppercase writer refuses bad options, naming the field", async () => {
  await using tmp = await tempSink();
  const set = changeSetOf([{ name: "g", data: { "a.txt": "a" }, dir: tmp.dir }]);
  await assert.rejects(
    runWriter(uppercase, { suffix: "/x" }, set, tmp),
    /suffix: must not contain/,
  );
  await assert.rejects(runWriter(uppercase, { sufix: ".x" }, set, tmp), /invalid options: .*sufix/);
});

Deno.test("uppercase writer keeps the writer contract", async () => {
  await assertWriterContract(uppercase, {
    options: { suffix: ".up" },
    sample: { "a.txt": "alpha", "b.txt": "beta" },
  });
});
