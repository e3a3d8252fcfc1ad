/**
 * Resident memory of a synced sidecar, beside a bare Deno measured in the same run.
 *
 *   deno run -A bench/memory.ts [--sizes=10,1000,10000] [--variants]
 *
 * The floor first: VmRSS of `deno eval` idling. Then for each size N (ascending; objects are kept
 * and more created), N labelled ConfigMaps with a 4 KB `.json` and a small `.txt` each, and the
 * sidecar as its own process with a least-privilege token, as shipped (in-cluster,
 * `--max-semi-space-size=1`): once it is ready and all 2·N files are written, and after 2 s of
 * quiet, VmRSS (the figure) and VmHWM (its peak, during the sync).
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
import { memoryBreakdown, rss } from "./lib/procfs.ts";
import { type SidecarOptions, sleep, startWorld } from "./lib/world.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    sizes: { type: "string", default: "10,1000,10000" },
    variants: { type: "boolean", default: false },
  },
});
const SIZES = args.sizes.split(",").map(Number).sort((a, b) => a - b);
const TARGET: Record<number, number> = { 10: 50, 1000: 65, 10000: 80 };

/** VmRSS of a bare `deno eval` that only waits, after it has settled. */
async function bareDeno(): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "await new Promise((r) => setTimeout(r, 600_000));"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await sleep(2000);
    return rss(child.pid).rss;
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
}

const report = new Report(`memory (${SIZES.join(", ")} objects)`);
await using world = await startWorld();
report.figure("bare Deno (deno eval, idle)", await bareDeno(), "MiB");

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
const variants: Variant[] = [{ name: "shipped", options: {} }];
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
    const url = await sidecar.healthUrl();
    const ready = () => fetch(`${url}/readyz`).then(async (r) => (await r.body?.cancel(), r.ok));
    while (!(await ready())) await sleep(50);
    await sidecar.waitFiles(2 * n);
    await sleep(2000);
    const m = rss(sidecar.proc.pid);
    const b = memoryBreakdown(sidecar.proc.pid);
    await sidecar.proc.stop();
    const shipped = variant.name === "shipped";
    const label = shipped ? `${n} objects` : `${n} objects, ${variant.name}`;
    const target = shipped && TARGET[n] !== undefined ? { max: TARGET[n] } : undefined;
    report.figure(`${label}: RSS synced`, m.rss, "MiB", target);
    report.figure(`${label}: peak RSS (VmHWM)`, m.hwm, "MiB");
    if (shipped) {
      report.note(
        `${n} objects: resident ${b.rss.toFixed(1)} MiB = file-backed ${b.file.toFixed(1)} ` +
          `(deno binary ${b.binary.toFixed(1)}) + glibc brk heap ${b.brk.toFixed(1)} + glibc ` +
          `thread arenas ${b.arenas.toFixed(1)} + V8 JIT code ${b.jitCode.toFixed(1)} + other ` +
          `anonymous (V8 heap, stacks) ${b.otherAnon.toFixed(1)}`,
      );
    }
  }
}
report.note(
  "RSS synced is VmRSS 2 s after readiness and all files; peak is VmHWM at that moment. " +
    "Shipped = in-cluster service-account files, DENO_V8_FLAGS=--max-semi-space-size=1.",
);
await report.finish();
