/**
 * Child processes for tests that never outlive the test run: each one is registered with a
 * watchdog shell that kills it when the Deno process that started it goes away, even on a
 * crash or SIGKILL where no `finally` runs.
 *
 * @module
 */

/** A started child with its captured output. */
export class ManagedProcess {
  readonly name: string;
  readonly child: Deno.ChildProcess;
  /** stdout and stderr interleaved, as text, for failure messages. */
  output = "";
  readonly #done: Promise<Deno.CommandStatus>;
  #pumps: Promise<void>[] = [];

  constructor(name: string, child: Deno.ChildProcess, echo: boolean) {
    this.name = name;
    this.child = child;
    const pump = async (stream: ReadableStream<Uint8Array>, sink: typeof Deno.stderr) => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        this.output += chunk;
        if (this.output.length > 4_000_000) this.output = this.output.slice(-2_000_000);
        if (echo) await sink.write(new TextEncoder().encode(chunk));
      }
    };
    this.#pumps.push(pump(child.stdout, Deno.stdout), pump(child.stderr, Deno.stderr));
    this.#done = child.status;
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Resolves with the exit status and all output once the process ended. */
  async wait(): Promise<Deno.CommandStatus> {
    const status = await this.#done;
    await Promise.allSettled(this.#pumps);
    return status;
  }

  /** Sends `signal`; ignores a process that already ended. */
  signal(signal: Deno.Signal): void {
    try {
      this.child.kill(signal);
    } catch {
      // already gone
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  async stop(graceMs = 5000): Promise<Deno.CommandStatus> {
    this.signal("SIGCONT"); // a test may have frozen it with SIGSTOP
    this.signal("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.signal("SIGKILL");
        resolve();
      }, graceMs);
    });
    const status = await Promise.race([this.wait(), killed.then(() => this.wait())]);
    clearTimeout(timer);
    return status;
  }
}

const WATCHDOG = `
parent="$1"; list="$2"
while kill -0 "$parent" 2>/dev/null; do sleep 1; done
[ -f "$list" ] && while read -r pid dir; do
  kill -CONT "$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null
  [ -n "$dir" ] && rm -rf "$dir"
done < "$list"
rm -f "$list"
`;

/**
 * Spawns processes and guarantees their end: `stopAll()` for the orderly path, a watchdog shell
 * for the case where this process dies first.
 */
export class ProcessGroup {
  readonly #list: string;
  readonly #watchdog: Deno.ChildProcess;
  readonly #procs: ManagedProcess[] = [];

  constructor() {
    this.#list = Deno.makeTempFileSync({ prefix: "gsidecar-pids-" });
    this.#watchdog = new Deno.Command("sh", {
      args: ["-c", WATCHDOG, "watchdog", String(Deno.pid), this.#list],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#watchdog.unref();
  }

  /**
   * Starts `cmd`; `cleanupDir` is removed by the watchdog if this process dies without cleaning up.
   */
  spawn(
    name: string,
    cmd: string,
    args: string[],
    opts: {
      env?: Record<string, string>;
      clearEnv?: boolean;
      cwd?: string;
      cleanupDir?: string;
      echo?: boolean;
    } = {},
  ): ManagedProcess {
    const options: Deno.CommandOptions = {
      args,
      clearEnv: opts.clearEnv ?? false,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    };
    if (opts.env) options.env = opts.env;
    if (opts.cwd) options.cwd = opts.cwd;
    const child = new Deno.Command(cmd, options).spawn();
    Deno.writeTextFileSync(this.#list, `${child.pid} ${opts.cleanupDir ?? ""}\n`, { append: true });
    const proc = new ManagedProcess(name, child, opts.echo ?? false);
    this.#procs.push(proc);
    return proc;
  }

  /** Stops every process still running, newest first, then the watchdog. */
  async stopAll(): Promise<void> {
    for (const p of [...this.#procs].reverse()) await p.stop();
    this.#watchdog.ref(); // unref'd while idle; awaiting it needs the loop to wait
    try {
      this.#watchdog.kill("SIGKILL");
    } catch {
      // already gone
    }
    await this.#watchdog.status;
    await Deno.remove(this.#list).catch(() => {});
  }
}
