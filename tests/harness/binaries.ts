/**
 * Locates (and on first use builds) the kube-apiserver and etcd binaries of `tests/controlplane`.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const BUILD_SCRIPT = fileURLToPath(new URL("../controlplane/build.sh", import.meta.url));

/** Paths of the two control-plane binaries. */
export interface ControlPlaneBinaries {
  apiserver: string;
  etcd: string;
}

let cached: Promise<ControlPlaneBinaries> | undefined;

/**
 * Runs `tests/controlplane/build.sh`, which is a no-op when the binaries for the current `go.sum`
 * are cached, and returns their paths. `GSIDECAR_CONTROLPLANE_DIR` points at prebuilt binaries.
 */
export function controlPlaneBinaries(): Promise<ControlPlaneBinaries> {
  return cached ??= locate();
}

async function locate(): Promise<ControlPlaneBinaries> {
  let dir = Deno.env.get("GSIDECAR_CONTROLPLANE_DIR");
  if (!dir) {
    const out = await new Deno.Command("bash", {
      args: [BUILD_SCRIPT],
      stdout: "piped",
      stderr: "inherit",
    })
      .output();
    if (!out.success) {
      throw new Error(`${BUILD_SCRIPT} failed (exit ${out.code}); see its output above`);
    }
    dir = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  }
  const bins = { apiserver: join(dir, "kube-apiserver"), etcd: join(dir, "etcd") };
  for (const bin of Object.values(bins)) {
    await Deno.stat(bin).catch(() => {
      throw new Error(`control-plane binary missing: ${bin}`);
    });
  }
  return bins;
}
