import assert from "node:assert/strict";
import { join } from "node:path";
import {
  assertWriterContract,
  changeSetOf,
  startWriter,
  type TempSink,
  tempSink,
} from "../../src/testing/mod.ts";
import yamlFile, { yamlProblem } from "./mod.ts";

async function make(tmp: TempSink, options: unknown = {}) {
  const writer = await startWriter(yamlFile, options, tmp);
  return { writer, rec: writer };
}

Deno.test("yaml-file writer writes .yaml and .yml keys, multi-document files included, and nothing else", async () => {
  await using tmp = await tempSink();
  const { writer } = await make(tmp);
  const result = await writer.write(changeSetOf([{
    name: "rules",
    data: {
      "a.yaml": "groups:\n  - name: a\n",
      "b.yml": "a: 1\n---\nb: [1, 2]\n",
      "empty.yaml": "",
      "c.json": "{}",
      "d.txt": "x",
    },
    dir: tmp.dir,
  }]));
  assert.deepEqual(result.written.sort(), [
    join(tmp.dir, "a.yaml"),
    join(tmp.dir, "b.yml"),
    join(tmp.dir, "empty.yaml"),
  ]);
  assert.deepEqual(result.rejected, []);
  assert.equal(await Deno.readTextFile(join(tmp.dir, "b.yml")), "a: 1\n---\nb: [1, 2]\n");
  await assert.rejects(Deno.stat(join(tmp.dir, "c.json")), Deno.errors.NotFound);
});

Deno.test("yaml-file writer keeps the last good file when YAML does not parse", async () => {
  await using tmp = await tempSink();
  const { writer, rec } = await make(tmp);
  const path = join(tmp.dir, "app.yaml");
  await writer.write(changeSetOf([{ name: "cfg", data: { "app.yaml": "a: 1\n" }, dir: tmp.dir }]));
  const again = await writer.write(changeSetOf([{
    name: "cfg",
    data: { "app.yaml": "a: [\n" },
    dir: tmp.dir,
  }], { seq: 2 }));
  assert.deepEqual(again.written, []);
  assert.deepEqual(again.removed, []);
  assert.equal(again.rejected.length, 1);
  const rejection = again.rejected[0]!;
  assert.deepEqual(rejection.ref, { kind: "configmap", namespace: "default", name: "cfg" });
  assert.equal(rejection.key, "app.yaml");
  assert.match(rejection.reason, /^not valid YAML at line \d+, column \d+: /);
  assert.equal(await Deno.readTextFile(path), "a: 1\n");
  assert.match(rec.text(), /error .*configmap\/default\/cfg.*app\.yaml/);
});

Deno.test("yaml-file writer refuses duplicate keys and unresolved aliases, without quoting the content", () => {
  assert.match(yamlProblem("a: 1\na: 2\n") ?? "", /line 2, column 1: map keys must be unique/);
  const alias = yamlProblem("a: 1\nb: *nowhere\n") ?? "";
  assert.match(alias, /^not valid YAML at line 2, column 4: an alias refers to an anchor/);
  assert.ok(!alias.includes("nowhere"), alias);
  // Messages of the parser that quote the offending token or directive.
  for (const text of ["a: 1\n] s3cret\n", "a: @s3cret\n", 'a: "\\q s3cret"\n']) {
    const problem = yamlProblem(text) ?? "";
    assert.match(problem, /^not valid YAML at line \d+, column \d+: [a-z -]+$/, problem);
    assert.ok(!problem.includes("s3cret"), problem);
  }
  const leaky = yamlProblem("- a\nhunter2: s3cret-value\n") ?? "";
  assert.match(leaky, /^not valid YAML at line 2/);
  assert.ok(!leaky.includes("s3cret-value") && !leaky.includes("hunter2"), leaky);
  assert.equal(yamlProblem("a: &x 1\nb: *x\n"), undefined);
});

Deno.test("yaml-file writer refuses content that is not UTF-8", async () => {
  await using tmp = await tempSink();
  const { writer } = await make(tmp);
  const result = await writer.write(changeSetOf([{
    name: "bin",
    binaryData: { "a.yaml": new Uint8Array([0x61, 0x3a, 0x20, 0xff]) },
    dir: tmp.dir,
  }]));
  assert.equal(result.rejected[0]?.reason, "not valid YAML: not UTF-8 text");
  assert.deepEqual(result.written, []);
});

Deno.test("yaml-file writer's keys option replaces the default globs", async () => {
  await using tmp = await tempSink();
  const { writer } = await make(tmp, { keys: ["*.rules"] });
  const result = await writer.write(changeSetOf([{
    name: "prom",
    data: { "alerts.rules": "groups: []\n", "a.yaml": "a: 1\n" },
    dir: tmp.dir,
  }]));
  assert.deepEqual(result.written, [join(tmp.dir, "alerts.rules")]);
});

Deno.test("yaml-file writer removes an object's files when it is deleted", async () => {
  await using tmp = await tempSink();
  const { writer } = await make(tmp);
  await writer.write(changeSetOf([{ name: "cfg", data: { "a.yaml": "a: 1\n" }, dir: tmp.dir }]));
  const result = await writer.write(
    changeSetOf([{ name: "cfg", type: "delete", dir: tmp.dir }], { seq: 2 }),
  );
  assert.deepEqual(result.removed, [join(tmp.dir, "a.yaml")]);
  await assert.rejects(Deno.stat(join(tmp.dir, "a.yaml")), Deno.errors.NotFound);
});

Deno.test("yaml-file writer refuses bad options, naming the field", async () => {
  await using tmp = await tempSink();
  await assert.rejects(
    make(tmp, { keys: "*.yaml" }),
    /yaml-file#0 "yaml-file": invalid options: keys: /,
  );
  await assert.rejects(make(tmp, { keys: [] }), /invalid options: keys: /);
  await assert.rejects(make(tmp, { kyes: ["*.yaml"] }), /invalid options: .*kyes/);
});

Deno.test("yaml-file writer keeps the writer contract", async () => {
  await assertWriterContract(yamlFile, { sample: { "a.yaml": "a: 1\n", "b.yml": "- 2\n" } });
});
