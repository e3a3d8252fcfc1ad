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
 * Each size runs twice: with the folder on tmpfs (`--tmpfs`, default `/dev/shm`; a pod's
 * `emptyDir` with `medium: Memory`) and on disk (the cluster's data directory). Beside each, in the
 * same run, the floor: a bare Deno process writing the same files the same way (temp file, rename;
 * `lib/write_floor.ts`), spawn → its newest file's mtime. On a disk whose file creation is slow
 * (see BENCHMARKS.md: ext4 without a journal after many deletions) the floor shows how much of the
 * time is the file system's.
 *
 * Targets (on tmpfs, where the file system does not dominate): 1000 objects ≤ 0.4 s and ≤ 0.5 s
 * CPU; 10,000 objects ≤ 4 s.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
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
  options: {
    sizes: { type: "string", default: "1000,10000" },
    tmpfs: { type: "string", default: "/dev/shm" },
  },
});
const FLOOR = fileURLToPath(new URL("./lib/write_floor.ts", import.meta.url));
const SIZES = args.sizes.split(",").map(Number).sort((a, b) => a - b);
const TIME_TARGET: Record<number, number> = { 1000: 0.4, 10000: 4 };
const CPU_TARGET: Record<number, number> = { 1000: 0.5 };

/** Where the folders go: `parent` undefined is the cluster's data directory (disk). */
interface Medium {
  name: string;
  parent?: string;
  targets: boolean;
}
// Without tmpfs the targets apply on disk.
const MEDIA: Medium[] = existsSync(args.tmpfs)
  ? [{ name: "tmpfs", parent: args.tmpfs, targets: true }, { name: "disk", targets: false }]
  : [{ name: "disk", targets: true }];

const report = new Report(`initial sync (${SIZES.join(", ")} objects × 2 keys)`);
await using world = await startWorld();
await floor(0, MEDIA[0]!); // Deno compiles the floor writer once, before it is measured.
let created = 0;
for (const n of SIZES) {
  await world.createObjects(created, n);
  created = n;
  print(`${n} ConfigMaps present`);
  for (const medium of MEDIA) await measure(n, medium);
}
report.note(
  "Start → last file runs from spawning `deno run main.ts` (module loading included) to the " +
    "newest file's mtime; CPU is read once readiness and all files are seen (polled every 20 ms). " +
    "Floor: `deno run lib/write_floor.ts` writing the same files (temp file, rename) into a new " +
    "folder on the same medium just before, spawn → newest mtime. Targets apply on tmpfs.",
);
await report.finish();

/** Spawn → newest file of a bare Deno process writing the files of `n` objects into a new folder. */
async function floor(n: number, medium: Medium): Promise<number> {
  const dir = await world.folder("floor-", medium.parent);
  const startedAt = Date.now();
  const out = await new Deno.Command(Deno.execPath(), {
    // All permissions: Deno asks for --allow-all to write under /dev (/dev/shm).
    args: ["run", "--quiet", "--allow-all", FLOOR, dir, String(n)],
    stdin: "null",
  }).output();
  if (!out.success) throw new Error(`floor writer: ${new TextDecoder().decode(out.stderr)}`);
  const files = await countFiles(dir);
  if (files !== 2 * n) throw new Error(`floor writer: ${files} files for ${n} objects`);
  return ((await mtimeRange(dir)).newest - startedAt) / 1000;
}

async function measure(n: number, medium: Medium): Promise<void> {
  const at = `${n} objects, ${medium.name}`;
  const floorSeconds = await floor(n, medium);
  const listsBefore = await apiserverRequests(world.cluster, "configmaps", "LIST");
  const sidecar = await world.sidecar({
    name: `sync-${n}-${medium.name}`,
    ...(medium.parent ? { folderIn: medium.parent } : {}),
  });
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
    `${at}: start → last file`,
    seconds,
    "s",
    medium.targets && TIME_TARGET[n] ? { max: TIME_TARGET[n] } : undefined,
    2,
  );
  report.figure(`${at}: floor (bare Deno, same files)`, floorSeconds, "s", undefined, 2);
  report.figure(`${at}: last file − floor`, seconds - floorSeconds, "s", undefined, 2);
  report.figure(
    `${at}: start → first file`,
    (firstFile - sidecar.startedAt) / 1000,
    "s",
    undefined,
    2,
  );
  report.figure(
    `${at}: CPU`,
    cpu,
    "s",
    medium.targets && CPU_TARGET[n] ? { max: CPU_TARGET[n] } : undefined,
    2,
  );
  report.figure(`${at}: list requests (API server, pages)`, lists, "", undefined, 0);
  report.figure(
    `${at}: gsidecar_lists_total`,
    metricSum(metrics, "gsidecar_lists_total"),
    "",
    undefined,
    0,
  );
  if (metrics.has("gsidecar_journal_syncs_total")) {
    const syncs = metricSum(metrics, "gsidecar_journal_syncs_total");
    report.figure(`${at}: journal syncs`, syncs, "", undefined, 0);
  }
  if (files !== 2 * n) throw new Error(`${at}: ${files} files`);
}
