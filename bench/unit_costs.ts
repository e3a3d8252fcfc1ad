/**
 * Unit costs behind the initial sync's and the floor's figures (a diagnostic: no targets, no
 * cluster). On a fresh folder under `--dir` (default `/dev/shm`), each over `--n` files:
 *
 * - `lstat` of a path that is not there (Deno throws `NotFound`) and of one that is;
 * - reading a directory of `--n` names, per name;
 * - the content hash of a 4 KB file's content as the file store computes it;
 * - the memory a cancelled `after()` timer keeps until its time (its `AbortSignal.timeout`):
 *   `--n` of them, the JS heap and RSS before and after, per timer.
 *
 *   deno run -A bench/unit_costs.ts [--n=20000] [--dir=/dev/shm]
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { contentHash } from "../src/writers/fs_ops.ts";
import { after } from "../src/util/clock.ts";
import { jsonPayload } from "./lib/objects.ts";
import { Report } from "./lib/report.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    n: { type: "string", default: "20000" },
    dir: { type: "string", default: "/dev/shm" },
  },
});
const N = Number(args.n);
const report = new Report(`unit costs (${N} files under ${args.dir})`);

/** Microseconds per call of `fn(i)` over `N` calls. */
function perCall(fn: (i: number) => void): number {
  const start = performance.now();
  for (let i = 0; i < N; i++) fn(i);
  return (performance.now() - start) * 1000 / N;
}

const dir = Deno.makeTempDirSync({ dir: args.dir, prefix: "gsidecar-unit-" });
try {
  const content = new TextEncoder().encode(jsonPayload(0, 0));
  for (let i = 0; i < N; i++) Deno.writeFileSync(join(dir, `f-${i}.json`), content);
  const missing = perCall((i) => {
    try {
      Deno.lstatSync(join(dir, `m-${i}.json`));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  });
  report.figure("lstat, path not there (throws NotFound)", missing, "µs", undefined, 1);
  report.figure(
    "lstat, path there",
    perCall((i) => Deno.lstatSync(join(dir, `f-${i}.json`))),
    "µs",
  );
  const start = performance.now();
  let names = 0;
  for (const _ of Deno.readDirSync(dir)) names++;
  report.figure(
    "directory read, per name",
    (performance.now() - start) * 1000 / names,
    "µs",
    undefined,
    2,
  );
  report.figure("content hash of 4 KB (contentHash)", perCall(() => contentHash(content)), "µs");
} finally {
  Deno.removeSync(dir, { recursive: true });
}

const before = Deno.memoryUsage();
for (let i = 0; i < N; i++) after(600_000, () => {}).cancel();
const afterTimers = Deno.memoryUsage();
report.figure(
  "a cancelled after() timer until its time: JS heap",
  (afterTimers.heapUsed - before.heapUsed) / N,
  "B",
  undefined,
  0,
);
report.figure(
  "… and RSS",
  (afterTimers.rss - before.rss) / N,
  "B",
  undefined,
  0,
);

await report.finish();
Deno.exit(); // the cancelled timers would keep the process for 10 minutes
