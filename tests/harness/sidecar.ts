/**
 * Runs the sidecar as its own process, the way a pod would: pod-style service-account files,
 * `KUBERNETES_SERVICE_HOST`/`PORT`, and only the environment it is given.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import type { Cluster, PodEnvironment } from "./cluster.ts";
import { denoEnv, MAIN } from "./deno_child.ts";
import type { ManagedProcess } from "./process.ts";
import {
  type ReceivedRequest,
  type Receiver as KitReceiver,
  receiver,
} from "../../src/testing/mod.ts";

/**
 * Bundles `main.ts` with `deno task bundle`'s script into `outdir` and returns the entry file: the
 * shipped program, for tests and benchmarks where `deno compile` (which needs denort) cannot run.
 */
export async function bundleSidecar(outdir: string): Promise<string> {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", "scripts/bundle.ts", outdir],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`deno task bundle failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return `${outdir}/main.js`;
}

/**
 * Starts `main.ts` (or another `entry`, e.g. the bundle) with `env` on top of the pod environment;
 * `denoArgs` go to `deno run` (e.g. `--inspect=…`, for diagnostics).
 */
export function startSidecar(
  cluster: Cluster,
  pod: PodEnvironment,
  env: Record<string, string>,
  name = "sidecar",
  entry = MAIN,
  denoArgs: readonly string[] = [],
): ManagedProcess {
  const args = ["run", "--allow-all", "--quiet", ...denoArgs, entry];
  const all: Record<string, string> = {
    ...denoEnv(),
    LOG_LEVEL: "DEBUG",
    HEALTH_PORT: "0",
    ...pod.env,
    ...env,
  };
  // Deno refuses an empty DENO_V8_FLAGS: "" is how a caller asks for none.
  if (all.DENO_V8_FLAGS === "") delete all.DENO_V8_FLAGS;
  return cluster.processes.spawn(name, Deno.execPath(), args, { clearEnv: true, env: all });
}

/** Runs `main.ts` to completion (sleep mode, bad configuration) and returns code and output. */
export async function runSidecarToEnd(
  pod: PodEnvironment | undefined,
  env: Record<string, string>,
  entry = MAIN,
): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", entry],
    clearEnv: true,
    env: { ...denoEnv(), HEALTH_PORT: "0", ...(pod?.env ?? {}), ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/**
 * Polls `check` until it returns without throwing, or fails with its last error after `timeoutMs`.
 * Not a timing assertion: the deadline only bounds how long a broken build takes to fail.
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  opts: { timeoutMs?: number; what?: string; proc?: ManagedProcess } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await check();
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const tail = opts.proc
    ? `\n--- ${opts.proc.name} output (tail) ---\n${opts.proc.output.slice(-6000)}`
    : "";
  throw new Error(
    `${opts.what ?? "condition"} not reached: ${
      last instanceof Error ? last.message : last
    }${tail}`,
  );
}

/**
 * The application's reload endpoint: the kit's {@linkcode receiver}, with a status a test may
 * change while it runs and a port it may reopen on (an endpoint that comes back).
 */
export class Receiver implements AsyncDisposable {
  /** Status to answer with; a test may change it. */
  status = 200;
  readonly #inner: KitReceiver;

  /** Listens on 127.0.0.1 (a free port unless `port` is given). */
  constructor(port = 0) {
    this.#inner = receiver(() => new Response("ok", { status: this.status }), { port });
  }

  /** Every request so far, oldest first. */
  get requests(): ReceivedRequest[] {
    return this.#inner.received;
  }

  /** `http://127.0.0.1:PORT`. */
  get url(): string {
    return this.#inner.url;
  }

  /** The port it listens on. */
  get port(): number {
    return this.#inner.server.addr.port;
  }

  /** Stops listening. */
  close(): Promise<void> {
    return this.#inner.server.shutdown();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
