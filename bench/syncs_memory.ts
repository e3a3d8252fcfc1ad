/**
 * Memory of one process serving three syncs against three processes serving one sync each
 * (issue 12): what a Grafana pod saves by running one sidecar container instead of three.
 *
 *   deno run -A bench/syncs_memory.ts [--objects=100] [--rounds=2] [--after=30]
 *
 * Three selections in one namespace, `--objects` labelled ConfigMaps each: dashboards
 * (`grafana_dashboard`, a 4 KB `.json` key, `json-file`), datasources (`grafana_datasource`, a
 * datasource `.yaml`, `yaml-file`) and alerts (`grafana_alert`, a rule group `.yaml`,
 * `yaml-file`); each sync with its own folder and an `http-basic` notifier (POST to a receiver
 * here, `skipInit` as in `deploy/`). Every sidecar runs as its own process with the same
 * least-privilege token (in-cluster files, as in a pod), as shipped (the V8 flags of `deno task compile`).
 *
 * - **three processes**: one per selection, configured by the environment as `deploy/grafana.yaml`
 *   does (`LABEL`, `LABEL_VALUE`, `NAMESPACE`, `FOLDER`, `WRITERS`, `REQ_URL`, `REQ_METHOD`,
 *   `REQ_SKIP_INIT`), started together as a pod starts its containers;
 * - **one process**: the same three selections as a config file's `syncs:` list, as
 *   `deploy/grafana-one-sidecar.yaml` does.
 *
 * Each is measured once `/readyz` is 200 and every file is written: VmRSS 2 s later and again
 * `--after` seconds later, idle (the figure), VmHWM, and where the memory lies (anonymous vs
 * file-backed). Three copies of one program share the pages of the `deno` binary: the sum of
 * their RSS counts those pages three times, while the node's page cache (and, for containers of
 * one image, the pod's memory) holds them once, so a second comparison counts file-backed
 * memory once (the largest of the three) and anonymous memory per process. `--rounds` repeats
 * both, alternating which goes first; figures are the mean of the rounds. Bare Deno
 * (`deno eval`, idle) is measured in the same run as the floor. No target (issue 12 gives none).
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { Receiver } from "../tests/harness/sidecar.ts";
import { print, Report } from "./lib/report.ts";
import { bareDenoRss, type MemoryBreakdown, memoryBreakdown, rss } from "./lib/procfs.ts";
import {
  type BenchSidecar,
  type HeapMetrics,
  heapMetrics,
  jsonPayload,
  sleep,
  startWorld,
  type World,
} from "./lib/world.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    objects: { type: "string", default: "100" },
    rounds: { type: "string", default: "2" },
    after: { type: "string", default: "30" },
  },
});
const N = Number(args.objects);
const ROUNDS = Number(args.rounds);
const AFTER_S = Number(args.after);

/** One selection of a Grafana pod. */
interface Selection {
  name: string;
  label: string;
  writer: string;
  /** The data of object `i`: one key. */
  data: (i: number) => Record<string, string>;
}

/**
 * A datasource provisioning file of about 300 bytes.
 *
 * @example
 * ```ts ignore
 * datasourceYaml(3); // "apiVersion: 1\ndatasources:\n  - name: prometheus-3\n…"
 * ```
 */
function datasourceYaml(i: number): string {
  return [
    "apiVersion: 1",
    "datasources:",
    `  - name: prometheus-${i}`,
    "    type: prometheus",
    "    access: proxy",
    `    url: http://prometheus-${i}.monitoring.svc:9090`,
    "    isDefault: false",
    "    jsonData:",
    "      timeInterval: 30s",
    "      httpMethod: POST",
    "",
  ].join("\n");
}

/** An alert rule group provisioning file of about 1 KB. */
function alertYaml(i: number): string {
  return [
    "apiVersion: 1",
    "groups:",
    "  - orgId: 1",
    `    name: group-${i}`,
    "    folder: alerts",
    "    interval: 1m",
    "    rules:",
    `      - uid: rule-${i}`,
    `        title: High error rate ${i}`,
    "        condition: C",
    "        data:",
    "          - refId: A",
    "            relativeTimeRange: { from: 600, to: 0 }",
    "            datasourceUid: prometheus",
    "            model:",
    `              expr: sum(rate(http_requests_total{job="app-${i}",code=~"5.."}[5m]))`,
    "              intervalMs: 1000",
    "              maxDataPoints: 43200",
    "          - refId: C",
    "            datasourceUid: __expr__",
    "            model:",
    "              type: threshold",
    "              expression: A",
    "              conditions:",
    "                - evaluator: { type: gt, params: [0.05] }",
    "        for: 5m",
    "        annotations:",
    `          summary: More than 5% of requests of app-${i} fail`,
    "        labels:",
    "          severity: warning",
    "",
  ].join("\n");
}

const SELECTIONS: Selection[] = [
  {
    name: "dashboards",
    label: "grafana_dashboard",
    writer: "json-file",
    data: (i) => ({ [`dash-${i}.json`]: jsonPayload(i, 0) }),
  },
  {
    name: "datasources",
    label: "grafana_datasource",
    writer: "yaml-file",
    data: (i) => ({ [`ds-${i}.yaml`]: datasourceYaml(i) }),
  },
  {
    name: "alerts",
    label: "grafana_alert",
    writer: "yaml-file",
    data: (i) => ({ [`alert-${i}.yaml`]: alertYaml(i) }),
  },
];

/** What is measured of one process. */
interface Reading {
  rss: number;
  hwm: number;
  where: MemoryBreakdown;
  self: HeapMetrics;
}

async function reading(sidecar: BenchSidecar): Promise<Reading> {
  const pid = sidecar.proc.pid;
  const m = rss(pid);
  const where = memoryBreakdown(pid);
  return { rss: m.rss, hwm: m.hwm, where, self: heapMetrics(await sidecar.metrics()) };
}

/** Environment every sidecar here shares: INFO logs, health on a free loopback port. */
const COMMON = { LOG_LEVEL: "INFO", HEALTH_HOST: "127.0.0.1", HEALTH_PORT: "0" };

/** The three selections as three processes configured by the environment. */
async function threeProcesses(world: World, receiver: Receiver): Promise<BenchSidecar[]> {
  const out: BenchSidecar[] = [];
  for (const sel of SELECTIONS) {
    const folder = await world.folder(`three-${sel.name}-`);
    out.push(world.spawn({
      name: `three-${sel.name}`,
      folders: [folder],
      env: {
        ...COMMON,
        LABEL: sel.label,
        LABEL_VALUE: "1",
        NAMESPACE: world.namespace,
        FOLDER: folder,
        WRITERS: sel.writer,
        REQ_URL: `${receiver.url}/${sel.name}`,
        REQ_METHOD: "POST",
        REQ_SKIP_INIT: "true",
      },
    }));
  }
  return out;
}

/** The three selections as one process with a config file's `syncs:` list. */
async function oneProcess(world: World, receiver: Receiver): Promise<BenchSidecar> {
  const dir = await world.folder("one-");
  const folders = SELECTIONS.map((s) => join(dir, s.name));
  const config = join(dir, "config.yaml");
  await Deno.writeTextFile(
    config,
    stringify({
      syncs: SELECTIONS.map((sel, i) => ({
        name: sel.name,
        label: sel.label,
        labelValue: "1",
        namespace: world.namespace,
        folder: folders[i],
        writers: [{ use: sel.writer }],
        notifiers: [{
          use: "http-basic",
          options: { url: `${receiver.url}/${sel.name}`, method: "POST", skipInit: true },
        }],
      })),
    }),
  );
  return world.spawn({ name: "one", folders, env: { ...COMMON, CONFIG: config } });
}

/** Readings 2 s and `AFTER_S` s after every process is ready with all its files. */
async function measure(procs: BenchSidecar[]): Promise<{ early: Reading[]; late: Reading[] }> {
  const files = procs.length === 1 ? SELECTIONS.length * N : N;
  try {
    await Promise.all(procs.map(async (p) => {
      await p.waitReady();
      await p.waitFiles(files);
    }));
    const synced = performance.now();
    await sleep(2000);
    const early = await Promise.all(procs.map(reading));
    await sleep(Math.max(0, synced + AFTER_S * 1000 - performance.now()));
    const late = await Promise.all(procs.map(reading));
    return { early, late };
  } finally {
    await Promise.all(procs.map((p) => p.proc.stop()));
  }
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const mean = (xs: number[]) => sum(xs) / xs.length;
const f1 = (x: number) => x.toFixed(1);

const report = new Report(
  `one process with three syncs vs three processes (${N} ConfigMaps per selection)`,
);
await using world = await startWorld();
await using receiver = new Receiver();
for (const sel of SELECTIONS) {
  await world.createObjects(0, N, { label: sel.label, prefix: `${sel.name}-`, data: sel.data });
}
print(`${3 * N} ConfigMaps present (${N} per selection)`);
const bare = await bareDenoRss();

interface Round {
  three: { early: Reading[]; late: Reading[] };
  one: { early: Reading[]; late: Reading[] };
}
const rounds: Round[] = [];
for (let r = 0; r < ROUNDS; r++) {
  // Alternate which goes first, so that neither always runs on a fresher machine.
  let three, one;
  if (r % 2 === 0) {
    three = await measure(await threeProcesses(world, receiver));
    one = await measure([await oneProcess(world, receiver)]);
  } else {
    one = await measure([await oneProcess(world, receiver)]);
    three = await measure(await threeProcesses(world, receiver));
  }
  rounds.push({ three, one });
  print(
    `round ${r + 1}: three processes ${three.late.map((x) => f1(x.rss)).join(" + ")} = ${
      f1(sum(three.late.map((x) => x.rss)))
    } MiB; one process ${f1(one.late[0]!.rss)} MiB`,
  );
}

const at = (pick: (r: Round) => number) => mean(rounds.map(pick));
const threeSum = (r: Round) => sum(r.three.late.map((x) => x.rss));
const oneRss = (r: Round) => r.one.late[0]!.rss;
// File-backed pages (mostly the deno binary) are the same file's pages in all three: count once.
const threeShared = (r: Round) =>
  sum(r.three.late.map((x) => x.where.anon)) + Math.max(...r.three.late.map((x) => x.where.file));
const oneShared = (r: Round) => r.one.late[0]!.where.anon + r.one.late[0]!.where.file;

report.figure("bare Deno (deno eval, idle)", bare, "MiB");
SELECTIONS.forEach((sel, i) => {
  report.figure(`three processes: ${sel.name} RSS`, at((r) => r.three.late[i]!.rss), "MiB");
});
report.figure("three processes: sum of RSS", at(threeSum), "MiB");
report.figure("one process, three syncs: RSS", at(oneRss), "MiB");
report.figure("saved (sum of three − one)", at((r) => threeSum(r) - oneRss(r)), "MiB");
report.figure(
  "one process / sum of three",
  at((r) => oneRss(r) / threeSum(r)) * 100,
  "%",
  undefined,
  0,
);
report.figure(
  "three processes: anonymous each + file-backed once",
  at(threeShared),
  "MiB",
);
report.figure("one process: anonymous + file-backed", at(oneShared), "MiB");
report.figure(
  "saved, file-backed counted once",
  at((r) => threeShared(r) - oneShared(r)),
  "MiB",
);
report.figure(
  "three processes: sum of VmHWM",
  at((r) => sum(r.three.late.map((x) => x.hwm))),
  "MiB",
);
report.figure("one process: VmHWM", at((r) => r.one.late[0]!.hwm), "MiB");
report.figure(
  "three processes: sum of RSS 2 s after the sync",
  at((r) => sum(r.three.early.map((x) => x.rss))),
  "MiB",
);
report.figure("one process: RSS 2 s after the sync", at((r) => r.one.early[0]!.rss), "MiB");

const describe = (x: Reading) =>
  `RSS ${f1(x.rss)} (anonymous ${f1(x.where.anon)}: brk heap ${f1(x.where.brk)}, arenas ${
    f1(x.where.arenas)
  }, other ${f1(x.where.otherAnon + x.where.jitCode)}; file-backed ${f1(x.where.file)}); JS heap ${
    f1(x.self.heapUsed)
  } used of ${f1(x.self.heapTotal)}, external ${f1(x.self.external)}`;
rounds.forEach((r, i) => {
  report.note(
    `round ${i + 1} (${
      i % 2 === 0 ? "three processes first" : "one process first"
    }), ${AFTER_S} s ` +
      `after the sync, MiB: ${
        SELECTIONS.map((s, j) => `${s.name}: ${describe(r.three.late[j]!)}`).join("; ")
      }; one process: ${describe(r.one.late[0]!)}.`,
  );
});
report.note(
  `RSS figures are VmRSS ${AFTER_S} s after every process was ready with all its files (idle ` +
    `since), the mean of ${ROUNDS} round(s); "file-backed once" adds the anonymous memory of ` +
    `each process to the largest file-backed share of the three (the pages of one deno binary).`,
);
await report.finish();
