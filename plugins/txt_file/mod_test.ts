import assert from "node:assert/strict";
import { join } from "node:path";
import {
  assertWriterContract,
  changeSetOf,
  startWriter,
  type TempSink,
  tempSink,
} from "../../src/testing/mod.ts";
import txtFile, { firstInvalidUtf8 } from "./mod.ts";

async function make(tmp: TempSink, options: unknown = {}) {
  const writer = await startWriter(txtFile, options, tmp);
  return { writer, rec: writer };
}

Deno.test("txt-file writer writes .txt keys as they are and nothing else", async () => {
  await using tmp = await tempSink();
  const { writer } = await make(tmp);
  const result = await writer.write(changeSetOf([{
    name: "motd",
    data: { "motd.txt": "héllo wörld ✓\n", "a.json": "{}" },
    binaryData: { "bom.txt": new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0x69]) },
    dir: tmp.dir,
  }]));
  assert.deepEqual(result.written.sort(), [join(tmp.dir, "bom.txt"), join(tmp.dir, "motd.txt")]);
  assert.equal(await Deno.readTextFile(join(tmp.dir, "motd.txt")), "héllo wörld ✓\n");
  // Bytes are written as given: the byte order mark stays.
  assert.deepEqual(
    await Deno.readFile(join(tmp.dir, "bom.txt")),
    new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0x69]),
  );
});

Deno.test("txt-file writer keeps the last good file when the content is not UTF-8", async () => {
  await using tmp = await tempSink();
  const { writer, rec } = await make(tmp);
  const path = join(tmp.dir, "note.txt");
  await writer.write(changeSetOf([{ name: "n", data: { "note.txt": "good" }, dir: tmp.dir }]));
  const result = await writer.write(changeSetOf([{
    kind: "secret",
    namespace: "ns",
    name: "n",
    binaryData: { "note.txt": new Uint8Array([0x6f, 0x6b, 0xc3, 0x28]) },
    dir: tmp.dir,
  }], { seq: 2 }));
  // Another object's key maps to the same path: refused before any conflict handling.
  assert.deepEqual(result.rejected, [{
    ref: { kind: "secret", namespace: "ns", name: "n" },
    key: "note.txt",
    reason: "not valid UTF-8 text (first invalid byte at offset 2)",
  }]);
  const same = await writer.write(changeSetOf([{
    name: "n",
    binaryData: { "note.txt": new Uint8Array([0xff]) },
    dir: tmp.dir,
  }], { seq: 3 }));
  assert.deepEqual(same.written, []);
  assert.deepEqual(same.removed, []);
  assert.equal(same.rejected[0]?.key, "note.txt");
  assert.equal(await Deno.readTextFile(path), "good");
  assert.match(rec.text(), /error .*configmap\/default\/n.*note\.txt/);
});

Deno.test("txt-file writer finds the first invalid UTF-8 byte as TextDecoder judges it", () => {
  const cases: [number[], number][] = [
    [[0x61, 0x62], -1],
    [[0xe2, 0x9c, 0x93], -1],
    [[0xf0, 0x9f, 0x98, 0x80], -1],
    [[0x61, 0xc0, 0x80], 1], // overlong
    [[0xed, 0xa0, 0x80], 0], // surrogate
    [[0xf4, 0x90, 0x80, 0x80], 0], // above U+10FFFF
    [[0x61, 0x62, 0xe2, 0x9c], 2], // truncated
    [[0x80], 0],
  ];
  const fatal = new TextDecoder("utf-8", { fatal: true });
  for (const [bytes, offset] of cases) {
    const input = new Uint8Array(bytes);
    assert.equal(firstInvalidUtf8(input), offset, `offset for ${bytes}`);
    const valid = (() => {
      try {
        fatal.decode(input);
        return true;
      } catch {
        return false;
      }
    })();
    assert.equal(valid, offset === -1, `TextDecoder agrees on ${bytes}`);
  }
});

Deno.test("txt-file writer's keys option replaces the default globs", async () => {
  await using tmp = await tempSink();
  const { writer } = await make(tmp, { keys: ["*.conf", "README"] });
  const result = await writer.write(changeSetOf([{
    name: "n",
    data: { "a.conf": "x=1", "README": "read me", "b.txt": "no" },
    dir: tmp.dir,
  }]));
  assert.deepEqual(result.written.sort(), [join(tmp.dir, "README"), join(tmp.dir, "a.conf")]);
});

Deno.test("txt-file writer refuses bad options, naming the field", async () => {
  await using tmp = await tempSink();
  await assert.rejects(
    make(tmp, { keys: [""] }),
    /txt-file#0 "txt-file": invalid options: keys\.0: /,
  );
  await assert.rejects(make(tmp, { key: ["*.txt"] }), /invalid options: .*"key"/);
});

Deno.test("txt-file writer keeps the writer contract", async () => {
  await assertWriterContract(txtFile, { sample: { "a.txt": "alpha", "b.txt": "beta" } });
});
