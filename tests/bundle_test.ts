/**
 * The shipped program, not just the sources: `deno task compile` needs denort, which cannot be
 * downloaded on the build machines, so the same module graph is bundled (`deno task bundle`)
 * and run by `deno`, in a pod-like environment and out of cluster (where the bundle imports
 * `@kubernetes/client-node` by name, through the deno.json and deno.lock beside it).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { READ_CONFIGMAPS, startCluster } from "./harness/cluster.ts";
import { cm, LABEL, readText } from "./harness/fixtures.ts";
import { bundleSidecar, runSidecarToEnd } from "./harness/sidecar.ts";

Deno.test("the bundled program syncs in a pod and out of cluster", async (t) => {
  await using cluster = await startCluster();
  const outdir = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "bundle-" });
  const entry = await bundleSidecar(outdir);
  await t.step("npm packages stay out of the chunks, imported by name", async () => {
    const main = await Deno.readTextFile(entry);
    assert.match(main, /import\("@kubernetes\/client-node"\)/);
    for await (const f of Deno.readDir(outdir)) {
      const { size } = await Deno.stat(join(outdir, f.name));
      assert.ok(size < 1024 * 1024, `${f.name}: ${size} bytes`);
    }
    const config = JSON.parse(await Deno.readTextFile(join(outdir, "deno.json")));
    assert.match(config.imports["@kubernetes/client-node"], /^npm:@kubernetes\/client-node@/);
  });
  const ns = "bundled";
  await cluster.createNamespace(ns);
  await cm(cluster, ns, "a", { "a.json": '{"bundled":true}' });
  const sa = await cluster.createServiceAccount({
    namespace: ns,
    name: "bundle",
    rules: READ_CONFIGMAPS,
  });

  await t.step("in-cluster (service-account files)", async () => {
    const folder = await Deno.makeTempDir({ dir: cluster.dataDir });
    const r = await runSidecarToEnd(await cluster.podEnvironment(sa), {
      METHOD: "sleep",
      FOLDER: folder,
      LABEL,
      NAMESPACE: ns,
    }, entry);
    assert.equal(r.code, 0, r.output);
    assert.equal(await readText(join(folder, "a.json")), '{"bundled":true}');
  });

  await t.step("out of cluster (KUBECONFIG, client-node imported on demand)", async () => {
    const kubeconfig = await cluster.tokenKubeconfig(sa);
    const folder = await Deno.makeTempDir({ dir: cluster.dataDir });
    const r = await runSidecarToEnd(undefined, {
      METHOD: "sleep",
      FOLDER: folder,
      LABEL,
      NAMESPACE: ns,
      KUBECONFIG: kubeconfig,
    }, entry);
    assert.equal(r.code, 0, r.output);
    assert.equal(await readText(join(folder, "a.json")), '{"bundled":true}');
  });
});
