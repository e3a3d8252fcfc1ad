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
import { SHIPPED_V8_FLAGS as SHIPPED } from "../../tests/harness/deno_child.ts";
import { objectData } from "./objects.ts";

export { jsonPayload, objectData } from "./objects.ts";

/** The label the sidecar selects on. */
export const LABEL = "gsidecar-bench";

/**
 * V8 flags of every sidecar a benchmark starts: those of the shipped program (deno.json's compile
 * task) unless `BENCH_V8_FLAGS` replaces them (empty for none).
 */
export const SHIPPED_V8_FLAGS: string = Deno.env.get("BENCH_V8_FLAGS") ?? SHIPPED;

/**
 * `BENCH_ENV="NAME=VALUE …"`: variables every sidecar a benchmark starts gets on top of the shipped
 * environment, e.g. `BENCH_ENV=GLIBC_TUNABLES=` to run without the image's glibc setting.
 */
const BENCH_ENV: Record<string, string> = Object.fromEntries(
  (Deno.env.get("BENCH_ENV") ?? "").split(/\s+/).filter(Boolean).map((kv) => {
    const at = kv.indexOf("=");
    if (at < 1) throw new Error(`BENCH_ENV: ${JSON.stringify(kv)} is not NAME=VALUE`);
    return [kv.slice(0, at), kv.slice(at + 1)];
  }),
);

/** A sidecar process and the folder(s) it keeps. */
export interface BenchSidecar {
  proc: ManagedProcess;
  /** Its (first) folder. */
  folder: string;
  /** Every folder it keeps (one per sync). */
  folders: string[];
  /** `Date.now()` just before the process was spawned. */
  startedAt: number;
  /** `performance.now()` just before the process was spawned. */
  startedPerf: number;
  /** Base URL of its health server, once it listens. */
  healthUrl(): Promise<string>;
  /** Its `/metrics`, parsed: `name{labels}` → value. */
  metrics(): Promise<Map<string, number>>;
  /** Resolves once `count` files (not dotfiles) are in its folders; fails if the process exits. */
  waitFiles(count: number, opts?: { timeoutMs?: number; pollMs?: number }): Promise<void>;
  /** Resolves once `/readyz` answers 200 (polled every `pollMs`); fails if the process exits. */
  waitReady(pollMs?: number): Promise<void>;
}

/** What the sidecar says of its own memory in `/metrics`, in MiB. */
export interface HeapMetrics {
  /** `process_resident_memory_bytes`. */
  rss: number;
  /** `gsidecar_js_heap_used_bytes`: V8 heap in use (live and not yet collected). */
  heapUsed: number;
  /** `gsidecar_js_heap_total_bytes`: V8 heap reserved. */
  heapTotal: number;
  /** `gsidecar_js_external_bytes`: memory outside the V8 heap held by JavaScript objects. */
  external: number;
}

/**
 * The memory figures of a parsed `/metrics`, in MiB (NaN where the sidecar does not have them).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { heapMetrics, parseMetrics } from "./world.ts";
 * const m = heapMetrics(parseMetrics("gsidecar_js_heap_used_bytes 2097152\n"));
 * assert(m.heapUsed === 2 && Number.isNaN(m.external));
 * ```
 */
export function heapMetrics(metrics: Map<string, number>): HeapMetrics {
  const mib = (name: string) => (metrics.get(name) ?? NaN) / 1024 / 1024;
  return {
    rss: mib("process_resident_memory_bytes"),
    heapUsed: mib("gsidecar_js_heap_used_bytes"),
    heapTotal: mib("gsidecar_js_heap_total_bytes"),
    external: mib("gsidecar_js_external_bytes"),
  };
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
  /** More arguments of `deno run` (e.g. `--inspect=…`), for diagnostics. */
  denoArgs?: string[];
  /** Directory to make the folder in (default: the cluster's data directory, on disk). */
  folderIn?: string;
}

/** Options of {@linkcode World.spawn}. */
export interface SpawnOptions {
  /** Process name in error messages. */
  name: string;
  /** The whole environment of the sidecar (beside the pod's and `DENO_V8_FLAGS`). */
  env: Record<string, string>;
  /** The folders it keeps, for {@linkcode BenchSidecar.waitFiles}. */
  folders: string[];
  /** `DENO_V8_FLAGS`; {@linkcode SHIPPED_V8_FLAGS} by default, "" for none. */
  v8Flags?: string;
  /** Program to run instead of `main.ts`. */
  entry?: string;
  /** More arguments of `deno run` (e.g. `--inspect=…`), for diagnostics. */
  denoArgs?: string[];
}

/** Options of {@linkcode World.createObjects}. */
export interface CreateOptions {
  /** Label key set to "1" ({@linkcode LABEL} by default). */
  label?: string;
  /** Name prefix: objects are `<prefix><i>` (`cm-` by default). */
  prefix?: string;
  /** Data of object `i` ({@linkcode objectData} at version 0 by default). */
  data?: (i: number) => Record<string, string>;
  /** Requests in flight at once (32 by default). */
  concurrency?: number;
}

/** The control plane with one namespace of bench objects and a reader service account. */
export class World implements AsyncDisposable {
  readonly cluster: Cluster;
  readonly namespace: string;
  readonly sa: ServiceAccountToken;
  readonly pod: PodEnvironment;
  /** Folders made outside the cluster's data directory, removed on dispose. */
  readonly #outside: string[] = [];

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

  /**
   * Creates labelled objects `cm-<from>` … `cm-<to - 1>` at version 0, 32 at a time (other labels,
   * names and data through `opts`).
   */
  async createObjects(from: number, to: number, opts: CreateOptions = {}): Promise<void> {
    const { label = LABEL, prefix = "cm-", data = (i) => objectData(i, 0), concurrency = 32 } =
      opts;
    let next = from;
    const worker = async () => {
      for (let i = next++; i < to; i = next++) {
        await this.cluster.admin.create(this.path(), {
          metadata: { name: `${prefix}${i}`, labels: { [label]: "1" } },
          data: data(i),
        });
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  /**
   * A new empty folder under the cluster's data directory, or under `parent` (removed with the
   * world).
   */
  async folder(prefix = "out-", parent?: string): Promise<string> {
    if (parent === undefined) return Deno.makeTempDir({ dir: this.cluster.dataDir, prefix });
    const dir = await Deno.makeTempDir({ dir: parent, prefix: `gsidecar-bench-${prefix}` });
    this.#outside.push(dir);
    return dir;
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
    const folder = await this.folder("out-", opts.folderIn);
    return this.spawn({
      name: opts.name,
      folders: [folder],
      env: {
        FOLDER: folder,
        LABEL,
        NAMESPACE: this.namespace,
        WRITERS: "json-file,txt-file",
        LOG_LEVEL: "INFO",
        HEALTH_HOST: "127.0.0.1",
        HEALTH_PORT: "0",
        ...opts.env,
      },
      ...(opts.v8Flags !== undefined ? { v8Flags: opts.v8Flags } : {}),
      ...(opts.entry !== undefined ? { entry: opts.entry } : {}),
      ...(opts.denoArgs !== undefined ? { denoArgs: opts.denoArgs } : {}),
    });
  }

  /**
   * Starts the sidecar as its own process with the pod's token and exactly `opts.env` (plus
   * `DENO_V8_FLAGS`); the health server must listen on 127.0.0.1 (`HEALTH_HOST`, `HEALTH_PORT=0`).
   */
  spawn(opts: SpawnOptions): BenchSidecar {
    const v8 = opts.v8Flags ?? SHIPPED_V8_FLAGS;
    const env = { ...BENCH_ENV, ...opts.env, DENO_V8_FLAGS: v8 };
    const startedAt = Date.now();
    const startedPerf = performance.now();
    const proc = startSidecar(
      this.cluster,
      this.pod,
      env,
      opts.name,
      opts.entry,
      opts.denoArgs,
    );
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
    const countAll = async () => {
      let n = 0;
      for (const f of opts.folders) n += await countFiles(f);
      return n;
    };
    return {
      proc,
      folder: opts.folders[0]!,
      folders: opts.folders,
      startedAt,
      startedPerf,
      healthUrl,
      metrics: async () => parseMetrics(await (await fetch(`${await healthUrl()}/metrics`)).text()),
      waitFiles: async (count, { timeoutMs = 600_000, pollMs = 100 } = {}) => {
        const deadline = Date.now() + timeoutMs;
        let n = 0;
        while ((n = await countAll()) < count) {
          if (exited) throw failure(`exited with ${n} of ${count} files written`);
          if (Date.now() > deadline) throw failure(`${n} of ${count} files after ${timeoutMs} ms`);
          await sleep(pollMs);
        }
      },
      waitReady: async (pollMs = 50) => {
        const base = await healthUrl();
        while (true) {
          const res = await fetch(`${base}/readyz`);
          await res.body?.cancel();
          if (res.ok) return;
          if (exited) throw failure("exited before it was ready");
          await sleep(pollMs);
        }
      },
    };
  }

  /** Stops every process and removes the data. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.cluster.stop();
    for (const dir of this.#outside) await Deno.remove(dir, { recursive: true }).catch(() => {});
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
