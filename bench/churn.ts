/**
 * Memory under churn: 2 updates/s spread over 500 objects for 30 minutes, RSS sampled every 10 s.
 *
 *   deno run -A bench/churn.ts [--minutes=30] [--rate=2] [--objects=500] [--out=DIR]
 *     [--variant='NAME ENV=VALUE …']…
 *
 * Every sidecar watches the same objects, each with its own folder: the shipped configuration
 * (the V8 flags of `deno task compile`; the targets apply to it) and any `--variant`, whose
 * environment is added to it, e.g. `--variant='arena2 MALLOC_ARENA_MAX=2'` or
 * `--variant='nosemi DENO_V8_FLAGS='`; `MAIN=PATH` runs another checkout's `main.ts` instead (a
 * change against its base in one run: `--variant='base MAIN=../base/main.ts'`). `--trace-gc` is added to every sidecar's V8 flags so that
 * the JavaScript heap can be read from its output. Each sample records, per sidecar: VmRSS, where
 * the resident memory lies (`/proc/<pid>/smaps`: glibc arenas, brk heap, other anonymous memory,
 * file-backed), threads, CPU, and the V8 heap of the last GC. `--out` writes the samples as JSON
 * lines and smaps snapshots at the start, a third of the way and the end.
 *
 * Reports max RSS and the least-squares slope over the last 20 minutes (over the last two thirds
 * for runs shorter than 30 minutes). Targets: never above 65 MiB, slope ≤ 0.1 MiB/min.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { print, Report } from "./lib/report.ts";
import { cpuSeconds, type MemoryBreakdown, memoryBreakdown, rss, threads } from "./lib/procfs.ts";
import { slope } from "./lib/stats.ts";
import { lastGc, lineBufferedEnv } from "./lib/gc_trace.ts";
import {
  type BenchSidecar,
  type HeapMetrics,
  heapMetrics,
  SHIPPED_V8_FLAGS,
  sleep,
  startWorld,
} from "./lib/world.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    minutes: { type: "string", default: "30" },
    rate: { type: "string", default: "2" },
    objects: { type: "string", default: "500" },
    out: { type: "string" },
    variant: { type: "string", multiple: true, default: [] },
  },
});
const MINUTES = Number(args.minutes);
const RATE = Number(args.rate);
const OBJECTS = Number(args.objects);
const SAMPLE_MS = 10_000;

interface Variant {
  name: string;
  env: Record<string, string>;
}
const variants: Variant[] = [{ name: "shipped", env: {} }];
for (const spec of args.variant) {
  const [name, ...assignments] = spec.trim().split(/\s+/);
  const env: Record<string, string> = {};
  for (const a of assignments) {
    const eq = a.indexOf("=");
    if (eq <= 0) throw new Error(`--variant ${JSON.stringify(spec)}: ${a} is not NAME=VALUE`);
    env[a.slice(0, eq)] = a.slice(eq + 1);
  }
  variants.push({ name: name!, env });
}

interface Sample {
  variant: string;
  minute: number;
  rss: number;
  breakdown: MemoryBreakdown;
  threads: number;
  cpu: number;
  /** V8 heap after the last GC (used, committed), MiB, from `--trace-gc`. */
  heapUsed: number;
  heapCommitted: number;
  gcs: number;
  /** How many of them were full (Mark-Compact) collections. */
  majorGcs: number;
  /** The sidecar's own `/metrics` at the sample (MiB): JS heap used/total, external. */
  metrics: HeapMetrics;
}

const report = new Report(`churn (${RATE} updates/s over ${OBJECTS} objects, ${MINUTES} min)`);
await using world = await startWorld();
await world.createObjects(0, OBJECTS);
const running: { variant: Variant; sidecar: BenchSidecar; gcsBefore: number }[] = [];
// V8 prints GC traces with C stdio, fully buffered into a pipe: line-buffer it so that each
// sample sees the latest GC.
const stdbuf = await lineBufferedEnv();
const lineBuffered = Object.keys(stdbuf).length > 0;
for (const variant of variants) {
  const { DENO_V8_FLAGS: v8 = SHIPPED_V8_FLAGS, MAIN: main, ...env } = variant.env;
  const sidecar = await world.sidecar({
    name: `churn-${variant.name}`,
    env: { ...env, ...stdbuf },
    v8Flags: [...v8.split(",").filter(Boolean), "--trace-gc"].join(","),
    ...(main !== undefined ? { entry: resolve(main) } : {}),
  });
  running.push({ variant, sidecar, gcsBefore: 0 });
}
for (const r of running) await r.sidecar.waitFiles(2 * OBJECTS);
print(`${running.length} sidecar(s) synced ${OBJECTS} objects; churning for ${MINUTES} min`);
if (args.out) await Deno.mkdir(args.out, { recursive: true });

const samples: Sample[] = [];
const t0 = performance.now();
const endAt = t0 + MINUTES * 60_000;
let updates = 0;
const churn = (async () => {
  // Round robin over the objects at a steady rate, each update its own request.
  for (let k = 0; performance.now() < endAt; k++) {
    const due = t0 + (k * 1000) / RATE;
    if (due > performance.now()) await sleep(due - performance.now());
    await world.update(k % OBJECTS, 1 + Math.floor(k / OBJECTS));
    updates++;
  }
})();

let thirdSnapshotTaken = false;
for (let s = 0;; s++) {
  const minute = (performance.now() - t0) / 60_000;
  const last = performance.now() >= endAt;
  const snapshot = s === 0 || last || (!thirdSnapshotTaken && minute >= MINUTES / 3);
  if (snapshot && s > 0 && !last) thirdSnapshotTaken = true;
  for (const { variant, sidecar } of running) {
    const pid = sidecar.proc.pid;
    const gc = lastGc(sidecar.proc.output);
    const rssNow = rss(pid).rss;
    const breakdown = memoryBreakdown(pid);
    // /proc first: asking /metrics makes the sidecar allocate a little.
    const metrics = heapMetrics(await sidecar.metrics());
    const sample: Sample = {
      variant: variant.name,
      minute,
      rss: rssNow,
      breakdown,
      threads: threads(pid),
      cpu: cpuSeconds(pid),
      heapUsed: gc.used,
      heapCommitted: gc.committed,
      gcs: gc.count,
      majorGcs: gc.major,
      metrics,
    };
    samples.push(sample);
    if (args.out) {
      await Deno.writeTextFile(join(args.out, "samples.jsonl"), JSON.stringify(sample) + "\n", {
        append: true,
      });
      if (snapshot) {
        await Deno.copyFile(
          `/proc/${pid}/smaps`,
          join(args.out, `smaps-${variant.name}-${minute.toFixed(1)}min.txt`),
        ).catch(() => {});
      }
    }
    const b = sample.breakdown;
    print(
      `${minute.toFixed(1).padStart(5)} min ${variant.name.padEnd(10)} RSS ${
        sample.rss.toFixed(1)
      } MiB (arenas ${b.arenas.toFixed(1)}, brk ${b.brk.toFixed(1)}, JIT code ${
        b.jitCode.toFixed(1)
      }, other anon ${b.otherAnon.toFixed(1)}, file ${
        b.file.toFixed(1)
      }) heap after GC ${sample.heapUsed}/${sample.heapCommitted} MiB, /metrics heap ${
        sample.metrics.heapUsed.toFixed(1)
      }/${sample.metrics.heapTotal.toFixed(1)} external ${
        sample.metrics.external.toFixed(1)
      } MiB, ${sample.majorGcs} full GCs, ${sample.threads} threads, CPU ${
        sample.cpu.toFixed(1)
      } s`,
    );
  }
  if (last) break;
  await sleep(Math.max(0, t0 + (s + 1) * SAMPLE_MS - performance.now()));
}
await churn;

const windowMin = MINUTES >= 30 ? 20 : (MINUTES * 2) / 3;
report.note(
  `${updates} updates in ${MINUTES} min; slope over the last ${
    windowMin.toFixed(1)
  } min; every sidecar had --trace-gc added to its V8 flags${
    lineBuffered ? " and its stdout line-buffered (stdbuf preload)" : ""
  }.`,
);
for (const { variant } of running) {
  const mine = samples.filter((s) => s.variant === variant.name);
  const last = mine.filter((s) => s.minute >= MINUTES - windowMin);
  const max = Math.max(...mine.map((s) => s.rss));
  const per = (f: (s: Sample) => number) => slope(last.map((s) => [s.minute, f(s)] as const));
  const targets = variant.name === "shipped";
  report.figure(`${variant.name}: max RSS`, max, "MiB", targets ? { max: 65 } : undefined);
  report.figure(
    `${variant.name}: RSS slope`,
    per((s) => s.rss),
    "MiB/min",
    targets ? { max: 0.1 } : undefined,
    3,
  );
  // From the first minute on: the sample right after the initial sync still holds its garbage.
  const first = mine.find((s) => s.minute >= Math.min(1, MINUTES / 3)) ?? mine[0]!;
  const end = mine.at(-1)!;
  const grew = (f: (s: Sample) => number) => `${(f(end) - f(first)).toFixed(1)}`;
  report.note(
    `${variant.name}: RSS ${first.rss.toFixed(1)} MiB at ${first.minute.toFixed(1)} min → ${
      end.rss.toFixed(1)
    } MiB at the end; growth by kind: ` +
      `glibc arenas ${grew((s) => s.breakdown.arenas)}, brk heap ${
        grew((s) => s.breakdown.brk)
      }, V8 JIT code ${grew((s) => s.breakdown.jitCode)}, other anonymous (V8 heap, stacks) ${
        grew((s) => s.breakdown.otherAnon)
      }, file-backed ${
        grew((s) => s.breakdown.file)
      } MiB; V8 heap after last GC ${first.heapUsed} → ${end.heapUsed} MiB used, ${first.heapCommitted} → ${end.heapCommitted} MiB committed; /metrics at the same samples: JS heap used ${
        first.metrics.heapUsed.toFixed(1)
      } → ${end.metrics.heapUsed.toFixed(1)}, total ${first.metrics.heapTotal.toFixed(1)} → ${
        end.metrics.heapTotal.toFixed(1)
      }, external ${first.metrics.external.toFixed(1)} → ${
        end.metrics.external.toFixed(1)
      } MiB; threads ${first.threads} → ${end.threads}`,
  );
}
await report.finish();
