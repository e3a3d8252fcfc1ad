import assert from "node:assert/strict";
import type { ChangeSet } from "../model.ts";
import { recordingLogger } from "../testing/logger.ts";
import { decompressEntries } from "./compressed_entries.ts";

async function gz(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const text = (s: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(s);

function setOf(entries: Record<string, Uint8Array>): ChangeSet {
  return {
    seq: 1,
    initial: false,
    changes: [{
      type: "upsert",
      ref: { kind: "configmap", namespace: "ns", name: "dash" },
      labels: {},
      annotations: {},
      entries: new Map(Object.entries(entries)),
      dir: "/c",
      namePrefix: "",
    }],
  };
}

Deno.test("decompressEntries() hands .gz keys on decompressed, under the name without .gz", async () => {
  const big = JSON.stringify({
    panels: Array.from({ length: 50_000 }, (_, i) => ({ id: i, title: `panel number ${i}` })),
  });
  assert.ok(big.length > 1024 * 1024, "over the 1 MiB object limit");
  const { logger } = recordingLogger();
  const out = await decompressEntries(
    setOf({ "big.json.gz": await gz(text(big)), "plain.json": text("{}") }),
    64 * 1024 * 1024,
    logger,
  );
  const entries = out.changeSet.changes[0]!.entries;
  assert.deepEqual([...entries.keys()].sort(), ["big.json", "plain.json"]);
  assert.equal(new TextDecoder().decode(entries.get("big.json")), big);
  assert.equal(out.held.size, 0);
  assert.deepEqual(out.rejected, []);
});

Deno.test("decompressEntries() refuses and holds a key that is not gzip, too big, or doubled", async () => {
  const { logger, text: logged } = recordingLogger();
  const bomb = await gz(new Uint8Array(8 * 1024 * 1024));
  const out = await decompressEntries(
    setOf({
      "bad.json.gz": text("s3cret not gzip"),
      "bomb.json.gz": bomb,
      "twice.json.gz": await gz(text("{}")),
      "twice.json": text("{}"),
    }),
    1024 * 1024,
    logger,
  );
  const entries = out.changeSet.changes[0]!.entries;
  assert.deepEqual([...entries.keys()], ["twice.json"], "no refused key reaches the writers");
  assert.deepEqual([...out.held.get("configmap/ns/dash")!].sort(), [
    "bad.json",
    "bomb.json",
    "twice.json",
  ]);
  const reasons = Object.fromEntries(out.rejected.map((r) => [r.key, r.reason]));
  assert.match(reasons["bad.json.gz"]!, /not valid gzip/);
  assert.match(reasons["bomb.json.gz"]!, /decompresses to more than 1048576 bytes/);
  assert.match(reasons["twice.json.gz"]!, /twice\.json is there too/);
  assert.ok(!logged().includes("s3cret"), "content never reaches the log");
});
