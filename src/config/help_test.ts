import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parseEnv } from "./env.ts";
import { envTableRows, renderEnvTable, renderHelp } from "./help.ts";
import { ALL_VARS } from "./vars.ts";

const README = fileURLToPath(new URL("../../README.md", import.meta.url));

/** The cells of the Markdown table that follows `heading` in `markdown`. */
function tableAfter(markdown: string, heading: string): string[][] {
  const lines = markdown.split("\n");
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `README has no ${JSON.stringify(heading)}`);
  const first = lines.findIndex((l, i) => i > start && l.startsWith("|"));
  const rows: string[][] = [];
  for (let i = first; i < lines.length && lines[i]!.startsWith("|"); i++) {
    // Split on pipes that are not escaped, then drop the empty cells outside the outer pipes.
    const cells = lines[i]!.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    rows.push(cells);
  }
  return rows.slice(2);
}

Deno.test("the README's configuration table lists exactly the declared variables and defaults", async () => {
  const rows = tableAfter(await Deno.readTextFile(README), "## Configuration");
  const expected = envTableRows();
  const hint = `\nExpected table (deno fmt pads it):\n${renderEnvTable()}`;
  assert.deepEqual(rows.map((r) => r[0]), expected.map((r) => r[0]), `names differ${hint}`);
  assert.deepEqual(rows.map((r) => r[2]), expected.map((r) => r[2]), `defaults differ${hint}`);
  assert.deepEqual(rows, expected, `descriptions differ${hint}`);
});

Deno.test("parseEnv() reads exactly the declared variables", () => {
  for (const compat of [undefined, "kiwigrid"]) {
    const read = new Set<string>();
    const env = new Proxy({ FOLDER: "/d", LABEL: "l", COMPAT: compat } as Record<string, string>, {
      get(target, key) {
        if (typeof key === "string") read.add(key);
        return target[key as string];
      },
    });
    parseEnv(env, { cwd: "/", readFile: () => "ns" });
    assert.deepEqual([...read].sort(), ALL_VARS.map((v) => v.name).sort(), `COMPAT=${compat}`);
  }
});

Deno.test("renderHelp() prints every variable with its default", () => {
  const help = renderHelp();
  for (const v of ALL_VARS) {
    const head = v.required
      ? `  ${v.name} (required)`
      : v.shown === ""
      ? `  ${v.name} (no default)`
      : `  ${v.name}=${v.shown}`;
    assert.ok(help.includes(`\n${head}\n`), `${head} in --help`);
  }
  assert.ok(help.includes("COMPAT=kiwigrid: LIST = one sync then exit"));
  assert.ok(!help.includes("`"), "no Markdown in --help");
  assert.ok(help.split("\n").every((l) => l.length <= 100), "lines fit 100 columns");
});

Deno.test("every declaration has a description and names itself once", () => {
  const names = ALL_VARS.map((v) => v.name);
  assert.equal(new Set(names).size, names.length);
  for (const v of ALL_VARS) {
    assert.ok(v.description.length > 10, v.name);
    assert.ok(!v.description.includes("\n"), v.name);
  }
});

Deno.test("the README's COMPAT=kiwigrid table names only declared variables", async () => {
  const rows = tableAfter(await Deno.readTextFile(README), "## COMPAT=kiwigrid");
  const declared = new Set(ALL_VARS.map((v) => v.name));
  const named = rows.flatMap((r) => [...r[0]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!));
  assert.ok(named.length > 15, named.join());
  for (const name of named) assert.ok(declared.has(name), `${name} is declared`);
  for (const v of ALL_VARS.filter((v) => v.compat !== undefined)) {
    assert.ok(named.includes(v.name), `${v.name} changes under COMPAT, so the table has a row`);
  }
});
