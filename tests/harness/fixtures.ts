/**
 * Shared steps of the end-to-end tests: objects created as admin, a sidecar process with its own
 * least-privilege service account, and folder inspection.
 *
 * @module
 */
import { encodeBase64 } from "../../src/util/base64.ts";
import { type Cluster, type PolicyRule, READ_CONFIGMAPS } from "./cluster.ts";
import type { ManagedProcess } from "./process.ts";
import { startSidecar } from "./sidecar.ts";

/** The label every test object carries. */
export const LABEL = "gsidecar-test";

export async function cm(
  cluster: Cluster,
  ns: string,
  name: string,
  data: Record<string, string>,
  opts: {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    binaryData?: Record<string, string>;
  } = {},
): Promise<void> {
  await cluster.admin.create(`/api/v1/namespaces/${ns}/configmaps`, {
    metadata: {
      name,
      labels: opts.labels ?? { [LABEL]: "1" },
      annotations: opts.annotations ?? {},
    },
    data,
    ...(opts.binaryData ? { binaryData: opts.binaryData } : {}),
  });
}

export async function replaceCm(
  cluster: Cluster,
  ns: string,
  name: string,
  data: Record<string, string>,
  labels: Record<string, string> = { [LABEL]: "1" },
  annotations: Record<string, string> = {},
): Promise<void> {
  await cluster.admin.request("PUT", `/api/v1/namespaces/${ns}/configmaps/${name}`, {
    body: { metadata: { name, namespace: ns, labels, annotations }, data },
  });
}

export async function del(
  cluster: Cluster,
  ns: string,
  kind: "configmaps" | "secrets",
  name: string,
): Promise<void> {
  await cluster.admin.request("DELETE", `/api/v1/namespaces/${ns}/${kind}/${name}`);
}

export async function secret(
  cluster: Cluster,
  ns: string,
  name: string,
  data: Record<string, Uint8Array>,
): Promise<void> {
  await cluster.admin.create(`/api/v1/namespaces/${ns}/secrets`, {
    metadata: { name, labels: { [LABEL]: "1" } },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, encodeBase64(v)])),
  });
}

export async function readText(path: string): Promise<string> {
  return await Deno.readTextFile(path);
}

export async function absent(path: string): Promise<void> {
  try {
    await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  throw new Error(`${path} still exists`);
}

export async function listFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (!e.name.startsWith(".")) names.push(e.name);
  return names.sort();
}

export interface Running {
  proc: ManagedProcess;
  folder: string;
}

let counter = 0;

/** A sidecar for `namespaces` with a service account that may read only what `rules` grant. */
export async function sidecar(cluster: Cluster, opts: {
  namespaces: string[] | "ALL";
  rules?: PolicyRule[];
  env?: Record<string, string>;
  folder?: string;
}): Promise<Running> {
  const name = `sidecar-${++counter}`;
  const home = opts.namespaces === "ALL" ? "gsidecar-home" : opts.namespaces[0]!;
  const sa = await cluster.createServiceAccount({
    namespace: home,
    name,
    rules: opts.rules ?? READ_CONFIGMAPS,
    clusterWide: opts.namespaces === "ALL",
    alsoIn: opts.namespaces === "ALL" ? [] : opts.namespaces.slice(1),
  });
  const pod = await cluster.podEnvironment(sa);
  const folder = opts.folder ?? await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "out-" });
  const proc = startSidecar(cluster, pod, {
    FOLDER: folder,
    LABEL,
    NAMESPACE: opts.namespaces === "ALL" ? "ALL" : opts.namespaces.join(","),
    ...opts.env,
  }, name);
  return { proc, folder };
}
