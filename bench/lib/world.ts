/**
 * The scene every benchmark plays on: the local control plane, labelled ConfigMaps of the shape
 * issue 9 measures (a 4 KB `.json` and a small `.txt` each), and the sidecar as its own process
 * with a least-privilege service-account token, driven only from outside.
 *
 * @example
 * ```ts ignore
 * import { startWorld } from "./world.ts";
 * await using world = await startWorld();
 * await world.createObjects(0, 1000);
 * const s = await world.sidecar({ name: "bench" });
 * await s.waitFiles(2000); // two files per object
 * ```
 *
 * @module
 */
import { join } from "node:path";
import {
  type Cluster,
  type ClusterOptions,
  type PodEnvironment,
  READ_CONFIGMAPS,
  type ServiceAccountToken,
  startCluster,
} from "../../tests/harness/cluster.ts";
import type { ManagedProcess } from "../../tests/harness/process.ts";
import { runSidecarToEnd, startSidecar } from "../../tests/harness/sidecar.ts";

/** The label the sidecar selects on. */
export const LABEL = "gsidecar-bench";

/**
 * V8 flags of the shipped program (`deno task start`, `deno task compile`, the Dockerfile): the
 * default for every sidecar a benchmark starts. `BENCH_V8_FLAGS` replaces them (empty for none).
 */
export const SHIPPED_V8_FLAGS: string = Deno.env.get("BENCH_V8_FLAGS") ??
  "--max-semi-space-size=1";

/**
 * The `.json` key of object `i` at version `v`: about 4 KB of JSON whose `v` field tells versions
 * apart.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jsonPayload } from "./world.ts";
 * assert(JSON.parse(jsonPayload(7, 2)).v === 2);
 * ```
 */
export function jsonPayload(i: number, v: number): string {
  const head = JSON.stringify({ i, v });
  // 4096 bytes in all: `{"i":…,"v":…,"pad":"xxx…"}`.
  return `${head.slice(0, -1)},"pad":"${"x".repeat(Math.max(0, 4096 - head.length - 9))}"}`;
}

/**
 * The data of object `i` at version `v`: `j-<i>.json` (4 KB) and `t-<i>.txt` (a short line).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { objectData } from "./world.ts";
 * assert(Object.keys(objectData(3, 0)).join() === "j-3.json,t-3.txt");
 * ```
 */
export function objectData(i: number, v: number): Record<string, string> {
  return { [`j-${i}.json`]: jsonPayload(i, v), [`t-${i}.txt`]: `object ${i} version ${v}\n` };
}

/** A sidecar process and the folder it keeps. */
export interface BenchSidecar {
  proc: ManagedProcess;
  folder: string;
  /** `Date.now()` just before the process was spawned. */
  startedAt: number;
  /** `performance.now()` just before the process was spawned. */
  startedPerf: number;
  /** Base URL of its health server, once it listens. */
  healthUrl(): Promise<string>;
  /** Its `/metrics`, parsed: `name{labels}` → value. */
  metrics(): Promise<Map<string, number>>;
  /** Resolves once `count` files (not dotfiles) are in the folder; fails if the process exits. */
  waitFiles(count: number, opts?: { timeoutMs?: number; pollMs?: number }): Promise<void>;
}

/** Options of {@linkcode World.sidecar}. */
export interface SidecarOptions {
  /** Process name in error messages. */
  name: string;
  /** Extra environment (on top of FOLDER, LABEL, NAMESPACE, WRITERS, LOG_LEVEL…). */
  env?: Record<string, string>;
  /** `DENO_V8_FLAGS`; {@linkcode SHIPPED_V8_FLAGS} by default, "" for none. */
  v8Flags?: string;
  /** Program to run instead of `main.ts` (e.g. the bundle's entry). */
  entry?: string;
}

/** The control plane with one namespace of bench objects and a reader service account. */
export class World implements AsyncDisposable {
  readonly cluster: Cluster;
  readonly namespace: string;
  readonly sa: ServiceAccountToken;
  readonly pod: PodEnvironment;

  /** @internal use {@linkcode startWorld}. */
  constructor(cluster: Cluster, namespace: string, sa: ServiceAccountToken, pod: PodEnvironment) {
    this.cluster = cluster;
    this.namespace = namespace;
    this.sa = sa;
    this.pod = pod;
  }

  /** Path of ConfigMap `name` (or of the collection). */
  path(name = ""): string {
    return `/api/v1/namespaces/${this.namespace}/configmaps${name ? `/${name}` : ""}`;
  }

  /** Creates labelled objects `cm-<from>` … `cm-<to - 1>` at version 0, `concurrency` at a time. */
  async createObjects(from: number, to: number, concurrency = 32): Promise<void> {
    let next = from;
    const worker = async () => {
      for (let i = next++; i < to; i = next++) {
        await this.cluster.admin.create(this.path(), {
          metadata: { name: `cm-${i}`, labels: { [LABEL]: "1" } },
          data: objectData(i, 0),
        });
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  /** Replaces the data of object `i` with version `v` (a merge patch of both keys). */
  async update(i: number, v: number): Promise<void> {
    await this.cluster.admin.request("PATCH", this.path(`cm-${i}`), {
      body: { data: objectData(i, v) },
      contentType: "application/merge-patch+json",
    });
  }

  /** Starts the sidecar (watch mode, json-file and txt-file writers, INFO logs) on a new folder. */
  async sidecar(opts: SidecarOptions): Promise<BenchSidecar> {
    const folder = await Deno.makeTempDir({ dir: this.cluster.dataDir, prefix: "out-" });
    const v8 = opts.v8Flags ?? SHIPPED_V8_FLAGS;
    const env: Record<string, string> = {
      FOLDER: folder,
      LABEL,
      NAMESPACE: this.namespace,
      WRITERS: "json-file,txt-file",
      LOG_LEVEL: "INFO",
      HEALTH_HOST: "127.0.0.1",
      HEALTH_PORT: "0",
      ...(v8 ? { DENO_V8_FLAGS: v8 } : {}),
      ...opts.env,
    };
    const startedAt = Date.now();
    const startedPerf = performance.now();
    const proc = startSidecar(this.cluster, this.pod, env, opts.name, opts.entry);
    let exited = false;
    proc.wait().then(() => exited = true);
    const failure = (what: string) =>
      new Error(`${opts.name}: ${what}; output (tail):\n${proc.output.slice(-4000)}`);
    let url: string | undefined;
    const healthUrl = async () => {
      while (!url) {
        const m = proc.output.match(/"health endpoints listening","address":"[^"]*:(\d+)"/);
        if (m) url = `http://127.0.0.1:${m[1]}`;
        else if (exited) throw failure("exited before its health server listened");
        else await sleep(20);
      }
      return url;
    };
    return {
      proc,
      folder,
      startedAt,
      startedPerf,
      healthUrl,
      metrics: async () => parseMetrics(await (await fetch(`${await healthUrl()}/metrics`)).text()),
      waitFiles: async (count, { timeoutMs = 600_000, pollMs = 100 } = {}) => {
        const deadline = Date.now() + timeoutMs;
        let n = 0;
        while ((n = await countFiles(folder)) < count) {
          if (exited) throw failure(`exited with ${n} of ${count} files written`);
          if (Date.now() > deadline) throw failure(`${n} of ${count} files after ${timeoutMs} ms`);
          await sleep(pollMs);
        }
      },
    };
  }

  /** Stops every process and removes the data. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.cluster.stop();
  }
}

/**
 * Starts the control plane, a namespace `bench` and a service account that may only get, list
 * and watch ConfigMaps there, after one run of the sidecar that only warms Deno's caches.
 */
export async function startWorld(opts: ClusterOptions = {}): Promise<World> {
  // One run to a configuration error first: Deno's module caches are warm for every measured run.
  await runSidecarToEnd(undefined, {});
  const cluster = await startCluster(opts);
  try {
    const namespace = "bench";
    await cluster.createNamespace(namespace);
    const sa = await cluster.createServiceAccount({
      namespace,
      name: "sidecar",
      rules: READ_CONFIGMAPS,
    });
    return new World(cluster, namespace, sa, await cluster.podEnvironment(sa));
  } catch (e) {
    await cluster.stop();
    throw e;
  }
}

/**
 * Parses the Prometheus text format into `name{labels}` → value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseMetrics } from "./world.ts";
 * const m = parseMetrics('# HELP x X.\nx{scope="a"} 3\ny 1\n');
 * assert(m.get('x{scope="a"}') === 3 && m.get("y") === 1);
 * ```
 */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/**
 * The sum of every sample of metric `name` (all label sets).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { metricSum, parseMetrics } from "./world.ts";
 * const m = parseMetrics('a{s="1"} 2\na{s="2"} 3\nab 9\n');
 * assert(metricSum(m, "a") === 5);
 * ```
 */
export function metricSum(metrics: Map<string, number>, name: string): number {
  let sum = 0;
  for (const [k, v] of metrics) if (k === name || k.startsWith(`${name}{`)) sum += v;
  return sum;
}

/**
 * How many `verb` requests on `resource` the API server has answered so far, by its own
 * `apiserver_request_total` (all codes and scopes). Only the API server's view: a request it
 * never received is not counted.
 *
 * @example
 * ```ts ignore
 * import { apiserverRequests, type World } from "./world.ts";
 * declare const world: World; // startWorld()
 * const lists = await apiserverRequests(world.cluster, "configmaps", "LIST");
 * ```
 */
export async function apiserverRequests(
  cluster: Cluster,
  resource: string,
  verb: string,
): Promise<number> {
  const text = await cluster.admin.request<string>("GET", "/metrics");
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    if (!line.includes(`resource="${resource}"`) || !line.includes(`verb="${verb}"`)) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

/**
 * Files (not dotfiles) in `dir`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { countFiles } from "./world.ts";
 * assert(await countFiles(await Deno.makeTempDir()) === 0);
 * ```
 */
export async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(dir)) if (!e.name.startsWith(".")) n++;
  return n;
}

/**
 * The oldest and newest modification times (ms since the epoch) of the files (not dotfiles) in
 * `dir`: when the first and the last of them were written, whenever they are looked at.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mtimeRange } from "./world.ts";
 * assert(Number.isNaN((await mtimeRange(await Deno.makeTempDir())).newest));
 * ```
 */
export async function mtimeRange(dir: string): Promise<{ oldest: number; newest: number }> {
  let oldest = NaN, newest = NaN;
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith(".")) continue;
    const t = (await Deno.stat(join(dir, e.name))).mtime?.getTime() ?? NaN;
    if (!(t <= newest)) newest = t;
    if (!(t >= oldest)) oldest = t;
  }
  return { oldest, newest };
}

/**
 * Waits `ms` milliseconds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sleep } from "./world.ts";
 * assert.equal(await sleep(1), undefined);
 * ```
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
