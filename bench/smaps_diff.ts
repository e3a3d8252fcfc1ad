/**
 * Where resident memory went between two `/proc/<pid>/smaps` snapshots of one process (the churn
 * benchmark's `--out` writes them).
 *
 *   deno run -A bench/smaps_diff.ts BEFORE AFTER [--top=20]
 *
 * Prints the breakdown of both (file-backed, `deno` binary, brk heap, glibc thread arenas, other
 * anonymous memory) and the mappings whose resident size changed most, matched by start address.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { print } from "./lib/report.ts";
import { breakdownOf, type Mapping, parseSmaps } from "./lib/procfs.ts";

const { values: args, positionals } = parseArgs({
  args: Deno.args,
  options: { top: { type: "string", default: "20" } },
  allowPositionals: true,
});
if (positionals.length !== 2) {
  print("usage: deno run -A bench/smaps_diff.ts BEFORE AFTER [--top=20]");
  Deno.exit(2);
}
const [before, after] = await Promise.all(
  positionals.map(async (p) => parseSmaps(await Deno.readTextFile(p))),
) as [Mapping[], Mapping[]];
// The program's binary is the file with the most resident pages in an executable mapping.
const exe = [...after].filter((m) => m.perms.includes("x") && m.name.startsWith("/"))
  .sort((a, b) => b.rssKiB - a.rssKiB)[0]?.name ?? "";
const b0 = breakdownOf(before, exe), b1 = breakdownOf(after, exe);
print("MiB            before   after   change");
for (const k of Object.keys(b0) as (keyof typeof b0)[]) {
  print(
    `${k.padEnd(12)} ${b0[k].toFixed(1).padStart(8)} ${b1[k].toFixed(1).padStart(7)} ${
      (b1[k] - b0[k] >= 0 ? "+" : "") + (b1[k] - b0[k]).toFixed(1)
    }`,
  );
}
const old = new Map(before.map((m) => [`${m.start}:${m.name}`, m]));
const now = new Map(after.map((m) => [`${m.start}:${m.name}`, m]));
const rows: { delta: number; m: Mapping; state: string }[] = [];
for (const [k, m] of now) {
  const o = old.get(k);
  rows.push({ delta: m.rssKiB - (o?.rssKiB ?? 0), m, state: o ? "" : "new" });
}
for (const [k, m] of old) if (!now.has(k)) rows.push({ delta: -m.rssKiB, m, state: "gone" });
rows.sort((a, b) => Math.abs(b.delta) - Math.abs(a.delta));
print(`\nlargest changes (KiB of resident memory), of ${rows.length} mappings:`);
for (const { delta, m, state } of rows.slice(0, Number(args.top))) {
  print(
    `${(delta >= 0 ? "+" : "") + delta}`.padStart(8) +
      `  ${m.start.toString(16)}-${m.end.toString(16)} ${m.perms} ${
        Math.round((m.end - m.start) / 1024)
      } KiB ${state.padEnd(4)} ${m.name || "(anonymous)"}`,
  );
}
