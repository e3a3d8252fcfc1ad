/**
 * Where an initial sync's CPU goes (a diagnostic: no targets). N labelled ConfigMaps as in
 * `initial_sync.ts`, the sidecar started with `--inspect-wait` on loopback (so nothing runs before
 * the profiler), V8's sampling profiler started through the inspector, the program let go, and the
 * profile taken once all 2·N files are written (on tmpfs) and 300 ms have passed (the collection
 * after the sync included). Self time by module (Deno's internal modules by extension) and by
 * function; `(garbage collector)`, `(program)` (native code outside JavaScript) and the `op_*`
 * calls into Deno are V8's own names. Sampling and the inspector add their own cost: compare
 * shares, not the totals with `initial_sync.ts`.
 *
 *   deno run -A bench/sync_profile.ts [--objects=1000] [--top=30] [--interval-us=200]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { freePort, Inspector } from "./lib/inspector.ts";
import { print, Report } from "./lib/report.ts";
import { sleep, startWorld } from "./lib/world.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    objects: { type: "string", default: "1000" },
    top: { type: "string", default: "30" },
    "interval-us": { type: "string", default: "200" },
  },
});
const N = Number(args.objects);
const TOP = Number(args.top);

/** The parts of a V8 CPU profile read here. */
interface Profile {
  nodes: {
    id: number;
    hitCount: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }[];
  samples: number[];
  startTime: number;
  endTime: number;
}

const report = new Report(`where a ${N}-object initial sync's CPU goes (diagnostic)`);
await using world = await startWorld();
await world.createObjects(0, N);
const port = freePort();
const sidecar = await world.sidecar({
  name: "sync-profile",
  folderIn: "/dev/shm",
  denoArgs: [`--inspect-wait=127.0.0.1:${port}`],
});
const session = await Inspector.connect(port);
await session.send("Profiler.enable");
await session.send("Profiler.setSamplingInterval", { interval: Number(args["interval-us"]) });
await session.send("Profiler.start");
await session.send("Runtime.runIfWaitingForDebugger");
await sidecar.waitFiles(2 * N, { pollMs: 20 });
await sleep(300);
const { result } = await session.send("Profiler.stop") as { result: { profile: Profile } };
const { profile } = result;
session.close();

const msPerSample = (profile.endTime - profile.startTime) / profile.samples.length / 1000;
const byModule = new Map<string, number>(), byFunction = new Map<string, number>();
const add = (m: Map<string, number>, k: string, ms: number) => m.set(k, (m.get(k) ?? 0) + ms);
for (const node of profile.nodes) {
  const { functionName, url, lineNumber } = node.callFrame;
  const ms = node.hitCount * msPerSample;
  const where = url.replace(/^file:\/\/.*?\/(src|plugins|main\.ts)/, "$1");
  add(
    byModule,
    url === "" ? functionName : where.startsWith("ext:") ? where.split("/")[0]! : where,
    ms,
  );
  add(
    byFunction,
    `${functionName || "(anonymous)"} ${where}${url ? `:${lineNumber + 1}` : ""}`,
    ms,
  );
}
const idle = byModule.get("(idle)") ?? 0;
report.figure("sampled, not idle", profile.samples.length * msPerSample - idle, "ms", undefined, 0);
for (const [name, map] of [["module", byModule], ["function", byFunction]] as const) {
  print(`\nself time by ${name} (ms, idle left out):`);
  for (
    const [k, ms] of [...map].filter(([k]) => !k.startsWith("(idle)")).sort((a, b) => b[1] - a[1])
      .slice(0, TOP)
  ) {
    print(`  ${ms.toFixed(1).padStart(7)}  ${k}`);
  }
}
for (const k of ["(garbage collector)", "(program)"]) {
  report.figure(k, byModule.get(k) ?? 0, "ms", undefined, 0);
}
report.note(
  `Sampling every ${args["interval-us"]} µs; the sidecar with --inspect-wait on loopback.`,
);
await report.finish();
