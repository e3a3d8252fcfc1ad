/**
 * What the 10-object floor is made of before the sidecar does anything (a diagnostic: no targets,
 * no cluster). Idle `deno run` processes, each with the shipped V8 flags and environment:
 *
 * - `bare`: a timer (`AbortSignal.timeout`) and nothing else;
 * - `setTimeout`: the same after one call of the global `setTimeout`, which in Deno 2.9 loads
 *   Node's timers (the sidecar does not call it since `c8d3547`);
 * - `node:path`, `node:crypto`: after `import "node:path"` (Deno's Node compatibility starts), after
 *   importing `node:crypto` and one SHA-256 (what the sidecar did before `203203d`);
 * - `HTTP server`: `Deno.serve` on loopback and one `fetch` to it, as the health endpoints;
 * - `TLS client`: one `fetch` over HTTPS to a server in this benchmark's process (its CA trusted
 *   through `Deno.createHttpClient`), as the sidecar talks to the API server;
 * - `file writes`: 20 files written beside their names and renamed, `lstat`, one `fdatasync`, as
 *   the file store writes;
 * - `main.ts graph`: after importing the sidecar's `main.ts` (its whole static module graph; it
 *   does not run, `import.meta.main` is false);
 * - `bundle graph`: the same after importing `deno task bundle`'s `main.js` instead: the program
 *   as JavaScript already transpiled, without `deno run`'s inline source maps, its npm packages
 *   imported by name;
 * - `bundle graph, npm packages inlined`: the bundle as `deno task bundle` made it before
 *   (`deno bundle --platform deno --code-splitting`), `@kubernetes/client-node` a 17 MiB chunk
 *   that `deno run` parses at start because it is a literal dynamic import;
 * - `main.ts graph + the three`: the graph, the HTTP server, the TLS client and the writes.
 *
 * Each is started once to warm Deno's caches, then `--runs` times; 2 s after start: VmRSS, its
 * file-backed part, the resident pages of the `deno` binary by ELF section (`.text`: code;
 * `.rodata`: constants and V8's startup snapshot; `.rela.dyn`: relocations, read once by the
 * dynamic loader; pages written to, e.g. `.data.rel.ro` after relocation; from `/proc/<pid>/pagemap`,
 * `lib/binary_pages.ts`), the JS heap used (`Deno.memoryUsage()` in the process) and the CPU time
 * since it started (utime + stime: starting Deno, loading the modules, the one action). Medians.
 *
 *   deno run -A bench/floor_parts.ts [--runs=3]
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { MAIN, SHIPPED_ENV, SHIPPED_V8_FLAGS } from "../tests/harness/deno_child.ts";
import { makePki } from "../tests/harness/pki.ts";
import { bundleSidecar } from "../tests/harness/sidecar.ts";
import { cpuSeconds, memoryBreakdown, rss } from "./lib/procfs.ts";
import { binarySummary } from "./lib/binary_pages.ts";
import { percentile } from "./lib/stats.ts";
import { Report } from "./lib/report.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: { runs: { type: "string", default: "3" } },
});
const RUNS = Number(args.runs);

// AbortSignal.timeout, not setTimeout: in Deno 2.9 the global setTimeout loads Node's timers
// (3 MiB), which the sidecar no longer does (`after()` in src/util/clock.ts).
const IDLE = `
await new Promise((r) => AbortSignal.timeout(2000).addEventListener("abort", r));
const m = Deno.memoryUsage();
console.log(JSON.stringify({ heapUsed: m.heapUsed }));
AbortSignal.timeout(600_000).addEventListener("abort", () => {});
`;
const HTTP_SERVER = `
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("ok"));
await (await fetch(\`http://127.0.0.1:\${server.addr.port}/\`)).text();
`;
const TLS_CLIENT = (url: string, caPath: string) => `
const client = Deno.createHttpClient({ caCerts: [Deno.readTextFileSync(${
  JSON.stringify(caPath)
})] });
await (await fetch(${JSON.stringify(url)}, { client })).text();
`;
const FILE_WRITES = (dir: string) => `
const dir = ${JSON.stringify(dir)};
const bytes = new TextEncoder().encode("x".repeat(4000));
for (let i = 0; i < 20; i++) {
  Deno.writeFileSync(\`\${dir}/.tmp-\${i}\`, bytes);
  Deno.renameSync(\`\${dir}/.tmp-\${i}\`, \`\${dir}/f\${i}.json\`);
  Deno.lstatSync(\`\${dir}/f\${i}.json\`);
}
const journal = Deno.openSync(\`\${dir}/journal\`, { create: true, append: true });
journal.writeSync(bytes);
journal.syncDataSync();
journal.close();
`;
const importOf = (path: string) => `import ${JSON.stringify(pathToFileURL(path).href)};\n`;

/** The variants' module heads; the TLS server and the scratch folder are this process's. */
function variants(
  tlsUrl: string,
  caPath: string,
  scratch: string,
  bundles: { byName: string; inlined: string },
) {
  return {
    "bare": "",
    "setTimeout": "setTimeout(() => {}, 1);\n",
    "node:path": `import "node:path";`,
    "node:crypto": `import { createHash } from "node:crypto";
createHash("sha256").update("x").digest("hex");`,
    "HTTP server": HTTP_SERVER,
    "TLS client": TLS_CLIENT(tlsUrl, caPath),
    "file writes": FILE_WRITES(scratch),
    "main.ts graph": importOf(MAIN),
    "bundle graph": importOf(bundles.byName),
    "bundle graph, npm packages inlined": importOf(bundles.inlined),
    "main.ts graph + the three": importOf(MAIN) + HTTP_SERVER + TLS_CLIENT(tlsUrl, caPath) +
      FILE_WRITES(scratch),
  };
}

interface Reading {
  rss: number;
  file: number;
  text: number;
  rodata: number;
  relocations: number;
  written: number;
  heap: number;
  /** CPU seconds so far: starting Deno, loading the modules, the variant's one action. */
  cpu: number;
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
    const { file: fileBacked } = memoryBreakdown(child.pid);
    const reading = {
      rss: rss(child.pid).rss,
      file: fileBacked,
      ...binarySummary(child.pid),
      heap: JSON.parse(line).heapUsed / 1024 / 1024,
      cpu: cpuSeconds(child.pid),
    };
    reader.releaseLock();
    return reading;
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel().catch(() => {});
  }
}

/** The bundle as `deno task bundle` made it before its npm packages were left out. */
async function inlinedBundle(outdir: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "deno", "--code-splitting", "--outdir", outdir, MAIN],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("deno bundle failed");
  return join(outdir, "main.js");
}

const report = new Report(`the floor's parts (${RUNS} runs each, medians)`);
const dir = await Deno.makeTempDir({ prefix: "gsidecar-floor-" });
await Deno.mkdir(join(dir, "pki"));
const pki = await makePki(join(dir, "pki"));
const tls = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  cert: await Deno.readTextFile(pki.servingCertPath),
  key: await Deno.readTextFile(pki.servingKeyPath),
  onListen() {},
}, () => new Response("ok"));
try {
  const scratch = join(dir, "files");
  await Deno.mkdir(scratch);
  const bundles = {
    byName: await bundleSidecar(join(dir, "bundle")),
    inlined: await inlinedBundle(join(dir, "bundle-inlined")),
  };
  const heads = variants(`https://127.0.0.1:${tls.addr.port}/`, pki.caCertPath, scratch, bundles);
  for (const [name, head] of Object.entries(heads)) {
    const file = join(dir, `${name.replace(/\W+/g, "_")}.ts`);
    await Deno.writeTextFile(file, head + IDLE);
    await measure(file);
    const runs: Reading[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await measure(file));
    const med = (k: keyof Reading) => percentile(runs.map((r) => r[k]), 50);
    report.figure(`${name}: RSS`, med("rss"), "MiB");
    report.figure(`${name}: file-backed`, med("file"), "MiB");
    report.figure(`${name}: deno binary .text`, med("text"), "MiB");
    report.figure(`${name}: deno binary .rodata`, med("rodata"), "MiB");
    report.figure(`${name}: deno binary .rela.dyn`, med("relocations"), "MiB");
    report.figure(
      `${name}: deno binary pages written (.data.rel.ro, .data)`,
      med("written"),
      "MiB",
    );
    report.figure(`${name}: JS heap used`, med("heap"), "MiB");
    report.figure(`${name}: CPU since start`, med("cpu"), "s", undefined, 2);
  }
} finally {
  await tls.shutdown();
  await Deno.remove(dir, { recursive: true });
}
report.note(
  `Each process runs with DENO_V8_FLAGS=${SHIPPED_V8_FLAGS} and the image's environment.`,
);
await report.finish();
