/**
 * Where a synced sidecar's memory is, looked at from outside with a debugger's tools: a diagnostic,
 * not a benchmark (no targets; the process is not run as shipped, since it listens for an
 * inspector).
 *
 *   deno run -A bench/heap_snapshot.ts [--objects=10000] [--settle=30] [--top=25] [--gdb-only]
 *
 * N labelled ConfigMaps (a 4 KB `.json` and a small `.txt` each) and the sidecar as its own
 * process with a least-privilege token, as shipped but with `--inspect` on a loopback port. Once
 * it is ready with all files and has been idle for `--settle` seconds, four readings of
 * resident memory (VmRSS, where it lies in `/proc/<pid>/smaps`, and the sidecar's own `/metrics`):
 *
 * 1. idle, as it is;
 * 2. after two full garbage collections asked through the inspector
 *    (`HeapProfiler.collectGarbage`): what the JavaScript heap holds live;
 * 3. glibc's own account (`malloc_stats()`, called in the process by `gdb -batch`): bytes glibc
 *    took from the system against bytes in use, per arena;
 * 4. after `malloc_trim(0)` (also by `gdb`): how much of the brk heap and the arenas was free
 *    memory glibc had kept.
 *
 * Then a heap snapshot (`HeapProfiler.takeHeapSnapshot`), summarised by kind and constructor
 * (self sizes, no retainers), and strings by what they look like: whole contents kept in memory
 * would show as thousands of strings of one object's size.
 *
 * `--gdb-only` runs the sidecar as shipped (no inspector): readings 1, 3 and 4 only.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { freePort, Inspector } from "./lib/inspector.ts";
import { print, Report } from "./lib/report.ts";
import { type MemoryBreakdown, memoryBreakdown, rss } from "./lib/procfs.ts";
import {
  type BenchSidecar,
  type HeapMetrics,
  heapMetrics,
  LABEL,
  sleep,
  startWorld,
} from "./lib/world.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    objects: { type: "string", default: "10000" },
    settle: { type: "string", default: "30" },
    top: { type: "string", default: "25" },
    "gdb-only": { type: "boolean", default: false },
  },
});
const N = Number(args.objects);
const SETTLE_S = Number(args.settle);
const TOP = Number(args.top);
const INSPECT = !args["gdb-only"];

/** Runs `gdb -batch` on `pid` with the given commands; returns its output. */
async function gdb(pid: number, ...commands: string[]): Promise<string> {
  const out = await new Deno.Command("gdb", {
    args: ["-p", String(pid), "-batch", "-nx", ...commands.flatMap((c) => ["-ex", c])],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
}

/** glibc's `malloc_stats()` report: system and in-use bytes per arena and in all (MiB). */
interface MallocStats {
  arenas: { system: number; inUse: number }[];
  total: { system: number; inUse: number };
  mmapRegions: number;
  mmapBytes: number;
}

/** Parses the last `malloc_stats()` report in `output`. */
function parseMallocStats(output: string): MallocStats | undefined {
  const at = output.lastIndexOf("Arena 0:");
  if (at < 0) return undefined;
  const text = output.slice(at);
  const mib = (s: string | undefined) => Number(s ?? NaN) / 1024 / 1024;
  const arenas = [
    ...text.matchAll(/Arena \d+:\s*system bytes\s*=\s*(\d+)\s*in use bytes\s*=\s*(\d+)/g),
  ]
    .map((m) => ({ system: mib(m[1]), inUse: mib(m[2]) }));
  const total = text.match(
    /Total \(incl\. mmap\):\s*system bytes\s*=\s*(\d+)\s*in use bytes\s*=\s*(\d+)/,
  );
  return {
    arenas,
    total: { system: mib(total?.[1]), inUse: mib(total?.[2]) },
    mmapRegions: Number(text.match(/max mmap regions\s*=\s*(\d+)/)?.[1] ?? NaN),
    mmapBytes: mib(text.match(/max mmap bytes\s*=\s*(\d+)/)?.[1]),
  };
}

interface Reading {
  rss: number;
  where: MemoryBreakdown;
  self: HeapMetrics;
}
async function reading(sidecar: BenchSidecar): Promise<Reading> {
  const pid = sidecar.proc.pid;
  const r = rss(pid).rss;
  const where = memoryBreakdown(pid);
  return { rss: r, where, self: heapMetrics(await sidecar.metrics()) };
}

/** A V8 heap snapshot as the inspector streams it (only the parts read here). */
interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** What a string is, judged from its start and size; never its text. */
function lookOf(text: string, size: number): string {
  if (text.startsWith('{"i":')) return "a bench object's .json content";
  if (/^object \d+ version \d+/.test(text)) return "a bench object's .txt content";
  if (/^[0-9a-f]{64}$/.test(text)) return "64 hex digits (a SHA-256)";
  if (/(^|\/)(cm-|j-|t-)\d+/.test(text)) return "a bench object name or file path";
  if (/\b(import|export|function|const|=>)\b/.test(text.slice(0, 1024)) && text.length >= 200) {
    return "looks like JavaScript source";
  }
  const kib = size / 1024;
  const range = kib < 0.1
    ? "under 100 B"
    : kib < 1
    ? "100 B – 1 KiB"
    : kib < 16
    ? "1 – 16 KiB"
    : "16 KiB or more";
  return `other, ${range} each`;
}

/** Self sizes of a snapshot by kind and name, and strings by size and look. */
function summarise(snap: Snapshot) {
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf("type"), iName = fields.indexOf("name");
  const iSize = fields.indexOf("self_size");
  const byKind = new Map<string, { count: number; bytes: number }>();
  const byLook = new Map<string, { count: number; bytes: number }>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]!]!;
    const size = snap.nodes[i + iSize]!;
    total += size;
    const name = snap.strings[snap.nodes[i + iName]!] ?? "?";
    // Objects by constructor; strings and code by kind alone (their "name" is their content).
    const key = type === "object" || type === "closure" || type === "native"
      ? `${type} ${name.slice(0, 60)}`
      : `(${type})`;
    const k = byKind.get(key) ?? { count: 0, bytes: 0 };
    k.count++;
    k.bytes += size;
    byKind.set(key, k);
    if (type === "string" || type === "concatenated string" || type === "sliced string") {
      // Snapshots cut string names at 1024 characters: group by self size and by what the
      // string looks like, never showing its text (it could be a token).
      const key = lookOf(name, size);
      const l = byLook.get(key) ?? { count: 0, bytes: 0 };
      l.count++;
      l.bytes += size;
      byLook.set(key, l);
    }
  }
  const top = <K>(m: Map<K, { count: number; bytes: number }>) =>
    [...m].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, TOP);
  return { total, nodes: snap.nodes.length / width, byKind: top(byKind), byLook: top(byLook) };
}

const f1 = (x: number) => x.toFixed(1);
const describe = (r: Reading) =>
  `RSS ${f1(r.rss)} = file-backed ${f1(r.where.file)} + brk heap ${f1(r.where.brk)} + thread ` +
  `arenas ${f1(r.where.arenas)} + JIT code ${f1(r.where.jitCode)} + other anonymous ${
    f1(r.where.otherAnon)
  }; JS heap used ${f1(r.self.heapUsed)} of ${f1(r.self.heapTotal)}, external ${
    f1(r.self.external)
  }`;

const report = new Report(`where the memory of ${N} synced objects is (diagnostic)`);
await using world = await startWorld();
await world.createObjects(0, N);
print(`${N} ConfigMaps present`);
const port = freePort();
const sidecar = await world.sidecar({
  name: "heap-snapshot",
  ...(INSPECT ? { denoArgs: [`--inspect=127.0.0.1:${port}`] } : {}),
});
await sidecar.waitReady();
await sidecar.waitFiles(2 * N);
print(`synced; idle for ${SETTLE_S} s`);
await sleep(SETTLE_S * 1000);
const pid = sidecar.proc.pid;

const idle = await reading(sidecar);
print(`idle: ${describe(idle)}`);

let inspector: Inspector | undefined, gced: Reading | undefined;
if (INSPECT) {
  inspector = await Inspector.connect(port);
  await inspector.send("HeapProfiler.enable");
  await inspector.send("HeapProfiler.collectGarbage");
  await inspector.send("HeapProfiler.collectGarbage");
  await sleep(1000);
  gced = await reading(sidecar);
  print(`after two full GCs: ${describe(gced)}`);
}

await gdb(pid, "call (void)malloc_stats()");
await sleep(200);
const stats = parseMallocStats(sidecar.proc.output);
print(`malloc_stats: ${JSON.stringify(stats)}`);
const trimOut = await gdb(pid, "call (int)malloc_trim(0)");
await sleep(200);
const trimmed = await reading(sidecar);
print(
  `after malloc_trim(0) (${trimOut.match(/\$1 = (\d+)/)?.[0] ?? "no result"}): ${
    describe(trimmed)
  }`,
);

let summary: ReturnType<typeof summarise> | undefined;
if (inspector) {
  let chunks = "";
  inspector.on("HeapProfiler.addHeapSnapshotChunk", (p) => chunks += p.chunk as string);
  await inspector.send("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
  inspector.close();
  summary = summarise(JSON.parse(chunks) as Snapshot);
}
await sidecar.proc.stop();

const row = (name: string, pick: (r: Reading) => number) => {
  report.figure(`${name}: idle ${SETTLE_S} s`, pick(idle), "MiB");
  if (gced) report.figure(`${name}: after two full GCs`, pick(gced), "MiB");
  report.figure(`${name}: after malloc_trim(0)`, pick(trimmed), "MiB");
};
row("RSS", (r) => r.rss);
row("JS heap used", (r) => r.self.heapUsed);
row("JS heap reserved", (r) => r.self.heapTotal);
row("JS external", (r) => r.self.external);
row("glibc brk heap (resident)", (r) => r.where.brk);
row("glibc thread arenas (resident)", (r) => r.where.arenas);
row("other anonymous (V8 heap pages, stacks, large mallocs)", (r) => r.where.otherAnon);
row("file-backed", (r) => r.where.file);
if (stats) {
  report.figure("malloc_stats: system bytes, all arenas and mmap", stats.total.system, "MiB");
  report.figure("malloc_stats: in use bytes, all arenas and mmap", stats.total.inUse, "MiB");
  report.figure("malloc_stats: main arena (brk) system", stats.arenas[0]?.system ?? NaN, "MiB");
  report.figure("malloc_stats: main arena (brk) in use", stats.arenas[0]?.inUse ?? NaN, "MiB");
  report.note(
    `malloc_stats (${
      INSPECT ? "after the GCs, " : ""
    }before the trim), MiB system / in use per arena: ${
      stats.arenas.map((a, i) => `${i}: ${f1(a.system)} / ${f1(a.inUse)}`).join(", ")
    }; max mmap regions ${stats.mmapRegions}, max mmap bytes ${f1(stats.mmapBytes)}.`,
  );
} else {
  report.note("malloc_stats: no report found in the sidecar's output (gdb failed?)");
}
if (summary) {
  report.figure("heap snapshot: self sizes in all", summary.total / 1024 / 1024, "MiB");
  report.note(
    `Heap snapshot (${summary.nodes} nodes), top ${TOP} by self size (MiB, count):\n\n` +
      "| kind / constructor | MiB | count |\n|---|---|---|\n" +
      summary.byKind.map(([k, v]) =>
        `| ${k.replaceAll("|", "\\|")} | ${(v.bytes / 1048576).toFixed(2)} | ${v.count} |`
      )
        .join("\n"),
  );
  report.note(
    `Strings by look (self sizes; snapshots cut a string's text at 1024 characters):\n\n` +
      "| look | MiB | count |\n|---|---|---|\n" +
      summary.byLook.map(([l, v]) => `| ${l} | ${(v.bytes / 1048576).toFixed(2)} | ${v.count} |`)
        .join("\n"),
  );
}
report.note(
  `The sidecar ran ${
    INSPECT ? `with --inspect=127.0.0.1:${port}` : "as shipped (--gdb-only)"
  } (label ${LABEL}); readings are /proc, then ` +
    `its /metrics; gdb calls malloc_stats() and malloc_trim(0) inside the process.`,
);
await report.finish();
