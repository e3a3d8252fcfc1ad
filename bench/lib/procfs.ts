/**
 * What `/proc` says about a process: resident memory, CPU time, and where the memory lies.
 *
 * @module
 */

/** Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`; 100 on Linux). */
const CLK_TCK = 100;

/** Memory of a process in MiB. */
export interface Rss {
  /** VmRSS: resident now. */
  rss: number;
  /** VmHWM: the peak of VmRSS. */
  hwm: number;
}

/**
 * VmRSS and VmHWM of `pid` in MiB.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rss } from "./procfs.ts";
 * assert(rss(Deno.pid).rss > 10);
 * ```
 */
export function rss(pid: number): Rss {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const field = (name: string) =>
    Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"))?.[1] ?? NaN) / 1024;
  return { rss: field("VmRSS"), hwm: field("VmHWM") };
}

/**
 * CPU seconds `pid` has used so far (utime + stime; children not included).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cpuSeconds } from "./procfs.ts";
 * assert(cpuSeconds(Deno.pid) > 0);
 * ```
 */
export function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(rest[11]), stime = Number(rest[12]);
  return (utime + stime) / CLK_TCK;
}

/**
 * Threads of `pid` now.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { threads } from "./procfs.ts";
 * assert(threads(Deno.pid) >= 1);
 * ```
 */
export function threads(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(status.match(/^Threads:\s+(\d+)/m)?.[1] ?? NaN);
}

/** Resident memory of `pid` by kind of mapping, in MiB. */
export interface MemoryBreakdown {
  /** Everything resident (smaps_rollup `Rss`). */
  rss: number;
  /** Anonymous memory (smaps_rollup `Anonymous`): heaps, V8, thread stacks. */
  anon: number;
  /** Resident pages of files (the `deno` binary's code and data, libraries). */
  file: number;
  /** `[heap]`: glibc's main arena (brk). */
  brk: number;
  /**
   * Anonymous mappings inside a 64 MiB-aligned reservation of at most 64 MiB: glibc's per-thread
   * malloc arenas (`HEAP_MAX_SIZE` on 64-bit).
   */
  arenas: number;
  /** Anonymous executable mappings: V8's code space (JIT-compiled code). */
  jitCode: number;
  /** The other anonymous mappings: V8's heap pages, thread stacks, large mallocs. */
  otherAnon: number;
  /** Resident pages of the `deno` executable itself. */
  binary: number;
}

/** One mapping of `/proc/<pid>/smaps`. */
export interface Mapping {
  start: number;
  end: number;
  perms: string;
  /** Offset in the mapped file (0 for anonymous memory). */
  offset: number;
  /** Path or pseudo-name (`[heap]`, `[stack]`), empty for anonymous memory. */
  name: string;
  /** Resident KiB. */
  rssKiB: number;
}

/**
 * The mappings of `/proc/<pid>/smaps`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mappings } from "./procfs.ts";
 * assert(mappings(Deno.pid).some((m) => m.name === "[stack]"));
 * ```
 */
export function mappings(pid: number): Mapping[] {
  return parseSmaps(Deno.readTextFileSync(`/proc/${pid}/smaps`));
}

/**
 * Parses the text of an `smaps` file into its mappings.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSmaps } from "./procfs.ts";
 * const [m] = parseSmaps("7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \nRss: 132 kB\n");
 * assert(m!.rssKiB === 132 && m!.name === "");
 * ```
 */
export function parseSmaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  let current: Mapping | undefined;
  for (const line of text.split("\n")) {
    const head = line.match(/^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ \S+\s*(.*)$/);
    if (head) {
      current = {
        start: parseInt(head[1]!, 16),
        end: parseInt(head[2]!, 16),
        perms: head[3]!,
        offset: parseInt(head[4]!, 16),
        name: head[5]!.trim(),
        rssKiB: 0,
      };
      out.push(current);
    } else if (current && line.startsWith("Rss:")) {
      current.rssKiB = Number(line.match(/(\d+)/)?.[1] ?? 0);
    }
  }
  return out;
}

const ARENA = 64 * 1024 * 1024;

/**
 * Where the resident memory of `pid` lies: file-backed, brk heap, glibc thread arenas, other
 * anonymous memory (V8 and the rest).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { memoryBreakdown } from "./procfs.ts";
 * const m = memoryBreakdown(Deno.pid);
 * assert(Math.abs(m.anon + m.file - m.rss) < 1);
 * ```
 */
export function memoryBreakdown(pid: number): MemoryBreakdown {
  return breakdownOf(mappings(pid), Deno.readLinkSync(`/proc/${pid}/exe`));
}

/**
 * {@linkcode memoryBreakdown} of parsed mappings; `exe` is the path of the program's binary.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { breakdownOf, parseSmaps } from "./procfs.ts";
 * const maps = parseSmaps("7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \nRss: 132 kB\n");
 * assert(breakdownOf(maps, "/bin/deno").arenas * 1024 === 132);
 * ```
 */
export function breakdownOf(maps: Mapping[], exe: string): MemoryBreakdown {
  let anon = 0, file = 0, brk = 0, arenas = 0, binary = 0, jit = 0;
  // A glibc arena is one 64 MiB-aligned reservation: a read-write part followed by `---p` rest.
  const arenaStarts = new Set<number>();
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i]!;
    if (m.name !== "" || m.start % ARENA !== 0) continue;
    let end = m.end;
    for (let j = i + 1; j < maps.length && maps[j]!.start === end && maps[j]!.name === ""; j++) {
      end = maps[j]!.end;
      if (maps[j]!.perms.startsWith("---")) break;
    }
    if (end - m.start <= ARENA) arenaStarts.add(m.start);
  }
  let arenaBase = -1;
  for (const m of maps) {
    const kib = m.rssKiB;
    if (m.name === "" || m.name === "[heap]" || m.name.startsWith("[stack")) {
      anon += kib;
      if (m.name === "[heap]") brk += kib;
      if (m.name === "" && m.perms.includes("x")) jit += kib;
      if (arenaStarts.has(m.start)) arenaBase = m.start;
      if (m.name === "" && arenaBase >= 0 && m.start < arenaBase + ARENA) arenas += kib;
      else arenaBase = -1;
    } else if (!m.name.startsWith("[")) {
      file += kib;
      if (m.name === exe) binary += kib;
    }
  }
  const mib = (k: number) => k / 1024;
  return {
    rss: mib(anon + file),
    anon: mib(anon),
    file: mib(file),
    brk: mib(brk),
    arenas: mib(arenas),
    jitCode: mib(jit),
    otherAnon: mib(anon - brk - arenas - jit),
    binary: mib(binary),
  };
}

/**
 * VmRSS in MiB of a bare `deno eval` that only waits, 2 s after it started: the floor any Deno
 * program here starts from.
 *
 * @example
 * ```ts ignore
 * import { bareDenoRss } from "./procfs.ts";
 * console.log(await bareDenoRss()); // ≈ 40
 * ```
 */
export async function bareDenoRss(): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "await new Promise((r) => setTimeout(r, 600_000));"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await new Promise((r) => setTimeout(r, 2000));
    return rss(child.pid).rss;
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
}
