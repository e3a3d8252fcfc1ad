/**
 * `deno task bundle`: the program as JavaScript chunks in OUTDIR (entry `main.js`), run by `deno`.
 *
 * The npm packages (deno.json's `npm:` imports) stay out of the chunks, imported by name: beside
 * the chunks go a `deno.json` with those imports and a copy of `deno.lock`, so `deno` resolves them
 * from its cache as it does for the sources. Inlined, `@kubernetes/client-node` was a 17 MiB chunk
 * that `deno run` parsed at every start (it parses each literal dynamic import to build the module
 * graph) although only a kubeconfig loads it: 60 MiB resident before doing anything, against 37
 * without (`bench/floor_parts.ts`, "bundle graph").
 *
 *   deno run --allow-read --allow-write --allow-run --allow-env scripts/bundle.ts [OUTDIR]
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const outdir = resolve(Deno.args[0] ?? join(ROOT, "dist", "bundle"));

const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
const packages = Object.fromEntries(
  Object.entries(config.imports as Record<string, string>).filter(([, to]) =>
    to.startsWith("npm:")
  ),
);

const out = await new Deno.Command(Deno.execPath(), {
  args: [
    "bundle",
    "--quiet",
    "--platform",
    "deno",
    "--code-splitting",
    ...Object.keys(packages).flatMap((name) => ["--external", name]),
    "--outdir",
    outdir,
    join(ROOT, "main.ts"),
  ],
  cwd: ROOT,
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (!out.success) Deno.exit(out.code || 1);
await Deno.writeTextFile(
  join(outdir, "deno.json"),
  JSON.stringify({ imports: packages }, null, 2) + "\n",
);
await Deno.copyFile(join(ROOT, "deno.lock"), join(outdir, "deno.lock"));
