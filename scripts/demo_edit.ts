// deno-lint-ignore-file no-console -- a command-line tool talking to a person
/**
 * `deno task demo:edit NAME KEY [VALUE]`: sets (or, without VALUE, removes) one key of ConfigMap
 * NAME in namespace `demo` of the control plane `deno task demo` runs. A stand-in for kubectl.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { KubeClient } from "../src/kube/client.ts";

const [name, key, value] = Deno.args;
if (!name || !key) {
  console.error("usage: deno task demo:edit CONFIGMAP KEY [VALUE]   (no VALUE: remove the key)");
  Deno.exit(2);
}
const path = join(fileURLToPath(new URL("..", import.meta.url)), ".cluster", "kubeconfig");
const kc = JSON.parse(
  await Deno.readTextFile(path).catch(() => {
    console.error(`${path} not found: is \`deno task demo\` running?`);
    Deno.exit(1);
  }),
);
const client = new KubeClient({
  server: kc.clusters[0].cluster.server,
  caCert: atob(kc.clusters[0].cluster["certificate-authority-data"]),
  clientCert: atob(kc.users[0].user["client-certificate-data"]),
  clientKey: atob(kc.users[0].user["client-key-data"]),
});
await client.request("PATCH", `/api/v1/namespaces/demo/configmaps/${name}`, {
  body: { data: { [key]: value ?? null } },
  contentType: "application/merge-patch+json",
});
client.close();
console.log(value === undefined ? `removed ${key} from ${name}` : `set ${key} in ${name}`);
