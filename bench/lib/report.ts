/**
 * What every benchmark prints: the machine it ran on, then each figure beside its target, and an
 * exit code that says whether every target was met.
 *
 * @example
 * ```ts ignore
 * import { Report } from "./report.ts";
 * const report = new Report("latency");
 * report.figure("overhead p50", 4.2, "ms", { max: 10 });
 * await report.finish(); // prints the table; sets Deno.exitCode = 1 when a target was missed
 * ```
 *
 * @module
 */
import { controlPlaneBinaries } from "../../tests/harness/binaries.ts";

/** An upper bound a figure must not exceed. */
export interface Target {
  max: number;
}

interface Row {
  name: string;
  value: number;
  unit: string;
  target: Target | undefined;
  digits: number;
}

const encoder = new TextEncoder();

/**
 * Writes a line to stdout (benchmarks are command-line programs; `console` is linted out).
 *
 * @example
 * ```ts
 * import { print } from "./report.ts";
 * print("created 1000 ConfigMaps"); // on stdout, as is
 * ```
 */
export function print(line: string): void {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
}

/**
 * The figures of one benchmark run.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Report } from "./report.ts";
 * const report = new Report("initial sync");
 * report.figure("1000 objects: last file", 0.45, "s", { max: 0.4 }); // prints the figure at once
 * report.figure("1000 objects: list calls", 1, "");
 * assert.deepEqual(report.missed, ["1000 objects: last file"]);
 * // report.finish() then prints the machine and the table, and sets Deno.exitCode = 1.
 * ```
 */
export class Report {
  readonly #title: string;
  readonly #rows: Row[] = [];
  readonly #notes: string[] = [];

  /** Starts an empty report; {@linkcode Report.finish} prints the machine and the command line. */
  constructor(title: string) {
    this.#title = title;
  }

  /** Records one figure; with a target, a value above `target.max` fails the run. */
  figure(name: string, value: number, unit: string, target?: Target, digits = 1): void {
    this.#rows.push({ name, value, unit, target, digits });
    const shown = `${value.toFixed(digits)}${unit ? ` ${unit}` : ""}`;
    const verdict = target
      ? `  (target ≤ ${target.max}${unit ? ` ${unit}` : ""}: ${
        value <= target.max ? "met" : "MISSED"
      })`
      : "";
    print(`  ${name}: ${shown}${verdict}`);
  }

  /** A line printed under the table (what a figure means, what ran meanwhile…). */
  note(text: string): void {
    this.#notes.push(text);
    print(`  note: ${text}`);
  }

  /** Targets missed so far. */
  get missed(): string[] {
    return this.#rows.filter((r) => r.target && !(r.value <= r.target.max)).map((r) => r.name);
  }

  /**
   * Prints the machine, a Markdown table of every figure (for BENCHMARKS.md) and the verdict, and
   * sets `Deno.exitCode` to 1 when a target was missed.
   */
  async finish(): Promise<void> {
    print(`\n### ${this.#title}\n`);
    print(`Command: \`deno run -A ${commandLine()}\``);
    print(`Machine: ${await machine()}; ${new Date().toISOString().slice(0, 16)}Z\n`);
    print("| figure | value | target | |");
    print("|---|---|---|---|");
    for (const r of this.#rows) {
      const unit = r.unit ? ` ${r.unit}` : "";
      const target = r.target ? `≤ ${r.target.max}${unit}` : "–";
      const verdict = r.target ? (r.value <= r.target.max ? "met" : "**missed**") : "";
      print(`| ${r.name} | ${r.value.toFixed(r.digits)}${unit} | ${target} | ${verdict} |`);
    }
    for (const n of this.#notes) print(`\n${n}`);
    const missed = this.missed;
    const targets = this.#rows.some((r) => r.target);
    print(
      missed.length
        ? `\nMISSED: ${missed.join("; ")}`
        : targets
        ? "\nall targets met"
        : "\nno targets (figures only)",
    );
    if (missed.length) Deno.exitCode = 1;
  }
}

function commandLine(): string {
  const main = new URL(Deno.mainModule);
  const cwd = Deno.cwd();
  const path = main.pathname.startsWith(cwd + "/")
    ? main.pathname.slice(cwd.length + 1)
    : main.pathname;
  return [path, ...Deno.args].join(" ");
}

async function output(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
    return new TextDecoder().decode(out.stdout).trim();
  } catch {
    return "?";
  }
}

/**
 * Cores, CPU model, memory, kernel, Deno and kube-apiserver versions, on one line.
 *
 * @example
 * ```ts ignore
 * import { machine, print } from "./report.ts";
 * print(await machine()); // "2 cores AMD EPYC, 23.4 GiB, Linux 6.18.44, Deno 2.9.6, …"
 * ```
 */
export async function machine(): Promise<string> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const model = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "unknown CPU";
  const memKiB = Number(
    (await Deno.readTextFile("/proc/meminfo").catch(() => "")).match(/^MemTotal:\s+(\d+)/m)?.[1],
  );
  const bins = await controlPlaneBinaries();
  const apiserver = (await output(bins.apiserver, ["--version"])).replace("Kubernetes ", "");
  const etcd = (await output(bins.etcd, ["--version"])).match(/etcd Version: (\S+)/)?.[1] ?? "?";
  return [
    `${navigator.hardwareConcurrency} cores ${model}`,
    `${(memKiB / 1024 / 1024).toFixed(1)} GiB`,
    `Linux ${Deno.osRelease()}`,
    `Deno ${Deno.version.deno}`,
    `kube-apiserver ${apiserver} + etcd ${etcd}`,
  ].join(", ");
}
