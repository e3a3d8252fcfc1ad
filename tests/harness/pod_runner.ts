/**
 * Runs one {@linkcode PodSpec} the way a kubelet would, without a kubelet: the sidecar (this
 * project's `main.ts`) as its own process, in a private mount namespace where `/tmp`, `/opt`,
 * `/srv` and the service-account mount are the pod's own folders, with the pod's environment,
 * arguments, mounted ConfigMap/Secret keys and a freshly minted service-account token.
 *
 * Needs root (for `unshare -m` and `mount --bind`), as CI machines and containers have it.
 *
 * Two translations a shared host forces, both invisible to the sidecar's behaviour:
 * - every pod has its own network namespace in a cluster, so each one's health port (its
 *   `HEALTH_PORT`, or kiwigrid's default 8080) is mapped to a free local port;
 * - the API server is `127.0.0.1:<port>` instead of the `kubernetes` Service.
 *
 * @example
 * ```ts ignore
 * import { startPod } from "./pod_runner.ts";
 * import type { Cluster } from "./cluster.ts";
 * import type { PodSpec } from "./pod_file.ts";
 * declare const cluster: Cluster; // startCluster()
 * declare const spec: PodSpec; // readPodDir()
 * const pod = await startPod(cluster, spec, { env: { COMPAT: "kiwigrid" } });
 * await pod.ready();
 * const hello = await Deno.readTextFile(pod.hostPath("/tmp/hello.world"));
 * ```
 *
 * @module
 */
import { dirname, join } from "node:path";
import { decodeBase64 } from "../../src/util/base64.ts";
import { type Cluster, freePort } from "./cluster.ts";
import type { PodSpec } from "./pod_file.ts";
import type { ManagedProcess } from "./process.ts";
import { denoEnv, MAIN } from "./deno_child.ts";
import { eventually } from "./sidecar.ts";

/** Where the kubelet mounts the service-account token, CA and namespace. */
export const SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The pod folders that are private to each pod (the rest of the host is shared, read as-is). */
const POD_ROOTS = ["/tmp", "/opt", "/srv"] as const;

/**
 * Bind-mounts the pod's folders, then execs the sidecar. `/tmp` comes last: the pod's folders
 * live under the host's `/tmp` and would be hidden by it. The service-account folder is bound
 * onto the real path when the host has it; otherwise a private `/run` (where `/var/run` points)
 * holds only that mount, since a mount point cannot be created in a namespace without creating
 * it on the host.
 */
const MOUNT_SCRIPT = `
set -eu
root="$1"; shift
mount --bind "$root/opt" /opt
mount --bind "$root/srv" /srv
if [ -d ${SERVICE_ACCOUNT_MOUNT} ]; then
  mount --bind "$root/sa" ${SERVICE_ACCOUNT_MOUNT}
else
  mount --bind "$root/run" /run
  mount --bind "$root/sa" ${SERVICE_ACCOUNT_MOUNT}
fi
mount --bind "$root/tmp" /tmp
exec "$@"
`;

/** Options of {@linkcode startPod}. */
export interface StartPodOptions {
  /** Added to the pod's environment (e.g. `COMPAT`, the README's migration). */
  env?: Record<string, string>;
  /** Text replaced in environment values and arguments (e.g. `__DUMMY__`). */
  substitutions?: Record<string, string>;
  /** Program to run instead of `main.ts` (e.g. the bundle). */
  entry?: string;
}

/** A started pod. */
export class RunningPod {
  readonly spec: PodSpec;
  /** Host folder holding the pod's `tmp`, `opt`, `srv`, `sa`. */
  readonly root: string;
  readonly proc: ManagedProcess;
  /** Local port the pod's health port is mapped to. */
  readonly healthPort: number;
  /** The health port the pod asked for (its `HEALTH_PORT`, or 8080). */
  readonly podHealthPort: number;
  /** The environment the sidecar got, as the pod spec and options made it. */
  readonly env: Readonly<Record<string, string>>;

  /** @internal use {@linkcode startPod}. */
  constructor(init: {
    spec: PodSpec;
    root: string;
    proc: ManagedProcess;
    healthPort: number;
    podHealthPort: number;
    env: Record<string, string>;
  }) {
    this.spec = init.spec;
    this.root = init.root;
    this.proc = init.proc;
    this.healthPort = init.healthPort;
    this.podHealthPort = init.podHealthPort;
    this.env = init.env;
  }

  get name(): string {
    return this.spec.name;
  }

  /** Everything the sidecar printed so far (stdout and stderr), what `kubectl logs` shows. */
  get log(): string {
    return this.proc.output;
  }

  /** The host path of `podPath` (under `/tmp`, `/opt`, `/srv` or the service-account mount). */
  hostPath(podPath: string): string {
    return hostPathIn(this.root, podPath);
  }

  /** GET a health endpoint on `host` (IPv4 loopback by default). */
  async health(
    path: string,
    host = "127.0.0.1",
  ): Promise<{ status: number; body: string }> {
    const h = host.includes(":") ? `[${host}]` : host;
    const res = await fetch(`http://${h}:${this.healthPort}${path}`, {
      signal: AbortSignal.timeout(5000),
    });
    return { status: res.status, body: await res.text() };
  }

  /** The sum of every sample of metric `name` on `/metrics` (0 when absent). */
  async metric(name: string): Promise<number> {
    const { status, body } = await this.health("/metrics");
    if (status !== 200) throw new Error(`/metrics answered ${status}`);
    let sum = 0;
    for (const line of body.split("\n")) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
      if (m && m[1] === name) sum += Number(m[3]);
    }
    return sum;
  }

  /**
   * Waits until the sidecar has written everything it received and sent (or given up) every
   * notification (`gsidecar_sync_pending` and every `gsidecar_notification_pending` are 0).
   * Wait first for a sign that the change in question arrived (a file, a log line).
   */
  async settled(timeoutMs = 60_000): Promise<void> {
    await eventually(async () => {
      if ((await this.metric("gsidecar_sync_pending")) !== 0) throw new Error("writes pending");
      if ((await this.metric("gsidecar_notification_pending")) !== 0) {
        throw new Error("notification pending");
      }
    }, { timeoutMs, what: `${this.name} settled`, proc: this.proc });
  }

  /**
   * Waits until the pod counts as ready the way its spec says: `/readyz` 200 for a running
   * pod (the initial sync is written: a stronger sign than a started container), `/healthz` 200
   * for a pod with kiwigrid's health probe, or the process's exit for a one-shot pod.
   */
  async ready(timeoutMs = 60_000): Promise<void> {
    if (this.spec.ready === "exits") {
      await this.exited(timeoutMs);
      return;
    }
    const path = this.spec.ready === "healthz" ? "/healthz" : "/readyz";
    let exited = false;
    this.proc.wait().then(() => exited = true);
    const deadline = Date.now() + timeoutMs;
    let last = "";
    // Not `eventually`: a sidecar that exited will not become ready, so that fails at once.
    while (!exited && Date.now() < deadline) {
      try {
        const { status } = await this.health(path);
        if (status === 200) return;
        last = `${path} answered ${status}`;
      } catch (e) {
        last = String(e);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(
      `${this.name} not ready (${path} 200): ${exited ? "the sidecar exited" : last}\n` +
        `--- ${this.name} output (tail) ---\n${this.log.slice(-3000)}`,
    );
  }

  /** Waits for the process to end and returns its exit code. */
  async exited(timeoutMs = 60_000): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(`${this.name} still running after ${timeoutMs / 1000}s:\n${this.log}`),
          ),
        timeoutMs,
      );
    });
    try {
      return (await Promise.race([this.proc.wait(), timeout])).code;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Where `podPath` lives on the host for a pod whose folders are under `root`; throws for a path
 * outside the pod's private folders (which a pod here cannot have).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hostPathIn } from "./pod_runner.ts";
 * assert(hostPathIn("/tmp/pod-x", "/srv/data/a.txt") === "/tmp/pod-x/srv/data/a.txt");
 * ```
 */
export function hostPathIn(root: string, podPath: string): string {
  if (podPath === SERVICE_ACCOUNT_MOUNT || podPath.startsWith(`${SERVICE_ACCOUNT_MOUNT}/`)) {
    return join(root, "sa", podPath.slice(SERVICE_ACCOUNT_MOUNT.length));
  }
  for (const top of POD_ROOTS) {
    if (podPath === top || podPath.startsWith(`${top}/`)) {
      return join(root, top.slice(1), podPath.slice(top.length));
    }
  }
  throw new Error(
    `${podPath} is outside the pod's private folders (${
      POD_ROOTS.join(", ")
    }, ${SERVICE_ACCOUNT_MOUNT})`,
  );
}

/** The bytes of one key of a ConfigMap or Secret, as the kubelet would mount them. */
async function keyBytes(
  cluster: Cluster,
  namespace: string,
  kind: "configmap" | "secret",
  name: string,
  key: string,
): Promise<Uint8Array> {
  const plural = kind === "configmap" ? "configmaps" : "secrets";
  const obj = await cluster.admin.get<{
    data?: Record<string, string>;
    binaryData?: Record<string, string>;
  }>(`/api/v1/namespaces/${namespace}/${plural}/${name}`);
  const text = kind === "configmap" ? obj.data?.[key] : undefined;
  if (text !== undefined) return new TextEncoder().encode(text);
  const b64 = kind === "configmap" ? obj.binaryData?.[key] : obj.data?.[key];
  if (b64 === undefined) throw new Error(`${kind} ${namespace}/${name} has no key ${key}`);
  return decodeBase64(b64);
}

function replaceAll(value: string, substitutions: Record<string, string>): string {
  let out = value;
  for (const [from, to] of Object.entries(substitutions)) out = out.replaceAll(from, to);
  return out;
}

async function onPath(cmd: string, path: string): Promise<string | undefined> {
  for (const dir of path.split(":")) {
    if (!dir) continue;
    try {
      const st = await Deno.stat(join(dir, cmd));
      if (st.isFile) return join(dir, cmd);
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Creates the pod's folders and mounted files, mints its service-account token, and starts the
 * sidecar in its own mount namespace. The service account and the objects its files come from
 * must exist.
 */
export async function startPod(
  cluster: Cluster,
  spec: PodSpec,
  opts: StartPodOptions = {},
): Promise<RunningPod> {
  const program = opts.entry ?? MAIN;
  const hiddenBy = POD_ROOTS.find((r) => program.startsWith(`${r}/`));
  if (hiddenBy !== undefined) {
    // Inside the pod, the host's folder is replaced by the pod's own: the program would vanish.
    throw new Error(
      `cannot run ${program} in a pod: ${hiddenBy} is private to each pod, which hides it; ` +
        `put the checkout outside ${POD_ROOTS.join(", ")}`,
    );
  }
  const root = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: `pod-${spec.name}-` });
  await Deno.chmod(root, 0o755);
  for (const d of ["tmp", "opt", "srv", "sa", "run/secrets/kubernetes.io/serviceaccount"]) {
    await Deno.mkdir(join(root, d), { recursive: true });
  }
  await Deno.chmod(join(root, "tmp"), 0o1777);

  const token = await cluster.mintToken(spec.namespace, spec.serviceAccount);
  await Deno.writeTextFile(join(root, "sa", "token"), token);
  await Deno.writeTextFile(join(root, "sa", "ca.crt"), cluster.pki.caCert);
  await Deno.writeTextFile(join(root, "sa", "namespace"), spec.namespace);

  for (const f of spec.files) {
    const path = hostPathIn(root, f.path);
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeFile(path, await keyBytes(cluster, spec.namespace, f.kind, f.object, f.key));
    await Deno.chmod(path, f.mode); // not subject to the umask, as the kubelet's defaultMode
  }
  for (const d of spec.dirs) await Deno.mkdir(hostPathIn(root, d), { recursive: true });

  const substitutions = opts.substitutions ?? {};
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...spec.env, ...opts.env })) {
    env[k] = replaceAll(v, substitutions);
  }
  const podHealthPort = Number(env.HEALTH_PORT || "8080");
  const healthPort = freePort();
  env.HEALTH_PORT = String(healthPort);

  // The pod has its own /tmp: the host's TMPDIR would point into it.
  const base = denoEnv(["TMPDIR"]);
  // kiwigrid's image has `python`; scripts start with `#!/usr/bin/env python`. Where the host
  // only has python3, the pod gets a `python` of its own in a folder only it sees.
  if (!(await onPath("python", base.PATH ?? "")) && (await onPath("python3", base.PATH ?? ""))) {
    const bin = join(root, "srv", ".pod-bin");
    await Deno.mkdir(bin, { recursive: true });
    await Deno.symlink((await onPath("python3", base.PATH ?? ""))!, join(bin, "python"));
    base.PATH = `/srv/.pod-bin:${base.PATH}`;
  }
  const processEnv = {
    ...base,
    KUBERNETES_SERVICE_HOST: "127.0.0.1",
    KUBERNETES_SERVICE_PORT: String(cluster.port),
    ...env,
  };
  const args = spec.args.map((a) => replaceAll(a, substitutions));
  const proc = cluster.processes.spawn(
    spec.name,
    "unshare",
    [
      "-m",
      "--propagation",
      "private",
      "sh",
      "-c",
      MOUNT_SCRIPT,
      "pod",
      root,
      Deno.execPath(),
      "run",
      "--allow-all",
      "--quiet",
      program,
      ...args,
    ],
    { clearEnv: true, env: processEnv },
  );
  return new RunningPod({ spec, root, proc, healthPort, podHealthPort, env });
}
