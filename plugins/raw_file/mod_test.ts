import assert from "node:assert/strict";
import { join } from "node:path";
import {
  assertWriterContract,
  changeSetOf,
  startWriter,
  type TempSink,
  tempSink,
} from "../../src/testing/mod.ts";
import rawFile from "./mod.ts";

async function make(tmp: TempSink, options: unknown = {}) {
  const writer = await startWriter(rawFile, options, tmp);
  return { writer, rec: writer };
}

const BINARY = new Uint8Array([0x00, 0xff, 0xfe, 0x80, 0x0a, 0x7b]);

Deno.test("raw-file writer writes every key, bytes as they are, without any check", async () => {
  await using tmp = await tempSink();
  const { writer } = await make(tmp);
  const result = await writer.write(changeSetOf([{
    kind: "secret",
    name: "tls",
    data: { "broken.json": "{ not json", "a.yaml": "a: [" },
    binaryData: { "tls.key": BINARY, "blob": BINARY },
    dir: tmp.dir,
  }]));
  assert.deepEqual(
    result.written.sort(),
    ["a.yaml", "blob", "broken.json", "tls.key"].map((n) => join(tmp.dir, n)),
  );
  assert.deepEqual(result.rejected, []);
  assert.deepEqual(await Deno.readFile(join(tmp.dir, "tls.key")), BINARY);
  assert.equal(await Deno.readTextFile(join(tmp.dir, "broken.json")), "{ not json");
});

Deno.test("raw-file writer removes the file of a key that went away and keeps the others", async () => {
  await using tmp = await tempSink();
  const { writer } = await make(tmp);
  await writer.write(changeSetOf([{ name: "c", data: { a: "1", b: "2" }, dir: tmp.dir }]));
  const result = await writer.write(
    changeSetOf([{ name: "c", data: { a: "1" }, dir: tmp.dir }], { seq: 2 }),
  );
  // Identical content is not rewritten.
  assert.deepEqual(result.written, []);
  assert.deepEqual(result.removed, [join(tmp.dir, "b")]);
  assert.equal(await Deno.readTextFile(join(tmp.dir, "a")), "1");
});

Deno.test("raw-file writer's keys option replaces the default glob", async () => {
  await using tmp = await tempSink();
  const { writer } = await make(tmp, { keys: ["*.{pem,crt}"] });
  const result = await writer.write(changeSetOf([{
    kind: "secret",
    name: "tls",
    data: { "ca.crt": "C", "key.pem": "K", "other": "O" },
    dir: tmp.dir,
  }]));
  assert.deepEqual(result.written.sort(), [join(tmp.dir, "ca.crt"), join(tmp.dir, "key.pem")]);
});

Deno.test("raw-file writer refuses bad options, naming the field", async () => {
  await using tmp = await tempSink();
  await assert.rejects(
    make(tmp, { keys: [1] }),
    /raw-file#0 "raw-file": invalid options: keys\.0: /,
  );
  await assert.rejects(make(tmp, "everything"), /raw-file#0 "raw-file": invalid options: /);
});

Deno.test("raw-file writer keeps the writer contract", async () => {
  await assertWriterContract(rawFile, {
    sample: { "a.bin": new Uint8Array([0, 1, 255]), "b": "two" },
  });
});
