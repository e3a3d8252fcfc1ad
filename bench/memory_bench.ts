/**
 * Memory and start-up cost of the sidecar against the real local control plane.
 *
 *   deno run --allow-all bench/memory_bench.ts [objects=1000]
 *
 * Creates N labelled ConfigMaps (two 2 KiB JSON keys each), then runs the sidecar as its own
 * process once per variant — from source or as the bundle (`deno task bundle`), in-cluster
 * (service-account files) or out of cluster (KUBECONFIG, which loads `@kubernetes/client-node`),
 * with or without a small V8 young generation — and reports, per run: time to the initial sync
 * written, RSS and peak RSS (VmHWM) once synced and after a burst of N/10 updates. Prints a
 * Markdown table for BENCHMARKS.md. Times are wall clock on a shared machine: compare rows of one
 * run. `BENCH_EXTRA_V8_FLAGS` (comma-separated) adds a source row with other V8 flags.
 *
 * @module
 */
import { join } from "node:path";
import { READ_CONFIGMAPS, startCluster } from "../tests/harness/cluster.ts";
import { bundleSidecar, startSidecar } from "../tests/harness/sidecar.ts";

const N = Number(Deno.args[0] ?? 1000);
const LABEL = "bench";
const ns = "bench";
const print = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\n"));

function rssKiB(pid: number): { rss: number; hwm: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const field = (name: string) =>
    Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"))?.[1] ?? NaN);
  return { rss: field("VmRSS"), hwm: field("VmHWM") };
}

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(dir)) if (!e.name.startsWith(".")) n++;
  return n;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

const payload = (i: number, v: number) => JSON.stringify({ i, v, pad: "x".repeat(2000) });

await using cluster = await startCluster();
await cluster.createNamespace(ns);
const t0 = performance.now();
for (let i = 0; i < N; i += 50) {
  await Promise.all(
    Array.from(
      { length: Math.min(50, N - i) },
      (_, j) =>
        cluster.admin.create(`/api/v1/namespaces/${ns}/configmaps`, {
          metadata: { name: `cm-${i + j}`, labels: { [LABEL]: "1" } },
          data: { [`a-${i + j}.json`]: payload(i + j, 0), [`b-${i + j}.json`]: payload(i + j, 0) },
        }),
    ),
  );
}
print(`created ${N} ConfigMaps in ${Math.round(performance.now() - t0)} ms`);
const sa = await cluster.createServiceAccount({
  namespace: ns,
  name: "bench",
  rules: READ_CONFIGMAPS,
});

const bundleDir = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "bundle-" });
const bundleEntry = await bundleSidecar(bundleDir);

const rows: string[] = [];
let round = 0;
/** One way of running the sidecar. */
interface Variant {
  program: "source" | "bundle";
  access: "in-cluster" | "kubeconfig";
  /** DENO_V8_FLAGS (comma-separated). */
  v8?: string;
}
const SMALL_YOUNG_GEN = "--max-semi-space-size=1";
const EXTRA = Deno.env.get("BENCH_EXTRA_V8_FLAGS");
const VARIANTS: Variant[] = [
  { program: "source", access: "in-cluster" },
  // What `deno task start`, `deno task compile` and the Dockerfile run.
  { program: "source", access: "in-cluster", v8: SMALL_YOUNG_GEN },
  { program: "source", access: "kubeconfig", v8: SMALL_YOUNG_GEN },
  { program: "bundle", access: "in-cluster" },
  { program: "bundle", access: "in-cluster", v8: SMALL_YOUNG_GEN },
  ...(EXTRA ? [{ program: "source", access: "in-cluster", v8: EXTRA } as Variant] : []),
];
for (const variant of VARIANTS) {
  const mode = `${variant.program}, ${variant.access}${variant.v8 ? `, ${variant.v8}` : ""}`;
  const folder = await Deno.makeTempDir({ dir: cluster.dataDir });
  const pod = await cluster.podEnvironment(sa);
  const env: Record<string, string> = {
    FOLDER: folder,
    LABEL,
    NAMESPACE: ns,
    LOG_LEVEL: "WARN",
    HEALTH_HOST: "127.0.0.1",
  };
  if (variant.v8) env.DENO_V8_FLAGS = variant.v8;
  if (variant.access === "kubeconfig") env.KUBECONFIG = await cluster.tokenKubeconfig(sa);
  const start = performance.now();
  const proc = startSidecar(
    cluster,
    variant.access === "kubeconfig" ? { serviceAccountDir: "", env: {} } : pod,
    env,
    `bench-${mode}`,
    variant.program === "bundle" ? bundleEntry : undefined,
  );
  await waitFor(async () => (await countFiles(folder)) === 2 * N).catch((e) => {
    throw new Error(`${mode}: ${e.message}; sidecar output:\n${proc.output.slice(-3000)}`);
  });
  const syncMs = performance.now() - start;
  await new Promise((r) => setTimeout(r, 1000));
  const synced = rssKiB(proc.pid);
  round++;
  const updates = Math.max(1, Math.floor(N / 10));
  for (let i = 0; i < updates; i += 25) {
    await Promise.all(
      Array.from(
        { length: Math.min(25, updates - i) },
        (_, j) =>
          cluster.admin.request("PATCH", `/api/v1/namespaces/${ns}/configmaps/cm-${i + j}`, {
            body: { data: { [`a-${i + j}.json`]: payload(i + j, round) } },
            contentType: "application/merge-patch+json",
          }),
      ),
    );
  }
  await waitFor(async () =>
    (await Deno.readTextFile(join(folder, `a-${updates - 1}.json`))).includes(`"v":${round}`)
  );
  const afterBurst = rssKiB(proc.pid);
  rows.push(
    `| ${mode} | ${N} | ${(syncMs / 1000).toFixed(2)} | ${(synced.rss / 1024).toFixed(1)} | ${
      (afterBurst.rss / 1024).toFixed(1)
    } | ${(afterBurst.hwm / 1024).toFixed(1)} |`,
  );
  await proc.stop();
}
print(
  "\n| program, access, V8 flags | objects | initial sync (s) | RSS synced (MiB) | RSS after N/10 updates (MiB) | peak RSS (MiB) |",
);
print("|---|---|---|---|---|---|");
for (const r of rows) print(r);
