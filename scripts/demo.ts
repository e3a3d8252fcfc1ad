/**
 * `deno task demo`: the whole loop on one machine. Starts the local control plane, creates sample
 * labelled ConfigMaps and a Secret, runs the sidecar as its own process with a least-privilege
 * service-account token (as in a pod) into `./demo-out`, and prints every notification a local
 * receiver gets. Edit objects with `deno task demo:edit` (or kubectl with `.cluster/kubeconfig`).
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { READ_CONFIGMAPS_AND_SECRETS, startCluster } from "../tests/harness/cluster.ts";
import { encodeBase64 } from "../src/util/base64.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = join(root, "demo-out");
const print = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\n"));

await Deno.mkdir(join(root, ".cluster"), { recursive: true });
await Deno.remove(out, { recursive: true }).catch(() => {});
print("starting the local control plane (first run builds it: a few minutes)…");
const cluster = await startCluster({ kubeconfigPath: join(root, ".cluster", "kubeconfig") });
const stopAll = async () => {
  await cluster.stop();
  await Deno.remove(join(root, ".cluster", "kubeconfig")).catch(() => {});
};
try {
  const ns = "demo";
  await cluster.createNamespace(ns);
  const create = (kind: string, body: unknown) =>
    cluster.admin.create(`/api/v1/namespaces/${ns}/${kind}`, body);
  await create("configmaps", {
    metadata: { name: "dashboards", labels: { grafana_dashboard: "1" } },
    data: {
      "cpu.json": JSON.stringify({ title: "CPU", panels: [] }),
      "memory.json": JSON.stringify({ title: "Memory", panels: [] }),
    },
  });
  await create("configmaps", {
    metadata: { name: "not-selected", labels: { team: "x" } },
    data: { "ignored.json": "{}" },
  });
  await create("secrets", {
    metadata: { name: "datasource", labels: { grafana_dashboard: "1" } },
    data: {
      "datasource.json": encodeBase64(new TextEncoder().encode('{"url":"http://prometheus:9090"}')),
    },
  });
  const sa = await cluster.createServiceAccount({
    namespace: ns,
    name: "gsidecar",
    rules: READ_CONFIGMAPS_AND_SECRETS,
  });
  const pod = await cluster.podEnvironment(sa);

  const receiver = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      print(`>>> notification: ${req.method} ${new URL(req.url).pathname} ${await req.text()}`);
      return new Response("reloaded");
    },
  );

  const env: Record<string, string> = {
    ...pod.env,
    FOLDER: out,
    LABEL: "grafana_dashboard",
    NAMESPACE: ns,
    RESOURCE: "both",
    REQ_URL: `http://127.0.0.1:${receiver.addr.port}/api/admin/provisioning/dashboards/reload`,
    REQ_METHOD: "POST",
    LOG_FORMAT: "text",
    HEALTH_PORT: "0",
  };
  print(`
control plane: ${cluster.server} (RBAC on); admin kubeconfig: .cluster/kubeconfig
sidecar: service account demo/gsidecar (get/list/watch configmaps+secrets in "demo" only), files into ./demo-out

Try, in another terminal:
  deno task demo:edit dashboards cpu.json '{"title":"CPU v2"}'   # file changes, one notification
  deno task demo:edit dashboards extra.json '{"title":"new"}'    # a new file
  deno task demo:edit dashboards extra.json                      # key removed: the file goes
  cat demo-out/cpu.json
Stop with Ctrl-C.
`);
  const sidecar = cluster.processes.spawn("sidecar", Deno.execPath(), [
    "run",
    "--allow-all",
    "--quiet",
    join(root, "main.ts"),
  ], {
    env,
    echo: true,
  });
  const stopped = Promise.withResolvers<void>();
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, () => stopped.resolve());
  }
  await Promise.race([stopped.promise, sidecar.wait()]);
  print("stopping…");
  await sidecar.stop();
  await receiver.shutdown();
} finally {
  await stopAll();
}
Deno.exit(0);
