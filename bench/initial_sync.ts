/**
 * Initial sync: time from process start to the last file, and the CPU it took.
 *
 *   deno run -A bench/initial_sync.ts [--sizes=1000,10000]
 *
 * For each size N (ascending; the objects of a smaller size are kept and more created), N labelled
 * ConfigMaps with a 4 KB `.json` and a small `.txt` each, then the sidecar started as its own
 * process with a least-privilege token on an empty folder. Waits for `/readyz` and all 2·N files;
 * then reports
 *
 * - the time from spawning the process to the newest file's modification time (when the last file
 *   was written, independent of how often this benchmark looks);
 * - the sidecar's CPU time (utime + stime from `/proc/<pid>/stat`) once the last file is there;
 * - the list requests the API server answered for it (`apiserver_request_total`, LIST on
 *   configmaps, one per page) and the sidecar's own `gsidecar_lists_total`; the ownership
 *   record's syncs to disk (`gsidecar_journal_syncs_total`) where the sidecar counts them.
 *
 * Targets: 1000 objects ≤ 0.4 s and ≤ 0.5 s CPU; 10,000 objects ≤ 4 s.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { print, Report } from "./lib/report.ts";
import { cpuSeconds } from "./lib/procfs.ts";
import {
  apiserverRequests,
  countFiles,
  metricSum,
  mtimeRange,
  sleep,
  startWorld,
} from "./lib/world.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: { sizes: { type: "string", default: "1000,10000" } },
});
const SIZES = args.sizes.split(",").map(Number).sort((a, b) => a - b);
const TIME_TARGET: Record<number, number> = { 1000: 0.4, 10000: 4 };
const CPU_TARGET: Record<number, number> = { 1000: 0.5 };

const report = new Report(`initial sync (${SIZES.join(", ")} objects × 2 keys)`);
await using world = await startWorld();
let created = 0;
for (const n of SIZES) {
  await world.createObjects(created, n);
  created = n;
  print(`${n} ConfigMaps present`);
  const listsBefore = await apiserverRequests(world.cluster, "configmaps", "LIST");
  const sidecar = await world.sidecar({ name: `sync-${n}` });
  const url = await sidecar.healthUrl();
  // Readiness means "initial sync written"; the file count confirms it.
  const ready = () => fetch(`${url}/readyz`).then(async (r) => (await r.body?.cancel(), r.ok));
  while (!(await ready())) await sleep(20);
  await sidecar.waitFiles(2 * n, { pollMs: 20 });
  const cpu = cpuSeconds(sidecar.proc.pid);
  const { oldest: firstFile, newest: lastFile } = await mtimeRange(sidecar.folder);
  const files = await countFiles(sidecar.folder);
  const metrics = await sidecar.metrics();
  const lists = (await apiserverRequests(world.cluster, "configmaps", "LIST")) - listsBefore;
  await sidecar.proc.stop();
  const seconds = (lastFile - sidecar.startedAt) / 1000;
  report.figure(
    `${n} objects: start → last file`,
    seconds,
    "s",
    TIME_TARGET[n] ? { max: TIME_TARGET[n] } : undefined,
    2,
  );
  report.figure(
    `${n} objects: start → first file`,
    (firstFile - sidecar.startedAt) / 1000,
    "s",
    undefined,
    2,
  );
  report.figure(
    `${n} objects: CPU`,
    cpu,
    "s",
    CPU_TARGET[n] ? { max: CPU_TARGET[n] } : undefined,
    2,
  );
  report.figure(`${n} objects: list requests (API server, pages)`, lists, "", undefined, 0);
  report.figure(
    `${n} objects: gsidecar_lists_total`,
    metricSum(metrics, "gsidecar_lists_total"),
    "",
    undefined,
    0,
  );
  if (metrics.has("gsidecar_journal_syncs_total")) {
    const syncs = metricSum(metrics, "gsidecar_journal_syncs_total");
    report.figure(`${n} objects: journal syncs`, syncs, "", undefined, 0);
  }
  if (files !== 2 * n) throw new Error(`${files} files for ${n} objects`);
}
report.note(
  "Start → last file runs from spawning `deno run main.ts` (module loading included) to the " +
    "newest file's mtime; CPU is read once readiness and all files are seen (polled every 20 ms).",
);
await report.finish();
