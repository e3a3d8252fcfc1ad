import assert from "node:assert/strict";
import { join } from "node:path";
import type { ChangeSet, WriteResult } from "../../src/model.ts";
import { type Notifier, NotifyError } from "../../src/plugin/contract.ts";
import { startNotifier } from "../../src/testing/mod.ts";
import signal, { processMatches, type SignalOptions } from "./mod.ts";

const changeSet: ChangeSet = { seq: 3, initial: false, changes: [] };
const result: WriteResult = { written: ["/config/a.conf"], removed: [], rejected: [] };

async function make(options: SignalOptions | Record<string, unknown>) {
  const n = await startNotifier(signal, options);
  return { notifier: n.notifier, rec: n };
}

async function notifyError(notifier: Notifier): Promise<NotifyError> {
  try {
    await notifier.notify(changeSet, result);
  } catch (e) {
    assert.ok(e instanceof NotifyError, `expected NotifyError, got ${e}`);
    return e;
  }
  assert.fail("notify() succeeded");
}

/** A unique name, so that concurrent test runs never signal each other's processes. */
function uniqueName(prefix: string): string {
  return `${prefix}${crypto.randomUUID().slice(0, 8)}`;
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function readOr(path: string): Promise<string> {
  return await Deno.readTextFile(path).catch(() => "");
}

/**
 * Spawned processes, all killed (and reaped) at the end of a test. `sh` traps `signal` and appends
 * `got` to its output file; it writes `ready` once the trap is set.
 */
class Processes {
  readonly children: Deno.ChildProcess[] = [];
  constructor(readonly dir: string) {}

  spawn(cmd: string, args: string[], env: Record<string, string> = {}): Deno.ChildProcess {
    const child = new Deno.Command(cmd, {
      args,
      env,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.children.push(child);
    return child;
  }

  async trap(
    out: string,
    opts: { shell?: string; signal?: string } = {},
  ): Promise<Deno.ChildProcess> {
    const name = (opts.signal ?? "SIGHUP").replace(/^SIG/, "");
    const child = this.spawn(opts.shell ?? "/bin/sh", [
      "-c",
      `trap 'echo got >> "$F"' ${name}; echo ready > "$F"; while :; do sleep 0.1; done`,
    ], { F: out, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" });
    await waitFor(`${out} ready`, async () => (await readOr(out)).startsWith("ready"));
    return child;
  }

  /** A copy of `bin` under `name` in the temp dir, so that processName can match only ours. */
  async copy(bin: string, name: string): Promise<string> {
    const path = join(this.dir, name);
    await Deno.copyFile(bin, path);
    await Deno.chmod(path, 0o755);
    return path;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const child of this.children) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await child.status;
    }
    await Deno.remove(this.dir, { recursive: true });
  }
}

async function processes(): Promise<Processes> {
  return new Processes(await Deno.makeTempDir({ prefix: "gsidecar-signal-test-" }));
}

Deno.test("signal notifier sends SIGHUP to the pid in pidFile, re-read on every call", async () => {
  await using procs = await processes();
  const outA = join(procs.dir, "a.out");
  const outB = join(procs.dir, "b.out");
  const a = await procs.trap(outA);
  const b = await procs.trap(outB);
  const pidFile = join(procs.dir, "app.pid");
  await Deno.writeTextFile(pidFile, `${a.pid}\n`);
  const { notifier, rec } = await make({ pidFile });
  await notifier.notify(changeSet, result);
  await waitFor("a got SIGHUP", async () => (await readOr(outA)).includes("got"));
  // The application restarted with another pid.
  await Deno.writeTextFile(pidFile, ` ${b.pid} `);
  await notifier.notify(changeSet, result);
  await waitFor("b got SIGHUP", async () => (await readOr(outB)).includes("got"));
  assert.equal(await readOr(outA), "ready\ngot\n");
  assert.match(rec.text(), new RegExp(`signal sent .*"signal":"SIGHUP".*"pids":\\[${b.pid}\\]`));
});

Deno.test("signal notifier sends the configured signal", async () => {
  await using procs = await processes();
  const out = join(procs.dir, "usr1.out");
  const child = await procs.trap(out, { signal: "SIGUSR1" });
  const pidFile = join(procs.dir, "app.pid");
  await Deno.writeTextFile(pidFile, String(child.pid));
  const { notifier } = await make({ pidFile, signal: "SIGUSR1" });
  await notifier.notify(changeSet, result);
  await waitFor("SIGUSR1 trapped", async () => (await readOr(out)).includes("got"));
});

Deno.test("signal notifier signals every process whose argv[0] base name is processName, and no other", async () => {
  await using procs = await processes();
  // Longer than the 15 characters of /proc/<pid>/comm: only argv[0] can match.
  const name = uniqueName("gsidecar-test-target-");
  const bin = await procs.copy("/bin/sleep", name);
  const first = procs.spawn(bin, ["30"]);
  const second = procs.spawn(bin, ["30"]);
  const bystander = procs.spawn("sleep", ["30"]);
  await waitFor("targets started", async () => {
    const cmdlines = await Promise.all(
      [first, second].map((c) => Deno.readTextFile(`/proc/${c.pid}/cmdline`).catch(() => "")),
    );
    return cmdlines.every((c) => c.startsWith(bin));
  });
  const { notifier, rec } = await make({ processName: name });
  await notifier.notify(changeSet, result);
  assert.equal((await first.status).signal, "SIGHUP");
  assert.equal((await second.status).signal, "SIGHUP");
  const [lo, hi] = [first.pid, second.pid].sort((x, y) => x - y);
  assert.match(rec.text(), new RegExp(`"pids":\\[${lo},${hi}\\]`));
  // The plain sleep was not touched.
  await new Promise((r) => setTimeout(r, 100));
  const stillRunning = await Promise.race([
    bystander.status.then(() => false),
    new Promise<boolean>((r) => setTimeout(() => r(true), 50)),
  ]);
  assert.ok(stillRunning, "a process of another name was signalled");
});

Deno.test("signal notifier matches processName against /proc/<pid>/comm", async () => {
  await using procs = await processes();
  // A copy of sh under a short unique name: comm and argv[0] both name it.
  const name = uniqueName("gsd-");
  const shell = await procs.copy("/bin/sh", name);
  const out = join(procs.dir, "sh.out");
  const child = await procs.trap(out, { shell });
  assert.equal((await Deno.readTextFile(`/proc/${child.pid}/comm`)).trim(), name);
  const { notifier } = await make({ processName: name });
  await notifier.notify(changeSet, result);
  await waitFor("trap ran", async () => (await readOr(out)).includes("got"));
  // Unit-level: comm alone, argv[0] alone, and neither.
  const enc = new TextEncoder();
  assert.ok(processMatches("app", "app\n", enc.encode("/usr/bin/python3\0app.py\0")));
  assert.ok(processMatches("app", "app-worker\n", enc.encode("/opt/app\0--x\0")));
  assert.ok(!processMatches("app", "python3\n", enc.encode("python3\0/opt/app\0")));
  assert.ok(!processMatches("app", undefined, new Uint8Array()));
});

Deno.test("signal notifier reports no matching process as a retryable NotifyError", async () => {
  const { notifier } = await make({ processName: uniqueName("gsidecar-none-") });
  const error = await notifyError(notifier);
  assert.equal(error.retryable, true);
  assert.match(error.message, /no process matches processName "gsidecar-none-/);
});

Deno.test("signal notifier treats a missing, garbled or stale pid file as retryable", async () => {
  await using procs = await processes();
  const pidFile = join(procs.dir, "app.pid");
  const { notifier } = await make({ pidFile });
  const missing = await notifyError(notifier);
  assert.equal(missing.retryable, true);
  assert.match(missing.message, /cannot read pidFile .*app\.pid: NotFound/);
  for (const text of ["", "12ab", "-1", "0"]) {
    await Deno.writeTextFile(pidFile, text);
    const garbled = await notifyError(notifier);
    assert.equal(garbled.retryable, true, JSON.stringify(text));
    assert.match(garbled.message, /does not hold a process id/);
  }
  const done = procs.spawn("true", []);
  await done.status;
  await Deno.writeTextFile(pidFile, String(done.pid));
  const stale = await notifyError(notifier);
  assert.equal(stale.retryable, true);
  assert.match(
    stale.message,
    new RegExp(`no process of pidFile .* is running \\(gone: ${done.pid}`),
  );
  await Deno.writeTextFile(pidFile, String(Deno.pid));
  assert.equal((await notifyError(notifier)).retryable, false, "never signals itself");
});

Deno.test("signal notifier options default to SIGHUP and refuse bad fields by name", async () => {
  const { notifier } = await make({ pidFile: "/run/app.pid" });
  assert.deepEqual(notifier.retry, { retries: 3, backoffMs: 1000, maxDelayMs: 30_000 });
  await assert.rejects(make({}), /signal#0 "signal": invalid options: pidFile: give exactly one/);
  await assert.rejects(
    make({ pidFile: "/p", processName: "x" }),
    /invalid options: processName: give exactly one of pidFile or processName/,
  );
  await assert.rejects(make({ pidFile: "/p", signal: "HUP" }), /invalid options: signal: /);
  await assert.rejects(make({ pidFile: "/p", signal: "SIGFOO" }), /signal: not a signal name/);
  if (Deno.build.os === "linux") {
    await assert.rejects(make({ pidFile: "/p", signal: "SIGINFO" }), /signal: not available/);
  }
  await assert.rejects(make({ processName: "/usr/bin/app" }), /processName: a process name/);
  await assert.rejects(make({ pidFile: "/p", pidfile: "/q" }), /invalid options: .*pidfile/);
});
