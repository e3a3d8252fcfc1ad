/**
 * Resident memory of a synced sidecar, beside a bare Deno measured in the same run.
 *
 *   deno run -A bench/memory.ts [--sizes=10,1000,10000] [--variants]
 *
 * The floor first: VmRSS of `deno eval` idling. Then for each size N (ascending; objects are kept
 * and more created), N labelled ConfigMaps with a 4 KB `.json` and a small `.txt` each, and the
 * sidecar as its own process with a least-privilege token, as shipped (in-cluster, the V8 flags of
 * `deno task compile`): once it is ready and all 2·N files are written, and after 2 s of
 * quiet, VmRSS (the figure) and VmHWM (its peak, during the sync), and the difference: what the
 * sync needed beyond what it keeps (list pages in flight, garbage V8 had not collected yet).
 *
 * Beside RSS, what the sidecar says of itself in `/metrics` (read right after `/proc`): the JS heap
 * used and reserved (`gsidecar_js_heap_used_bytes`, `…_total_bytes`) and the memory held outside it
 * by JavaScript objects (`gsidecar_js_external_bytes`); and where the resident memory lies
 * (`/proc/<pid>/smaps`: file-backed, glibc's brk heap and thread arenas, V8's JIT code, other
 * anonymous memory), with the `deno` binary's resident pages by ELF section (`lib/binary_pages.ts`).
 *
 * `--after=SECONDS` (120 by default, 0 for none) keeps the shipped sidecar of the largest size
 * running that long after the first reading, idle, and samples the same every 10 s: does the
 * memory of the sync come back down? `--trace-gc` adds `--trace-gc` to the shipped sidecar's V8
 * flags (stdout line-buffered) and shows the heap after the last collection and how many were
 * full ones in each sample (a diagnostic: the targets are for the sidecar as shipped).
 *
 * `--variants` adds rows without targets for other ways of running it: no V8 flags; out of
 * cluster through a kubeconfig (which loads `@kubernetes/client-node`); the bundle
 * (`deno task bundle`) run by `deno`.
 *
 * Targets: 10 objects ≤ 50 MiB, 1000 ≤ 65 MiB, 10,000 ≤ 80 MiB.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { bundleSidecar, runSidecarToEnd } from "../tests/harness/sidecar.ts";
import { print, Report } from "./lib/report.ts";
import { bareDenoRss, type MemoryBreakdown, memoryBreakdown, type Rss, rss } from "./lib/procfs.ts";
import { type GcTrace, lastGc, lineBufferedEnv } from "./lib/gc_trace.ts";
import { type BinarySummary, binarySummary } from "./lib/binary_pages.ts";
import {
  type BenchSidecar,
  type HeapMetrics,
  heapMetrics,
  SHIPPED_V8_FLAGS,
  type SidecarOptions,
  sleep,
  startWorld,
} from "./lib/world.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    sizes: { type: "string", default: "10,1000,10000" },
    variants: { type: "boolean", default: false },
    after: { type: "string", default: "120" },
    "trace-gc": { type: "boolean", default: false },
  },
});
const SIZES = args.sizes.split(",").map(Number).sort((a, b) => a - b);
const TARGET: Record<number, number> = { 10: 50, 1000: 65, 10000: 80 };
const AFTER_S = Number(args.after);
const SAMPLE_S = 10;

const report = new Report(`memory (${SIZES.join(", ")} objects)`);
await using world = await startWorld();
report.figure("bare Deno (deno eval, idle)", await bareDenoRss(), "MiB");
const stdbuf = args["trace-gc"] ? await lineBufferedEnv() : {};

/** One way of running the sidecar; the first is the shipped one, which the targets apply to. */
interface Variant {
  name: string;
  options: Omit<SidecarOptions, "name">;
  entry?: () => Promise<string>;
}
let bundle: Promise<string> | undefined;
/** Bundles the program and runs it once (a configuration error), so that Deno's caches are warm. */
async function warmBundle(): Promise<string> {
  const entry = await bundleSidecar(
    await Deno.makeTempDir({ dir: world.cluster.dataDir, prefix: "bundle-" }),
  );
  await runSidecarToEnd(undefined, {}, entry);
  return entry;
}
const variants: Variant[] = [{
  name: "shipped",
  options: args["trace-gc"]
    ? { v8Flags: [SHIPPED_V8_FLAGS, "--trace-gc"].filter(Boolean).join(","), env: stdbuf }
    : {},
}];
if (args.variants) {
  variants.push(
    { name: "no V8 flags", options: { v8Flags: "" } },
    {
      name: "kubeconfig",
      options: {
        // A kubeconfig wins over the service-account files.
        env: { KUBECONFIG: await world.cluster.tokenKubeconfig(world.sa) },
      },
    },
    {
      name: "bundle",
      options: {},
      entry: () => bundle ??= warmBundle(),
    },
  );
}

/** One reading of a sidecar's memory: `/proc` first, then its `/metrics`, then its GC trace. */
interface Reading {
  rss: Rss;
  where: MemoryBreakdown;
  binary: BinarySummary;
  self: HeapMetrics;
  gc: GcTrace;
}
async function reading(sidecar: BenchSidecar): Promise<Reading> {
  const pid = sidecar.proc.pid;
  const m = rss(pid);
  const where = memoryBreakdown(pid);
  return {
    rss: m,
    where,
    binary: binarySummary(pid),
    self: heapMetrics(await sidecar.metrics()),
    gc: lastGc(sidecar.proc.output),
  };
}
const f1 = (x: number) => x.toFixed(1);
/** Where the resident memory lies, and the JS heap beside it, in one line. */
function describe(r: Reading): string {
  const { where: b, self: h } = r;
  const x = r.binary;
  return `resident ${f1(b.rss)} MiB = file-backed ${f1(b.file)} (deno binary ${f1(b.binary)}: ` +
    `.text ${f1(x.text)}, .rodata ${f1(x.rodata)}, .rela.dyn ${f1(x.relocations)}, ` +
    `pages written ${f1(x.written)}) + ` +
    `glibc brk heap ${f1(b.brk)} + glibc thread arenas ${f1(b.arenas)} + V8 JIT code ` +
    `${f1(b.jitCode)} + other anonymous (V8 heap pages, stacks, large mallocs) ${
      f1(b.otherAnon)
    }; ` +
    `/metrics: JS heap used ${f1(h.heapUsed)} of ${f1(h.heapTotal)} reserved, external ` +
    `${f1(h.external)}` +
    (args["trace-gc"]
      ? `; --trace-gc: ${r.gc.count} GCs (${r.gc.major} full)` +
        (r.gc.major
          ? `, the last full GC left ${r.gc.usedAfterMajor} MiB used at ${r.gc.lastMajorAtMs} ms`
          : "")
      : "");
}

let created = 0;
for (const n of SIZES) {
  await world.createObjects(created, n);
  created = n;
  print(`${n} ConfigMaps present`);
  for (const variant of variants) {
    const sidecar = await world.sidecar({
      name: `memory-${n}-${variant.name}`,
      ...variant.options,
      ...(variant.entry ? { entry: await variant.entry() } : {}),
    });
    await sidecar.waitReady();
    await sidecar.waitFiles(2 * n);
    const syncedAt = performance.now();
    await sleep(2000);
    const r = await reading(sidecar);
    const shipped = variant.name === "shipped";
    const label = shipped ? `${n} objects` : `${n} objects, ${variant.name}`;
    const target = shipped && TARGET[n] !== undefined ? { max: TARGET[n] } : undefined;
    report.figure(`${label}: RSS synced`, r.rss.rss, "MiB", target);
    report.figure(`${label}: peak RSS (VmHWM)`, r.rss.hwm, "MiB");
    // What the sync needed beyond what it keeps: pages in flight and garbage not yet collected.
    report.figure(`${label}: peak above RSS synced`, r.rss.hwm - r.rss.rss, "MiB");
    if (shipped) {
      report.figure(`${label}: JS heap used`, r.self.heapUsed, "MiB");
      report.figure(`${label}: JS heap reserved (heap total)`, r.self.heapTotal, "MiB");
      report.figure(`${label}: JS external`, r.self.external, "MiB");
      report.note(`${n} objects, 2 s after the sync: ${describe(r)}`);
    }
    if (shipped && n === SIZES.at(-1) && AFTER_S > 0) {
      // Idle after the sync: does what the sync used come back?
      const rows = [
        "| s after the last file | RSS | JS heap used / reserved | external | brk heap | arenas | other anon | file-backed |" +
        (args["trace-gc"] ? " full GCs | used after last full GC |" : ""),
        "|---|---|---|---|---|---|---|---|" + (args["trace-gc"] ? "---|---|" : ""),
      ];
      let last = r;
      for (let t = 0;; t += SAMPLE_S) {
        const at = t === 0 ? r : await reading(sidecar);
        last = at;
        const { where: b, self: h } = at;
        const s = Math.round((performance.now() - syncedAt) / 1000);
        rows.push(
          `| ${s} | ${f1(at.rss.rss)} | ${f1(h.heapUsed)} / ${f1(h.heapTotal)} | ${
            f1(h.external)
          } | ` +
            `${f1(b.brk)} | ${f1(b.arenas)} | ${f1(b.otherAnon)} | ${f1(b.file)} |` +
            (args["trace-gc"]
              ? ` ${at.gc.major} | ${at.gc.major ? at.gc.usedAfterMajor : "–"} |`
              : ""),
        );
        print(`  ${s} s after the sync: ${describe(at)}`);
        if (t + SAMPLE_S > AFTER_S) break;
        await sleep(Math.max(0, syncedAt + 2000 + (t + SAMPLE_S) * 1000 - performance.now()));
      }
      report.figure(`${label}: RSS ${AFTER_S} s after the sync (idle)`, last.rss.rss, "MiB");
      report.note(
        `${n} objects, left idle for ${AFTER_S} s after the sync (MiB):\n\n${rows.join("\n")}`,
      );
      report.note(`${n} objects, at the end: ${describe(last)}`);
    }
    await sidecar.proc.stop();
  }
}
report.note(
  "RSS synced is VmRSS 2 s after readiness and all files; peak is VmHWM at that moment. " +
    `Shipped = in-cluster service-account files, DENO_V8_FLAGS=${SHIPPED_V8_FLAGS}.`,
);
await report.finish();
