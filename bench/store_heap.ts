/**
 * JavaScript heap the file store keeps per object once a sync is written (a diagnostic: no
 * targets, no cluster). `--n` objects with one file for each of two writers (`json-file#0`,
 * `txt-file#0`: 2·N files, as in the memory benchmark) are given to a {@linkcode FileStore} on a
 * fresh folder under `--dir`, page by page (500 objects) as the pipeline does; the figure is the
 * heap used after two full collections, less the same before the store was opened.
 *
 *   deno run -A --v8-flags=--expose-gc bench/store_heap.ts [--n=10000] [--dir=/dev/shm]
 *
 * What the store keeps per file: its path, owner key and SHA-256, the owner's claim, what is on
 * disk (hash, mode, lstat signature) — not the content.
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { SinkItem } from "../src/plugin/contract.ts";
import { recordingLogger } from "../src/testing/logger.ts";
import { FileStore } from "../src/writers/file_store.ts";
import { Report } from "./lib/report.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    n: { type: "string", default: "10000" },
    dir: { type: "string", default: "/dev/shm" },
  },
});
const N = Number(args.n);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
const report = new Report(`file store heap (${N} objects × 2 files under ${args.dir})`);

const heapUsed = () => {
  gc();
  gc();
  return Deno.memoryUsage().heapUsed;
};
const folder = Deno.makeTempDirSync({ dir: args.dir, prefix: "gsidecar-store-" });
const { logger } = recordingLogger();
try {
  const before = heapUsed();
  const store = await FileStore.open({ folder, logger });
  const encoder = new TextEncoder();
  for (const [writer, ext] of [["json-file#0", "json"], ["txt-file#0", "txt"]] as const) {
    const sink = store.scoped(writer);
    for (let start = 0; start < N; start += 500) {
      const items: SinkItem[] = [];
      for (let i = start; i < Math.min(N, start + 500); i++) {
        const name = `bench-obj-${String(i).padStart(5, "0")}`;
        items.push({
          ref: { kind: "configmap", namespace: "bench", name },
          files: [{ path: join(folder, `${name}.${ext}`), content: encoder.encode(`{"i":${i}}`) }],
        });
      }
      await sink.syncAll(items);
    }
  }
  const held = heapUsed() - before;
  report.figure("heap held by the store", held / 1024 / 1024, "MiB", undefined, 2);
  report.figure("per object (2 files)", held / N, "B", undefined, 0);
  await store.close();
} finally {
  Deno.removeSync(folder, { recursive: true });
}
await report.finish();
