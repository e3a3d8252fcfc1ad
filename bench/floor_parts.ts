/**
 * What the 10-object floor is made of before the sidecar does anything (a diagnostic: no targets,
 * no cluster). Idle `deno run` processes, each with the shipped V8 flags and environment:
 *
 * - `bare`: a timer and nothing else;
 * - `node:path`: the same after `import "node:path"` (Deno's Node compatibility starts);
 * - `node:crypto`: after importing `node:crypto` and one SHA-256, as the file store hashes;
 * - `main.ts graph`: after importing the sidecar's `main.ts` (its whole static module graph; it
 *   does not run, `import.meta.main` is false).
 *
 * Each is started once to warm Deno's caches, then `--runs` times; 2 s after start: VmRSS, its
 * file-backed part, the resident pages of the `deno` binary's code (`r-xp` mappings) and the JS
 * heap used (`Deno.memoryUsage()` in the process). Medians.
 *
 *   deno run -A bench/floor_parts.ts [--runs=3]
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { MAIN, SHIPPED_ENV, SHIPPED_V8_FLAGS } from "../tests/harness/deno_child.ts";
import { mappings, memoryBreakdown, rss } from "./lib/procfs.ts";
import { percentile } from "./lib/stats.ts";
import { Report } from "./lib/report.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: { runs: { type: "string", default: "3" } },
});
const RUNS = Number(args.runs);

const IDLE = `
await new Promise((r) => setTimeout(r, 2000));
const m = Deno.memoryUsage();
console.log(JSON.stringify({ heapUsed: m.heapUsed }));
setInterval(() => {}, 60_000);
`;
const VARIANTS: Record<string, string> = {
  "bare": "",
  "node:path": `import "node:path";`,
  "node:crypto": `import { createHash } from "node:crypto";
createHash("sha256").update("x").digest("hex");`,
  "main.ts graph": `import ${JSON.stringify(pathToFileURL(MAIN).href)};`,
};

interface Reading {
  rss: number;
  file: number;
  text: number;
  heap: number;
}

/** Starts `file`, waits for its heap line, reads `/proc`, and stops it. */
async function measure(file: string): Promise<Reading> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", file],
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "",
      ...SHIPPED_ENV,
      DENO_V8_FLAGS: SHIPPED_V8_FLAGS,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let line = "";
    while (!line.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${file} ended before reporting its heap`);
      line += value;
    }
    const exe = Deno.realPathSync(Deno.execPath());
    const text = mappings(child.pid)
      .filter((m) => m.name === exe && m.perms.startsWith("r-x"))
      .reduce((sum, m) => sum + m.rssKiB, 0) / 1024;
    const { file: fileBacked } = memoryBreakdown(child.pid);
    const reading = {
      rss: rss(child.pid).rss,
      file: fileBacked,
      text,
      heap: JSON.parse(line).heapUsed / 1024 / 1024,
    };
    reader.releaseLock();
    return reading;
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel().catch(() => {});
  }
}

const report = new Report(`the floor's parts (${RUNS} runs each, medians)`);
const dir = await Deno.makeTempDir({ prefix: "gsidecar-floor-" });
try {
  for (const [name, head] of Object.entries(VARIANTS)) {
    const file = join(dir, `${name.replace(/\W+/g, "_")}.ts`);
    await Deno.writeTextFile(file, head + IDLE);
    await measure(file);
    const runs: Reading[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await measure(file));
    const med = (k: keyof Reading) => percentile(runs.map((r) => r[k]), 50);
    report.figure(`${name}: RSS`, med("rss"), "MiB");
    report.figure(`${name}: file-backed`, med("file"), "MiB");
    report.figure(`${name}: deno binary code (r-xp)`, med("text"), "MiB");
    report.figure(`${name}: JS heap used`, med("heap"), "MiB");
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
report.note(
  `Each process runs with DENO_V8_FLAGS=${SHIPPED_V8_FLAGS} and the image's environment.`,
);
await report.finish();
