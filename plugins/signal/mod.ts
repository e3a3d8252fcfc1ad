/**
 * `signal`: sends a Unix signal (default `SIGHUP`) to the application after every change set that
 * changed files — for programs that reload their configuration on a signal (nginx, prometheus,
 * haproxy, many daemons).
 *
 * Give exactly one of:
 *
 * - `pidFile`: a file holding the process id, read (and trimmed) on every call, so a restarted
 *   application is found again;
 * - `processName`: every process whose `/proc/<pid>/comm` equals it, or whose `argv[0]` (first
 *   field of `/proc/<pid>/cmdline`) has it as base name, gets the signal. `comm` is cut to 15
 *   characters by the kernel, so longer names match through `argv[0]` only. The sidecar itself is
 *   never signalled.
 *
 * In Kubernetes the sidecar sees the application's processes only with
 * `shareProcessNamespace: true` in the pod spec (or a shared pid file volume for `pidFile`), and
 * may signal them only when running as the same user or with the `KILL` capability.
 *
 * No process found, an unreadable or half-written pid file, or a pid that is not running is
 * retryable (the application may be starting); a signal the system refuses (permissions) is not.
 * Retries: `retries` (default 3) with `backoffMs` (default 1000) doubling, capped at 30 s.
 *
 * @example
 * ```yaml
 * notifiers:
 *   - use: signal
 *     options: { processName: nginx, signal: SIGHUP }
 * ```
 *
 * @module
 */
import { basename } from "../../src/util/posix_path.ts";
import {
  defineNotifier,
  type Notifier,
  type NotifierDefinition,
  NotifyError,
} from "../../src/plugin/mod.ts";
import * as s from "../../src/plugin/_schema.ts";

/** Every `Deno.Signal`; the type makes the compiler flag a name missing or unknown. */
const ALL_SIGNALS: Record<Deno.Signal, true> = {
  SIGABRT: true,
  SIGALRM: true,
  SIGBREAK: true,
  SIGBUS: true,
  SIGCHLD: true,
  SIGCONT: true,
  SIGEMT: true,
  SIGFPE: true,
  SIGHUP: true,
  SIGILL: true,
  SIGINFO: true,
  SIGINT: true,
  SIGIO: true,
  SIGPOLL: true,
  SIGUNUSED: true,
  SIGKILL: true,
  SIGPIPE: true,
  SIGPROF: true,
  SIGPWR: true,
  SIGQUIT: true,
  SIGSEGV: true,
  SIGSTKFLT: true,
  SIGSTOP: true,
  SIGSYS: true,
  SIGTERM: true,
  SIGTRAP: true,
  SIGTSTP: true,
  SIGTTIN: true,
  SIGTTOU: true,
  SIGURG: true,
  SIGUSR1: true,
  SIGUSR2: true,
  SIGVTALRM: true,
  SIGWINCH: true,
  SIGXCPU: true,
  SIGXFSZ: true,
};

/** `Deno.Signal` names `Deno.kill` refuses on some systems. */
const NOT_AVAILABLE: Partial<Record<typeof Deno.build.os, readonly Deno.Signal[]>> = {
  linux: ["SIGBREAK", "SIGEMT", "SIGINFO"],
  android: ["SIGBREAK", "SIGEMT", "SIGINFO"],
  darwin: ["SIGBREAK", "SIGPOLL", "SIGPWR", "SIGSTKFLT", "SIGUNUSED"],
};

/**
 * The signal names the `signal` option accepts on this system: `Deno.Signal` names minus those
 * `Deno.kill` refuses here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SIGNAL_NAMES } from "./mod.ts";
 * assert(SIGNAL_NAMES.includes("SIGHUP"));
 * ```
 */
export const SIGNAL_NAMES: readonly Deno.Signal[] = (Object.keys(ALL_SIGNALS) as Deno.Signal[])
  .filter((sig) => !(NOT_AVAILABLE[Deno.build.os] ?? []).includes(sig));

const schema = s.object({
  signal: s.enum(
    Object.keys(ALL_SIGNALS) as Deno.Signal[],
    "not a signal name (SIGHUP, SIGUSR1, SIGTERM…)",
  ).refine((sig) => SIGNAL_NAMES.includes(sig), `not available on ${Deno.build.os}`)
    .default("SIGHUP"),
  pidFile: s.string().min(1).optional(),
  processName: s.string().min(1).refine(
    (n) => !n.includes("/") && !n.includes("\0"),
    "a process name, not a path",
  ).optional(),
  retries: s.number().int().min(0).default(3),
  backoffMs: s.number().int().min(0).default(1000),
}).refine(
  (o) => (o.pidFile === undefined) !== (o.processName === undefined),
  "give exactly one of pidFile or processName",
  { path: (o) => [o.pidFile === undefined ? "pidFile" : "processName"] },
);

/**
 * Options of the `signal` notifier as written in the configuration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SignalOptions } from "./mod.ts";
 * const options: SignalOptions = { pidFile: "/run/app/app.pid", signal: "SIGUSR1" };
 * assert(options.signal === "SIGUSR1");
 * ```
 */
export type SignalOptions = s.Input<typeof schema>;

/**
 * Whether a process with `comm` (content of `/proc/<pid>/comm`) and `cmdline` (content of
 * `/proc/<pid>/cmdline`) is one `processName` names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { processMatches } from "./mod.ts";
 * const cmdline = new TextEncoder().encode("/usr/sbin/nginx\0-g\0daemon off;\0");
 * assert(processMatches("nginx", "nginx\n", cmdline));
 * assert(!processMatches("ngin", "nginx\n", cmdline));
 * ```
 */
export function processMatches(
  processName: string,
  comm: string | undefined,
  cmdline: Uint8Array | undefined,
): boolean {
  if (comm !== undefined && comm.replace(/\n$/, "") === processName) return true;
  if (cmdline === undefined || cmdline.length === 0) return false;
  const end = cmdline.indexOf(0);
  const argv0 = new TextDecoder().decode(end < 0 ? cmdline : cmdline.subarray(0, end));
  return argv0 !== "" && basename(argv0) === processName;
}

async function readOrUndefined<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch {
    // The process exited meanwhile, or is not ours to inspect.
    return undefined;
  }
}

/** Pids of the processes `processName` names, in increasing order; never the sidecar's own. */
async function findProcesses(processName: string): Promise<number[]> {
  const pids: number[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir("/proc"));
  } catch (e) {
    throw new NotifyError(
      `processName needs /proc (Linux): ${e instanceof Error ? e.message : e}`,
      {
        retryable: false,
      },
    );
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry.name)) continue;
    const pid = Number(entry.name);
    if (pid === Deno.pid) continue;
    const comm = await readOrUndefined(() => Deno.readTextFile(`/proc/${pid}/comm`));
    const cmdline = comm?.replace(/\n$/, "") === processName
      ? undefined
      : await readOrUndefined(() => Deno.readFile(`/proc/${pid}/cmdline`));
    if (processMatches(processName, comm, cmdline)) pids.push(pid);
  }
  return pids.sort((a, b) => a - b);
}

async function readPidFile(path: string): Promise<number> {
  let text: string;
  try {
    text = (await Deno.readTextFile(path)).trim();
  } catch (e) {
    throw new NotifyError(`cannot read pidFile ${path}: ${e instanceof Error ? e.name : e}`, {
      retryable: true,
    });
  }
  // Anything else (empty, half-written) may be the application writing it right now.
  if (!/^[0-9]{1,10}$/.test(text) || Number(text) < 1) {
    throw new NotifyError(`pidFile ${path} does not hold a process id`, { retryable: true });
  }
  const pid = Number(text);
  if (pid === Deno.pid) {
    throw new NotifyError(`pidFile ${path} names the sidecar itself (pid ${pid})`, {
      retryable: false,
    });
  }
  return pid;
}

/**
 * The `signal` notifier definition.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import signal from "./mod.ts";
 * import { changeSetOf, startNotifier } from "../../src/testing/mod.ts";
 * const app = new Deno.Command("sleep", { args: ["30"] }).spawn();
 * const pidFile = await Deno.makeTempFile();
 * await Deno.writeTextFile(pidFile, `${app.pid}\n`);
 * await using n = await startNotifier(signal, { pidFile, signal: "SIGTERM" });
 * await n.notify(changeSetOf([]), { written: ["/config/nginx.conf"], removed: [], rejected: [] });
 * assert.equal((await app.status).signal, "SIGTERM");
 * await Deno.remove(pidFile);
 * ```
 */
const signalNotifier: NotifierDefinition<s.Infer<typeof schema>> = defineNotifier({
  name: "signal",
  version: "1.0.0",
  options: schema,
  create(options, ctx): Notifier {
    const target = options.pidFile !== undefined
      ? `pidFile ${options.pidFile}`
      : `processName ${JSON.stringify(options.processName)}`;
    return {
      retry: { retries: options.retries, backoffMs: options.backoffMs, maxDelayMs: 30_000 },
      async notify(changeSet) {
        const pids = options.pidFile !== undefined
          ? [await readPidFile(options.pidFile)]
          : await findProcesses(options.processName ?? "");
        if (pids.length === 0) {
          throw new NotifyError(`no process matches ${target}`, { retryable: true });
        }
        const sent: number[] = [];
        const gone: number[] = [];
        const refused: string[] = [];
        for (const pid of pids) {
          try {
            Deno.kill(pid, options.signal);
            sent.push(pid);
          } catch (e) {
            if (e instanceof Deno.errors.NotFound) gone.push(pid);
            else refused.push(`${pid} (${e instanceof Error ? e.message : e})`);
          }
        }
        const fields = { signal: options.signal, target, seq: changeSet.seq };
        if (sent.length > 0) ctx.logger.info("signal sent", { ...fields, pids: sent });
        if (refused.length > 0) {
          throw new NotifyError(
            `cannot send ${options.signal} to ${refused.join(", ")} for ${target}` +
              (sent.length > 0 ? `; sent to ${sent.join(", ")}` : ""),
            { retryable: false },
          );
        }
        if (sent.length === 0) {
          throw new NotifyError(
            `no process of ${target} is running (gone: ${gone.join(", ")})`,
            { retryable: true },
          );
        }
      },
    };
  },
});
export default signalNotifier;
