/**
 * Files beyond the 1 MiB object limit: a dashboard gzipped into `binaryData` is written
 * decompressed and checked like any `.json`; invalid gzip and a bomb over `MAX_DECOMPRESSED_SIZE`
 * are refused with the last good file kept. Against the real control plane, the sidecar as its own
 * process with a least-privilege token.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeBase64 } from "../src/util/base64.ts";
import { startCluster } from "./harness/cluster.ts";
import { LABEL, readText, sidecar } from "./harness/fixtures.ts";
import { healthUrl, settled } from "./harness/health.ts";
import { eventually } from "./harness/sidecar.ts";

async function gzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("a gzipped dashboard over 1 MiB is written decompressed; bad gzip keeps the last good file", async () => {
  await using cluster = await startCluster();
  const ns = "gz";
  await cluster.createNamespace(ns);
  const dashboard = (version: number) =>
    JSON.stringify({
      title: "node-exporter-full",
      version,
      panels: Array.from({ length: 60_000 }, (_, i) => ({ id: i, title: `panel ${i}` })),
    });
  const first = dashboard(1);
  assert.ok(first.length > 1024 * 1024, "bigger than an object may be");
  const put = async (method: "POST" | "PUT", value: Uint8Array) => {
    const body = {
      metadata: { name: "big", namespace: ns, labels: { [LABEL]: "1" } },
      binaryData: { "big-dashboard.json.gz": encodeBase64(value) },
    };
    const path = method === "POST"
      ? `/api/v1/namespaces/${ns}/configmaps`
      : `/api/v1/namespaces/${ns}/configmaps/big`;
    await cluster.admin.request(method, path, { body });
  };
  await put("POST", await gzip(new TextEncoder().encode(first)));
  const s = await sidecar(cluster, {
    namespaces: [ns],
    env: { MAX_DECOMPRESSED_SIZE: "4Mi", HEALTH_HOST: "127.0.0.1" },
  });
  try {
    const file = join(s.folder, "big-dashboard.json");
    await eventually(async () => assert.equal(await readText(file), first), { proc: s.proc });
    const url = await healthUrl(s.proc);

    // Not gzip at all: refused, the last good file stays.
    await put("PUT", new TextEncoder().encode("this is not gzip"));
    await eventually(() => assert.match(s.proc.output, /big-dashboard\.json\.gz.*not valid gzip/), {
      proc: s.proc,
    });
    await settled(url, s.proc);
    assert.equal(await readText(file), first);

    // A bomb: 64 MiB of zeros, some 64 KiB gzipped, over the 4 MiB limit.
    await put("PUT", await gzip(new Uint8Array(64 * 1024 * 1024)));
    await eventually(
      () =>
        assert.match(
          s.proc.output,
          /big-dashboard\.json\.gz.*decompresses to more than 4194304 bytes/,
        ),
      { proc: s.proc },
    );
    await settled(url, s.proc);
    // (That the bound holds while decompressing, not after, is src/util/gunzip_test.ts's job.)
    assert.equal(await readText(file), first, "the last good file stays");

    // A good update goes through again.
    const second = dashboard(2);
    await put("PUT", await gzip(new TextEncoder().encode(second)));
    await eventually(async () => assert.equal(await readText(file), second), { proc: s.proc });
    JSON.parse(await readText(file));
  } finally {
    await s.proc.stop();
  }
});
