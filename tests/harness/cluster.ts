/**
 * A real control plane for tests: etcd and kube-apiserver (RBAC on) on free loopback ports,
 * with its own PKI, an admin client, and helpers to run a process the way a pod would.
 *
 * @example
 * ```ts ignore
 * import { READ_CONFIGMAPS, startCluster } from "./cluster.ts";
 * await using cluster = await startCluster();
 * await cluster.createNamespace("a");
 * const sa = await cluster.createServiceAccount({
 *   namespace: "a",
 *   name: "reader",
 *   rules: READ_CONFIGMAPS,
 * });
 * const pod = await cluster.podEnvironment(sa);
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { KubeApiError, KubeClient, type KubeObject } from "../../src/kube/client.ts";
import { makePki, type Pki } from "./pki.ts";
import { type ManagedProcess, ProcessGroup } from "./process.ts";
import { controlPlaneBinaries } from "./binaries.ts";

/** An RBAC policy rule. */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** The least privilege a sidecar reading ConfigMaps needs. */
export const READ_CONFIGMAPS: PolicyRule[] = [
  { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch"] },
];

/** The least privilege a sidecar reading ConfigMaps and Secrets needs. */
export const READ_CONFIGMAPS_AND_SECRETS: PolicyRule[] = [
  { apiGroups: [""], resources: ["configmaps", "secrets"], verbs: ["get", "list", "watch"] },
];

/** A service account with a freshly minted token. */
export interface ServiceAccountToken {
  namespace: string;
  name: string;
  token: string;
}

/** Files and environment that make a process believe it runs in a pod. */
export interface PodEnvironment {
  /** Directory holding `token`, `ca.crt`, `namespace` (the service-account mount). */
  serviceAccountDir: string;
  /** `KUBERNETES_SERVICE_HOST`/`PORT` and the mount path override. */
  env: Record<string, string>;
}

/** Options of {@linkcode startCluster}. */
export interface ClusterOptions {
  /** Copy the control plane's logs to stderr. */
  echo?: boolean;
  /** Where to write the admin kubeconfig; inside the data dir by default. */
  kubeconfigPath?: string;
  /**
   * Write an audit log to this path (JSON lines at `Metadata` level, no bodies): counts a client's
   * requests exactly, e.g. the requests an idle sidecar makes. A watch logs `ResponseStarted` and
   * `ResponseComplete`, any other request `ResponseComplete`: count distinct `auditID`s.
   */
  auditLogPath?: string;
}

/** Every request, without bodies; the stage before anything was answered is left out. */
const AUDIT_POLICY = JSON.stringify({
  apiVersion: "audit.k8s.io/v1",
  kind: "Policy",
  omitStages: ["RequestReceived"],
  rules: [{ level: "Metadata" }],
});

/** A running etcd + kube-apiserver. */
export class Cluster implements AsyncDisposable {
  readonly dataDir: string;
  readonly pki: Pki;
  readonly server: string;
  readonly port: number;
  readonly kubeconfigPath: string;
  /** A client with cluster-admin rights. */
  readonly admin: KubeClient;
  readonly processes: ProcessGroup;
  etcd: ManagedProcess;
  apiserver: ManagedProcess;
  readonly #apiserverArgs: string[];
  readonly #apiserverBin: string;
  #adminHttp: Deno.HttpClient | undefined;
  #stopped = false;

  /** @internal use {@linkcode startCluster}. */
  constructor(init: {
    dataDir: string;
    pki: Pki;
    port: number;
    kubeconfigPath: string;
    processes: ProcessGroup;
    etcd: ManagedProcess;
    apiserver: ManagedProcess;
    apiserverBin: string;
    apiserverArgs: string[];
  }) {
    this.dataDir = init.dataDir;
    this.pki = init.pki;
    this.port = init.port;
    this.server = `https://127.0.0.1:${init.port}`;
    this.kubeconfigPath = init.kubeconfigPath;
    this.processes = init.processes;
    this.etcd = init.etcd;
    this.apiserver = init.apiserver;
    this.#apiserverBin = init.apiserverBin;
    this.#apiserverArgs = init.apiserverArgs;
    this.admin = new KubeClient({
      server: this.server,
      caCert: init.pki.caCert,
      clientCert: init.pki.adminCert,
      clientKey: init.pki.adminKey,
    });
  }

  /** Creates a namespace (idempotent). */
  async createNamespace(name: string): Promise<void> {
    await ignoreConflict(
      this.admin.create("/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name },
      }),
    );
  }

  /**
   * Creates a ServiceAccount bound to a new Role in its namespace (or, with `clusterWide`, a
   * ClusterRole through a ClusterRoleBinding) and mints a token for it with the TokenRequest API.
   */
  async createServiceAccount(opts: {
    namespace: string;
    name: string;
    rules: PolicyRule[];
    clusterWide?: boolean;
    /** Extra namespaces where the same Role is granted. */
    alsoIn?: string[];
    expirationSeconds?: number;
  }): Promise<ServiceAccountToken> {
    const { namespace, name, rules } = opts;
    await this.createNamespace(namespace);
    await ignoreConflict(this.admin.create(`/api/v1/namespaces/${namespace}/serviceaccounts`, {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name, namespace },
    }));
    const subject = [{ kind: "ServiceAccount", name, namespace }];
    const rbac = "/apis/rbac.authorization.k8s.io/v1";
    if (opts.clusterWide) {
      const roleName = `${namespace}-${name}`;
      await ignoreConflict(this.admin.create(`${rbac}/clusterroles`, {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: { name: roleName },
        rules,
      }));
      await ignoreConflict(this.admin.create(`${rbac}/clusterrolebindings`, {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: roleName },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: roleName },
        subjects: subject,
      }));
    } else {
      for (const ns of [namespace, ...(opts.alsoIn ?? [])]) {
        await this.createNamespace(ns);
        const role = {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "Role",
          metadata: { name, namespace: ns },
          rules,
        };
        // Calling again with other rules replaces them: tests grant rights while a sidecar runs.
        await this.admin.create(`${rbac}/namespaces/${ns}/roles`, role).catch(async (e) => {
          if (!(e instanceof KubeApiError && e.status === 409)) throw e;
          await this.admin.request("PUT", `${rbac}/namespaces/${ns}/roles/${name}`, { body: role });
        });
        await ignoreConflict(this.admin.create(`${rbac}/namespaces/${ns}/rolebindings`, {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "RoleBinding",
          metadata: { name, namespace: ns },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
          subjects: subject,
        }));
      }
    }
    return {
      namespace,
      name,
      token: await this.mintToken(namespace, name, opts.expirationSeconds),
    };
  }

  /** Mints a new token for an existing ServiceAccount with the TokenRequest API. */
  async mintToken(namespace: string, name: string, expirationSeconds = 3600): Promise<string> {
    const res = await this.admin.create<{ status: { token: string } }>(
      `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
      { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds } },
    );
    return res.status.token;
  }

  /** Writes pod-style service-account files for `sa` and returns the environment pointing at this server. */
  async podEnvironment(sa: ServiceAccountToken): Promise<PodEnvironment> {
    const dir = await Deno.makeTempDir({ dir: this.dataDir, prefix: `pod-${sa.name}-` });
    await Deno.writeTextFile(join(dir, "token"), sa.token);
    await Deno.writeTextFile(join(dir, "ca.crt"), this.pki.caCert);
    await Deno.writeTextFile(join(dir, "namespace"), sa.namespace);
    return {
      serviceAccountDir: dir,
      env: {
        KUBERNETES_SERVICE_HOST: "127.0.0.1",
        KUBERNETES_SERVICE_PORT: String(this.port),
        GSIDECAR_SERVICE_ACCOUNT_DIR: dir,
      },
    };
  }

  /** Writes a kubeconfig that authenticates as `sa` with its token and returns its path. */
  async tokenKubeconfig(sa: ServiceAccountToken): Promise<string> {
    const path = await Deno.makeTempFile({ dir: this.dataDir, prefix: `kubeconfig-${sa.name}-` });
    await Deno.writeTextFile(
      path,
      kubeconfigText(this.server, this.pki.caCert, { token: sa.token }),
    );
    return path;
  }

  /** A client that authenticates with `sa`'s token, as a pod would. */
  clientFor(sa: ServiceAccountToken): KubeClient {
    return new KubeClient({ server: this.server, caCert: this.pki.caCert, token: () => sa.token });
  }

  /**
   * One request as admin that also returns the answer's status and headers (`warning` headers
   * carry Pod Security's warnings), without throwing on a non-2xx status.
   */
  async adminFetch(
    method: string,
    path: string,
    opts: { body?: unknown; query?: Record<string, string> } = {},
  ): Promise<AdminAnswer> {
    this.#adminHttp ??= Deno.createHttpClient({
      caCerts: [this.pki.caCert],
      cert: this.pki.adminCert,
      key: this.pki.adminKey,
    });
    const url = new URL(path, this.server);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const res = await fetch(url, {
      method,
      client: this.#adminHttp,
      headers: { accept: "application/json", "content-type": "application/json" },
      body: opts.body === undefined ? null : JSON.stringify(opts.body),
    });
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text);
    } catch {
      body = { message: text };
    }
    const warnings = (res.headers.get("warning") ?? "").split(/,\s*(?=\d{3} )/)
      .filter((w) => w !== "");
    return { status: res.status, body, warnings };
  }

  /**
   * Creates every object of `manifests` (multi-document YAML, or objects) as admin, or replaces
   * it when it exists, as `kubectl apply` leaves it for objects that only this caller writes.
   * With `dryRun`, the API server runs every admission step and stores nothing. Throws on the
   * first refusal, naming the object and the server's message.
   */
  async apply(
    manifests: string | KubeObject[],
    opts: { dryRun?: boolean; strict?: boolean } = {},
  ): Promise<AppliedObject[]> {
    const objects = typeof manifests === "string" ? parseManifests(manifests) : manifests;
    const query: Record<string, string> = {};
    if (opts.dryRun) query.dryRun = "All";
    if (opts.strict) query.fieldValidation = "Strict";
    const out: AppliedObject[] = [];
    for (const obj of objects) {
      const collection = collectionPath(obj);
      const what = `${obj.kind} ${
        obj.metadata.namespace ? `${obj.metadata.namespace}/` : ""
      }${obj.metadata.name}`;
      let answer = await this.adminFetch("POST", collection, { body: obj, query });
      if (answer.status === 409) {
        const item = `${collection}/${obj.metadata.name}`;
        const current = await this.adminFetch("GET", item);
        const rv = (current.body.metadata as { resourceVersion?: string } | undefined)
          ?.resourceVersion;
        const body = { ...obj, metadata: { ...obj.metadata, resourceVersion: rv } };
        answer = await this.adminFetch("PUT", item, { body, query });
      }
      if (answer.status >= 300) {
        throw new KubeApiError(
          "APPLY",
          what,
          answer.status,
          answer.body.reason as string | undefined,
          String(answer.body.message ?? ""),
        );
      }
      out.push({ object: obj, warnings: answer.warnings });
    }
    return out;
  }

  /** Stops kube-apiserver (etcd keeps its data); see {@linkcode startApiServer}. */
  async stopApiServer(): Promise<void> {
    await this.apiserver.stop();
  }

  /** Starts kube-apiserver again on the same port, with the same data, and waits until ready. */
  async startApiServer(): Promise<void> {
    this.apiserver = this.processes.spawn(
      "kube-apiserver",
      this.#apiserverBin,
      this.#apiserverArgs,
      {
        echo: false,
      },
    );
    await waitReady(this.admin, this.apiserver);
  }

  /**
   * Runs `fn` with a second kube-apiserver on another port, backed by the same etcd, while the
   * main one may be stopped: lets a test change the cluster while the sidecar's API server is down.
   */
  async withSecondApiServer<T>(fn: (admin: KubeClient) => Promise<T>): Promise<T> {
    const port = freePort();
    const args = this.#apiserverArgs.map((a) =>
      a.startsWith("--secure-port=") ? `--secure-port=${port}` : a
    );
    const proc = this.processes.spawn("kube-apiserver-2", this.#apiserverBin, args);
    const admin = new KubeClient({
      server: `https://127.0.0.1:${port}`,
      caCert: this.pki.caCert,
      clientCert: this.pki.adminCert,
      clientKey: this.pki.adminKey,
    });
    try {
      await waitReady(admin, proc);
      return await fn(admin);
    } finally {
      admin.close();
      await proc.stop();
    }
  }

  /** Stops every process and removes the data directory. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.admin.close();
    this.#adminHttp?.close();
    await this.processes.stopAll();
    await Deno.remove(this.dataDir, { recursive: true }).catch(() => {});
  }

  /** Same as {@linkcode stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/** An answer of {@linkcode Cluster.adminFetch}. */
export interface AdminAnswer {
  status: number;
  /** The parsed JSON answer (a `Status` on failure). */
  body: Record<string, unknown>;
  /** The answer's `Warning` headers, e.g. Pod Security's "would violate PodSecurity …". */
  warnings: string[];
}

/** One object {@linkcode Cluster.apply} created or replaced. */
export interface AppliedObject {
  object: KubeObject;
  warnings: string[];
}

/** API group/version, plural and scope of the kinds tests apply. */
const KINDS: Record<string, { prefix: string; plural: string; namespaced: boolean }> = {
  Namespace: { prefix: "/api/v1", plural: "namespaces", namespaced: false },
  ServiceAccount: { prefix: "/api/v1", plural: "serviceaccounts", namespaced: true },
  ConfigMap: { prefix: "/api/v1", plural: "configmaps", namespaced: true },
  Secret: { prefix: "/api/v1", plural: "secrets", namespaced: true },
  Pod: { prefix: "/api/v1", plural: "pods", namespaced: true },
  Service: { prefix: "/api/v1", plural: "services", namespaced: true },
  Deployment: { prefix: "/apis/apps/v1", plural: "deployments", namespaced: true },
  Role: { prefix: "/apis/rbac.authorization.k8s.io/v1", plural: "roles", namespaced: true },
  RoleBinding: {
    prefix: "/apis/rbac.authorization.k8s.io/v1",
    plural: "rolebindings",
    namespaced: true,
  },
  ClusterRole: {
    prefix: "/apis/rbac.authorization.k8s.io/v1",
    plural: "clusterroles",
    namespaced: false,
  },
  ClusterRoleBinding: {
    prefix: "/apis/rbac.authorization.k8s.io/v1",
    plural: "clusterrolebindings",
    namespaced: false,
  },
};

/**
 * The collection an object is created in (`POST`), e.g.
 * `/api/v1/namespaces/default/configmaps`; a namespaced object without a namespace goes to
 * `default`, as kubectl does.
 */
export function collectionPath(obj: KubeObject): string {
  const kind = KINDS[obj.kind ?? ""];
  if (!kind) {
    throw new Error(
      `no API path known for kind ${obj.kind} (${obj.metadata?.name}); add it to KINDS`,
    );
  }
  return kind.namespaced
    ? `${kind.prefix}/namespaces/${obj.metadata.namespace ?? "default"}/${kind.plural}`
    : `${kind.prefix}/${kind.plural}`;
}

/** The objects of a multi-document YAML text (empty documents skipped). */
export function parseManifests(text: string): KubeObject[] {
  const out: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`YAML: ${doc.errors[0]!.message}`);
    const obj = doc.toJS() as KubeObject | null;
    if (obj) out.push(obj);
  }
  return out;
}

async function ignoreConflict(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof KubeApiError && e.status === 409)) throw e;
  }
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function waitReady(
  admin: KubeClient,
  proc: ManagedProcess,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  proc.wait().then(() => (exited = true));
  let last = "";
  while (Date.now() < deadline) {
    if (exited) {
      throw new Error(`${proc.name} exited before it was ready:\n${proc.output.slice(-4000)}`);
    }
    try {
      await admin.request("GET", "/readyz", { signal: AbortSignal.timeout(5000) });
      return;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `${proc.name} not ready after ${timeoutMs / 1000}s (last: ${last}):\n${
      proc.output.slice(-4000)
    }`,
  );
}

async function waitEtcd(url: string, proc: ManagedProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const status = await Promise.race([
      proc.wait().then(() => "exited"),
      new Promise((r) => setTimeout(r, 0, "running")),
    ]);
    if (status === "exited") throw new Error(`etcd exited:\n${proc.output.slice(-4000)}`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      const body = await res.text();
      if (res.ok && body.includes("true")) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`etcd not healthy after 30s:\n${proc.output.slice(-4000)}`);
}

/**
 * A kubeconfig for this server with `user` as credentials (client certificate or token). YAML is
 * a superset of JSON, so JSON is written.
 */
export function kubeconfigText(
  server: string,
  caCert: string,
  user: { "client-certificate-data": string; "client-key-data": string } | { token: string },
): string {
  return JSON.stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{
        name: "gsidecar-test",
        cluster: { server, "certificate-authority-data": btoa(caCert) },
      }],
      users: [{ name: "user", user }],
      contexts: [{ name: "gsidecar-test", context: { cluster: "gsidecar-test", user: "user" } }],
      "current-context": "gsidecar-test",
    },
    null,
    2,
  );
}

/** The admin kubeconfig (client certificate in `system:masters`). */
export function adminKubeconfig(server: string, pki: Pki): string {
  return kubeconfigText(server, pki.caCert, {
    "client-certificate-data": btoa(pki.adminCert),
    "client-key-data": btoa(pki.adminKey),
  });
}

/**
 * Starts etcd and kube-apiserver on free loopback ports, waits until `/readyz` answers (60 s at
 * most), and writes an admin kubeconfig. Builds the binaries first when they are missing.
 */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const bins = await controlPlaneBinaries();
  const dataDir = await Deno.makeTempDir({ prefix: "gsidecar-cluster-" });
  const processes = new ProcessGroup();
  try {
    const pki = await makePki(await Deno.makeTempDir({ dir: dataDir, prefix: "pki-" }));
    const [etcdClient, etcdPeer, apiPort] = [freePort(), freePort(), freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    const echo = opts.echo ?? false;
    const etcd = processes.spawn("etcd", bins.etcd, [
      "--name=default",
      `--data-dir=${join(dataDir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      "--unsafe-no-fsync",
      "--log-level=warn",
    ], { cleanupDir: dataDir, echo });
    await waitEtcd(etcdUrl, etcd);

    const apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dataDir, "apiserver-certs")}`,
      `--tls-cert-file=${pki.servingCertPath}`,
      `--tls-private-key-file=${pki.servingKeyPath}`,
      `--client-ca-file=${pki.caCertPath}`,
      "--authorization-mode=RBAC",
      `--service-account-issuer=https://127.0.0.1:${apiPort}`,
      `--service-account-key-file=${pki.saPubPath}`,
      `--service-account-signing-key-file=${pki.saKeyPath}`,
      "--disable-admission-plugins=ServiceAccount",
      // On by default since 1.25; named so that namespace labels enforce Pod Security here too.
      "--enable-admission-plugins=PodSecurity",
      "--service-cluster-ip-range=10.0.0.0/24",
      "--endpoint-reconciler-type=none",
      "--allow-privileged=true",
      "--v=0",
    ];
    if (opts.auditLogPath) {
      const policy = join(dataDir, "audit-policy.json");
      await Deno.writeTextFile(policy, AUDIT_POLICY);
      apiserverArgs.push(
        `--audit-policy-file=${policy}`,
        `--audit-log-path=${opts.auditLogPath}`,
        "--audit-log-format=json",
        "--audit-log-mode=blocking",
      );
    }
    const apiserver = processes.spawn("kube-apiserver", bins.apiserver, apiserverArgs, { echo });
    const kubeconfigPath = opts.kubeconfigPath ?? join(dataDir, "kubeconfig");
    const cluster = new Cluster({
      dataDir,
      pki,
      port: apiPort,
      kubeconfigPath,
      processes,
      etcd,
      apiserver,
      apiserverBin: bins.apiserver,
      apiserverArgs,
    });
    try {
      await waitReady(cluster.admin, apiserver);
      await Deno.writeTextFile(kubeconfigPath, adminKubeconfig(cluster.server, pki), {
        mode: 0o600,
      });
    } catch (e) {
      await cluster.stop();
      throw e;
    }
    return cluster;
  } catch (e) {
    await processes.stopAll();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    throw e;
  }
}
