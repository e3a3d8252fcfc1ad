/**
 * Whole-set publish (`ATOMIC_SET=true`) against the real control plane, with the sidecar as its
 * own process: a reader process that resolves `..data` once per read and reads two files of one
 * object never sees one file of a change set and the other of another, while the object is
 * updated 1,000 times — across a SIGKILL of the sidecar in the middle of a publish and a restart.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startCluster } from "./harness/cluster.ts";
import { cm, replaceCm, sidecar } from "./harness/fixtures.ts";
import { eventually } from "./harness/sidecar.ts";

const UPDATES = 1000;
/** Keys that change with every update besides the two the reader reads: a longer publish. */
const EXTRA_KEYS = 20;
const VERSION_RE = /^\.\.gsidecar_/;

/**
 * Generation `n` of the object. `a.json` and `b.json` both name their generation, and their sizes
 * differ from generation to generation, so a mix shows however the reader compares.
 */
function generation(n: number): Record<string, string> {
  const data: Record<string, string> = {
    "a.json": JSON.stringify({ gen: n, pad: "a".repeat(n % 53) }),
    "b.json": JSON.stringify({ gen: n, pad: "b".repeat(2 * (n % 53) + 7) }),
  };
  for (let k = 0; k < EXTRA_KEYS; k++) {
    data[`k${String(k).padStart(2, "0")}.json`] = JSON.stringify({ gen: n, k });
  }
  return data;
}

/**
 * The reader, a process of its own: resolve `..data`, read a.json then b.json from that version,
 * compare; until the stop file appears, then print a summary as JSON.
 */
const READER = `
const [folder, stop] = Deno.args;
const sizes = (gen) => [JSON.stringify({ gen, pad: "a".repeat(gen % 53) }).length,
  JSON.stringify({ gen, pad: "b".repeat(2 * (gen % 53) + 7) }).length];
let reads = 0, vanished = 0;
const mixed = [];
const gens = new Set();
const exists = (p) => Deno.lstat(p).then(() => true, () => false);
while (!(await exists(stop))) {
  let version;
  try {
    version = await Deno.readLink(folder + "/..data");
  } catch {
    await new Promise((r) => setTimeout(r, 1));
    continue;
  }
  try {
    const a = await Deno.readTextFile(folder + "/" + version + "/a.json");
    const b = await Deno.readTextFile(folder + "/" + version + "/b.json");
    const ga = JSON.parse(a).gen, gb = JSON.parse(b).gen;
    const [sa, sb] = sizes(ga);
    if (ga !== gb || a.length !== sa || b.length !== sb) mixed.push(version + ": a " + ga + "/" + a.length + ", b " + gb + "/" + b.length);
    gens.add(ga);
    reads++;
  } catch (e) {
    // Being removed after it was resolved: ..data names a newer version, read again. The version
    // ..data still names lacking a file, or a file that does not parse, is a broken set.
    const now = await Deno.readLink(folder + "/..data").catch(() => undefined);
    if (e instanceof Deno.errors.NotFound && now !== version) vanished++;
    else mixed.push(version + ": " + e);
  }
  await new Promise((r) => setTimeout(r, 0));
}
console.log(JSON.stringify({ reads, vanished, gens: gens.size, mixed: mixed.slice(0, 20), mixedCount: mixed.length }));
`;

/** Names in `folder` that show a publish under way: two versions, or `..data_tmp`. */
async function publishUnderWay(folder: string): Promise<string | undefined> {
  const names: string[] = await Array.fromAsync(Deno.readDir(folder), (e) => e.name).catch(
    () => [],
  );
  const versions = names.filter((n) => VERSION_RE.test(n));
  if (versions.length >= 2 || names.includes("..data_tmp")) {
    return [...versions, ...names.filter((n) => n === "..data_tmp")].sort().join(", ");
  }
  return undefined;
}

async function readGen(path: string): Promise<number> {
  return JSON.parse(await Deno.readTextFile(path)).gen;
}

Deno.test("ATOMIC_SET: a reader of ..data never sees two change sets mixed, across a SIGKILL mid-publish", async () => {
  await using cluster = await startCluster();
  const ns = "atomic";
  await cluster.createNamespace(ns);
  await cm(cluster, ns, "set", generation(0));
  const env = { ATOMIC_SET: "true", HEALTH_HOST: "127.0.0.1", LOG_LEVEL: "INFO" };
  const first = await sidecar(cluster, { namespaces: [ns], env });
  const folder = first.folder;
  await eventually(async () => assert.equal(await readGen(join(folder, "b.json")), 0), {
    proc: first.proc,
  });

  const control = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "reader-" });
  const script = join(control, "reader.js");
  const stop = join(control, "stop");
  await Deno.writeTextFile(script, READER);
  const reader = cluster.processes.spawn("reader", Deno.execPath(), [
    "run",
    "--allow-read",
    "--quiet",
    script,
    folder,
    stop,
  ]);

  let sent = 0;
  const updater = (async () => {
    for (let n = 1; n <= UPDATES; n++) {
      await replaceCm(cluster, ns, "set", generation(n));
      sent = n;
    }
  })();

  // Freeze the sidecar while the folder shows a publish under way; if it still does once frozen,
  // the SIGKILL lands in the middle of that publish.
  let caught: string | undefined;
  while (caught === undefined && sent < UPDATES) {
    if (sent < UPDATES / 4 || await publishUnderWay(folder) === undefined) {
      await new Promise((r) => setTimeout(r, 0));
      continue;
    }
    first.proc.signal("SIGSTOP");
    caught = await publishUnderWay(folder);
    if (caught !== undefined) {
      first.proc.signal("SIGKILL");
      const current = await Deno.readLink(join(folder, "..data")).catch(() => "none");
      caught += caught.endsWith(current) ? "; after the switch" : "; before the switch";
    } else first.proc.signal("SIGCONT");
  }
  assert.ok(caught !== undefined, "the sidecar was never caught in the middle of a publish");
  await first.proc.wait();
  const killedAt = sent;
  // The set the reader resolves is still whole.
  const version = await Deno.readLink(join(folder, "..data"));
  const intact = [
    await readGen(join(folder, version, "a.json")),
    await readGen(join(folder, version, "b.json")),
  ];

  const second = await sidecar(cluster, { namespaces: [ns], env, folder });
  await updater;
  await eventually(async () => {
    assert.equal(await readGen(join(folder, "a.json")), UPDATES);
    assert.equal(await readGen(join(folder, "b.json")), UPDATES);
    for (let k = 0; k < EXTRA_KEYS; k++) {
      assert.equal(await readGen(join(folder, `k${String(k).padStart(2, "0")}.json`)), UPDATES);
    }
    assert.equal(await publishUnderWay(folder), undefined, "no stray version or ..data_tmp");
  }, { proc: second.proc, timeoutMs: 60_000 });
  const names = await Array.fromAsync(Deno.readDir(folder), (e) => e.name);
  await second.proc.stop();

  await Deno.writeTextFile(stop, "");
  const status = await reader.wait();
  assert.ok(status.success, reader.output);
  const summary = JSON.parse(reader.output.trim().split("\n").pop()!) as {
    reads: number;
    vanished: number;
    gens: number;
    mixed: string[];
    mixedCount: number;
  };
  // What the run covered, for whoever reads the test output.
  // deno-lint-ignore no-console
  console.log(
    `killed mid-publish at update ${killedAt} (${caught}); reader: ${summary.reads} reads, ` +
      `${summary.gens} generations seen, ${summary.vanished} versions gone before reading`,
  );
  assert.equal(intact[0], intact[1], `the set after the kill is whole: ${intact.join(" vs ")}`);
  assert.deepEqual(summary.mixed, [], `${summary.mixedCount} mixed or broken reads`);
  assert.ok(summary.gens > 10, `the reader saw only ${summary.gens} generations`);
  assert.equal(names.filter((n) => VERSION_RE.test(n)).length, 1, names.join(", "));
  assert.equal(
    names.filter((n) => n.endsWith(".json")).length,
    2 + EXTRA_KEYS,
    "only the object's files are visible",
  );
});
