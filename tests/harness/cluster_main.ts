/**
 * `deno task cluster`: runs the test control plane in the foreground until SIGINT/SIGTERM and
 * writes its admin kubeconfig to `.cluster/kubeconfig`.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startCluster } from "./cluster.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const dir = join(root, ".cluster");
await Deno.mkdir(dir, { recursive: true });
const kubeconfigPath = join(dir, "kubeconfig");

const cluster = await startCluster({ kubeconfigPath, echo: Deno.args.includes("--verbose") });
const print = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\n"));
print(`kube-apiserver ready at ${cluster.server} (RBAC on), data in ${cluster.dataDir}
admin kubeconfig: ${kubeconfigPath}

  export KUBECONFIG=${kubeconfigPath}
  kubectl get --raw /readyz          # if you have kubectl

Stop with Ctrl-C (SIGINT) or SIGTERM; everything is removed on exit.`);

const stopped = Promise.withResolvers<string>();
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, () => stopped.resolve(sig));
}
const apiserverExit = cluster.apiserver.wait().then((s) => `kube-apiserver exited (${s.code})`);
const reason = await Promise.race([stopped.promise, apiserverExit]);
print(`stopping: ${reason}`);
await cluster.stop();
await Deno.remove(kubeconfigPath).catch(() => {});
Deno.exit(0);
