import assert from "node:assert/strict";
import { jsonErrorOffset } from "./json_position.ts";
import { join } from "node:path";
import {
  assertWriterContract,
  changeSetOf,
  startWriter,
  type TempSink,
  tempSink,
} from "../../src/testing/mod.ts";
import jsonFile from "./mod.ts";

async function make(tmp: TempSink, options: unknown = {}) {
  const writer = await startWriter(jsonFile, options, tmp);
  return { writer, rec: writer };
}

Deno.test("json-file writer writes .json keys that parse and nothing else", async () => {
  await using tmp = await tempSink();
  const { writer } = await make(tmp);
  const result = await writer.write(changeSetOf([{
    name: "dash",
    data: { "a.json": '{"a":1}', "b.txt": "skip", "c.yaml": "c: 1" },
    dir: tmp.dir,
  }]));
  assert.deepEqual(result.written, [join(tmp.dir, "a.json")]);
  assert.equal(await Deno.readTextFile(join(tmp.dir, "a.json")), '{"a":1}');
});

Deno.test("json-file writer keeps the last good file and never quotes the bad content", async () => {
  await using tmp = await tempSink();
  const { writer, rec } = await make(tmp);
  await writer.write(
    changeSetOf([{ kind: "secret", name: "db", data: { "db.json": '{"pw":"ok"}' }, dir: tmp.dir }]),
  );
  const result = await writer.write(changeSetOf([{
    kind: "secret",
    name: "db",
    data: { "db.json": '{"pw": hunter2-secret}' },
    dir: tmp.dir,
  }], { seq: 2 }));
  assert.equal(result.rejected.length, 1);
  assert.equal(result.rejected[0]!.key, "db.json");
  assert.equal(result.rejected[0]!.reason, "not valid JSON at line 1, column 8");
  assert.equal(await Deno.readTextFile(join(tmp.dir, "db.json")), '{"pw":"ok"}');
  assert.ok(!rec.text().includes("hunter2"), rec.text());
  assert.ok(!result.rejected[0]!.reason.includes("hunter2"));
});

Deno.test("json-file writer takes other keys with the keys option", async () => {
  await using tmp = await tempSink();
  const { writer } = await make(tmp, { keys: ["*.dashboard"] });
  await writer.write(
    changeSetOf([{ name: "d", data: { "x.dashboard": "[]", "y.json": "{}" }, dir: tmp.dir }]),
  );
  assert.deepEqual(
    [...Deno.readDirSync(tmp.dir)].map((e) => e.name).filter((n) => !n.startsWith(".")),
    [
      "x.dashboard",
    ],
  );
});

Deno.test("json-file writer refuses unknown options, naming the field", async () => {
  await using tmp = await tempSink();
  await assert.rejects(make(tmp, { key: "*.json" }), /json-file#0 "json-file": invalid options/);
});

Deno.test("jsonErrorOffset() finds where JSON.parse fails, and nothing in valid JSON", () => {
  const cases = [
    '{"a": 1,}',
    '{"a" 1}',
    "[1, 2",
    "",
    '{"a": tru}',
    "nul",
    '{"a": "\\x"}',
    "[01]",
    "1 2",
    '{"a": -}',
  ];
  for (const text of cases) {
    assert.throws(() => JSON.parse(text));
    assert.ok(jsonErrorOffset(text) >= 0, text);
  }
  assert.equal(jsonErrorOffset('{"a": tru}'), 9, "where V8 stops too: the '}'");
  for (const text of ['{"a": [1, -2.5e3, true, false, null, "\\u00e9"]}', " 7 ", '"x"']) {
    JSON.parse(text);
    assert.equal(jsonErrorOffset(text), -1, text);
  }
});

Deno.test("json-file writer keeps the writer contract", async () => {
  await assertWriterContract(jsonFile, { sample: { "a.json": '{"a": 1}', "b.json": "[2]" } });
});
