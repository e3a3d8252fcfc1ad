/**
 * deploy/ on a real API server: every manifest is accepted by a server-side dry run with Pod
 * Security "restricted" enforced (and a copy weakened on purpose is refused, so the check can
 * fail), the Role grants exactly what the sidecar needs, and the sidecar, with the Deployment's
 * environment and the Role's token, writes the example dashboard into the folder Grafana's
 * provider reads and asks Grafana to reload with the Secret's credentials.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { KubeApiError, type KubeObject } from "../src/kube/client.ts";
import { receiver } from "../src/testing/mod.ts";
import { type Cluster, parseManifests, startCluster } from "./harness/cluster.ts";
import { eventually, startSidecar } from "./harness/sidecar.ts";

const DEPLOY_FILES = ["namespace.yaml", "rbac.yaml", "grafana.yaml"];

async function deployObjects(): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  for (const name of DEPLOY_FILES) {
    const path = fileURLToPath(new URL(`../deploy/${name}`, import.meta.url));
    out.push(...parseManifests(await Deno.readTextFile(path)));
  }
  return out;
}

// --- the shapes read from the manifests ------------------------------------------------------

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    secretKeyRef?: { name: string; key: string };
  };
}
interface Container {
  name: string;
  env?: EnvVar[];
  volumeMounts?: { name: string; mountPath: string }[];
  securityContext?: Record<string, unknown>;
  restartPolicy?: string;
  startupProbe?: unknown;
  readinessProbe?: { httpGet?: { path: string } };
  livenessProbe?: { httpGet?: { path: string } };
}
interface PodSpec {
  securityContext?: Record<string, unknown>;
  initContainers?: Container[];
  containers: Container[];
  volumes?: { name: string; secret?: { secretName: string }; configMap?: { name: string } }[];
  [field: string]: unknown;
}
interface Deployment extends KubeObject {
  spec: { template: { metadata?: { labels?: Record<string, string> }; spec: PodSpec } };
}

function one<T extends KubeObject>(objects: KubeObject[], kind: string, name?: string): T {
  const hits = objects.filter((o) => o.kind === kind && (!name || o.metadata.name === name));
  assert.equal(hits.length, 1, `exactly one ${kind}${name ? ` ${name}` : ""} in deploy/`);
  return hits[0] as T;
}

/** The pod the Deployment's ReplicaSet creates: Pod Security enforces on pods, not workloads. */
function podOf(deployment: Deployment, name = "grafana-dry-run"): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: deployment.metadata.namespace!,
      labels: deployment.spec.template.metadata?.labels ?? {},
    },
    spec: structuredClone(deployment.spec.template.spec),
  };
}

function sidecarOf(spec: PodSpec): Container {
  const c = (spec.initContainers ?? []).find((c) => c.name === "k8s-gsidecar");
  assert.ok(c, "an init container named k8s-gsidecar");
  return c;
}

function envOf(c: Container, name: string): EnvVar {
  const v = c.env?.find((e) => e.name === name);
  assert.ok(v, `${c.name} sets ${name}`);
  return v;
}

function mountOf(c: Container, volume: string): string {
  const m = c.volumeMounts?.find((m) => m.name === volume);
  assert.ok(m, `${c.name} mounts ${volume}`);
  return m.mountPath;
}

/** Dry-runs `pod` and returns the refusal's message, or undefined when it is accepted. */
async function refusal(cluster: Cluster, pod: KubeObject): Promise<string | undefined> {
  try {
    await cluster.apply([pod], { dryRun: true, strict: true });
    return undefined;
  } catch (e) {
    if (e instanceof KubeApiError && e.status === 403) return e.message;
    throw e;
  }
}

// --- tests -----------------------------------------------------------------------------------

Deno.test("deploy/ is accepted by a server-side dry run with Pod Security 'restricted' enforced", async () => {
  await using cluster = await startCluster();
  const objects = await deployObjects();
  const ns = one(objects, "Namespace");
  assert.equal(ns.metadata.labels?.["pod-security.kubernetes.io/enforce"], "restricted");
  // A namespaced dry run needs its namespace to exist: the Namespace is dry-run, then created.
  await cluster.apply([ns], { dryRun: true, strict: true });
  await cluster.apply([ns], { strict: true });

  const rest = objects.filter((o) => o !== ns);
  const applied = await cluster.apply(rest, { dryRun: true, strict: true });
  for (const a of applied) {
    assert.deepEqual(a.warnings, [], `${a.object.kind} ${a.object.metadata.name}: warnings`);
  }
  const deployment = one<Deployment>(objects, "Deployment");
  const [pod] = await cluster.apply([podOf(deployment)], { dryRun: true, strict: true });
  assert.deepEqual(pod!.warnings, []);

  // Dry runs store nothing.
  const stored = await cluster.adminFetch(
    "GET",
    "/api/v1/namespaces/monitoring/secrets/grafana-admin",
  );
  assert.equal(stored.status, 404);
});

Deno.test("deploy/: copies weakened on purpose are refused by Pod Security", async () => {
  await using cluster = await startCluster();
  const objects = await deployObjects();
  await cluster.apply([one(objects, "Namespace")]);
  const deployment = one<Deployment>(objects, "Deployment");
  const weakened: [string, (spec: PodSpec) => void, RegExp][] = [
    ["runAsNonRoot removed", (s) => {
      delete s.securityContext!.runAsNonRoot;
      for (const c of [...s.initContainers!, ...s.containers]) {
        delete c.securityContext!.runAsNonRoot;
      }
    }, /runAsNonRoot/],
    ["the sidecar may escalate privileges", (s) => {
      sidecarOf(s).securityContext!.allowPrivilegeEscalation = true;
    }, /allowPrivilegeEscalation/],
    ["the sidecar keeps its capabilities", (s) => {
      delete sidecarOf(s).securityContext!.capabilities;
    }, /capabilities/],
    ["no seccomp profile", (s) => {
      delete s.securityContext!.seccompProfile;
    }, /seccompProfile/],
  ];
  for (const [what, weaken, violation] of weakened) {
    const pod = podOf(deployment);
    weaken(pod.spec as PodSpec);
    const refused = await refusal(cluster, pod);
    assert.ok(refused, `${what}: accepted`);
    assert.match(refused, /violates PodSecurity "restricted/, what);
    assert.match(refused, violation, what);
  }
  // The unweakened pod passes the same check, so the refusals above are the weakening's.
  assert.equal(await refusal(cluster, podOf(deployment)), undefined);
});

Deno.test("deploy/ RBAC grants the sidecar's service account exactly get/list/watch on ConfigMaps in its namespace", async () => {
  await using cluster = await startCluster();
  const objects = await deployObjects();
  await cluster.apply([one(objects, "Namespace")]);
  await cluster.apply(objects.filter((o) => /^(ServiceAccount|Role|RoleBinding)$/.test(o.kind!)));
  const allowed = async (verb: string, resource: string, namespace: string) => {
    const res = await cluster.admin.create<{ status: { allowed: boolean } }>(
      "/apis/authorization.k8s.io/v1/subjectaccessreviews",
      {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
          user: "system:serviceaccount:monitoring:k8s-gsidecar",
          groups: ["system:serviceaccounts", "system:serviceaccounts:monitoring"],
          resourceAttributes: { verb, resource, namespace },
        },
      },
    );
    return res.status.allowed;
  };
  for (const verb of ["get", "list", "watch"]) {
    assert.equal(await allowed(verb, "configmaps", "monitoring"), true, verb);
  }
  assert.equal(await allowed("list", "secrets", "monitoring"), false, "no Secrets");
  assert.equal(await allowed("list", "configmaps", "default"), false, "nothing elsewhere");
  for (const verb of ["create", "update", "patch", "delete"]) {
    assert.equal(await allowed(verb, "configmaps", "monitoring"), false, `read-only: ${verb}`);
  }
});

Deno.test("deploy/: the sidecar as deployed writes the example dashboard where Grafana's provider reads and reloads Grafana with the Secret's credentials", async () => {
  const objects = await deployObjects();
  const deployment = one<Deployment>(objects, "Deployment");
  const spec = deployment.spec.template.spec;
  const sidecar = sidecarOf(spec);
  const grafana = spec.containers.find((c) => c.name === "grafana");
  assert.ok(grafana, "a container named grafana");

  // The wiring, as Kubernetes would resolve it.
  assert.equal(sidecar.restartPolicy, "Always", "a native sidecar");
  assert.equal(sidecar.readinessProbe?.httpGet?.path, "/readyz");
  assert.equal(sidecar.livenessProbe?.httpGet?.path, "/healthz");
  const folder = envOf(sidecar, "FOLDER").value!;
  assert.equal(mountOf(sidecar, "dashboards"), folder, "the sidecar writes into the shared volume");
  assert.equal(mountOf(grafana, "dashboards"), folder, "Grafana sees the same folder");
  const providerCm = one(objects, "ConfigMap", "grafana-dashboard-provider") as KubeObject & {
    data: Record<string, string>;
  };
  const providerDir = mountOf(grafana, "provider");
  assert.equal(providerDir, "/etc/grafana/provisioning/dashboards", "Grafana's provisioning dir");
  const { parse } = await import("yaml");
  const provider = parse(Object.values(providerCm.data)[0]!) as {
    providers: { type: string; options: { path: string } }[];
  };
  assert.equal(provider.providers[0]?.type, "file");
  assert.equal(provider.providers[0]?.options.path, folder, "the provider reads the folder");
  const secret = one(objects, "Secret", "grafana-admin") as KubeObject & {
    stringData: Record<string, string>;
  };
  const adminVolume = spec.volumes?.find((v) => v.secret?.secretName === "grafana-admin");
  assert.ok(adminVolume, "the Secret is a volume");
  const secretDir = mountOf(sidecar, adminVolume.name);
  const credentialFile = (name: string, gfName: string) => {
    const path = envOf(sidecar, name).value!;
    const key = path.slice(secretDir.length + 1);
    assert.ok(path.startsWith(`${secretDir}/`) && secret.stringData[key], `${name} is a key`);
    assert.deepEqual(envOf(grafana, gfName).valueFrom?.secretKeyRef, {
      name: "grafana-admin",
      key,
    });
    return secret.stringData[key]!;
  };
  const user = credentialFile("REQ_USERNAME_FILE", "GF_SECURITY_ADMIN_USER");
  const password = credentialFile("REQ_PASSWORD_FILE", "GF_SECURITY_ADMIN_PASSWORD");

  // Run it: the objects (not the Deployment) for real, the sidecar with the container's
  // environment; in-pod paths map to temporary ones, localhost:3000 to a local receiver.
  await using cluster = await startCluster();
  await cluster.apply(objects.filter((o) => o.kind !== "Deployment" && o.kind !== "Service"));
  await using grafanaApi = receiver(() => new Response("{}", { status: 200 }));
  const reloadUrl = new URL(envOf(sidecar, "REQ_URL").value!);
  assert.equal(reloadUrl.origin, "http://localhost:3000");
  const out = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "dashboards-" });
  const creds = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "grafana-admin-" });
  const env: Record<string, string> = {};
  for (const e of sidecar.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.namespace") env[e.name] = "monitoring";
    else throw new Error(`${e.name}: a source this test does not resolve`);
  }
  for (const [key, value] of Object.entries(secret.stringData)) {
    await Deno.writeTextFile(join(creds, key), value);
  }
  Object.assign(env, {
    FOLDER: out,
    REQ_USERNAME_FILE: join(creds, env.REQ_USERNAME_FILE!.slice(secretDir.length + 1)),
    REQ_PASSWORD_FILE: join(creds, env.REQ_PASSWORD_FILE!.slice(secretDir.length + 1)),
    REQ_URL: `${grafanaApi.url}${reloadUrl.pathname}`,
    HEALTH_PORT: "0",
  });
  const token = await cluster.mintToken("monitoring", "k8s-gsidecar");
  const pod = await cluster.podEnvironment({
    namespace: "monitoring",
    name: "k8s-gsidecar",
    token,
  });
  const proc = startSidecar(cluster, pod, env, "deploy-sidecar");

  const dashboard = one(objects, "ConfigMap", "example-dashboard") as KubeObject & {
    data: Record<string, string>;
  };
  await eventually(async () => {
    assert.equal(
      await Deno.readTextFile(join(out, "example.json")),
      dashboard.data["example.json"],
    );
  }, { what: "example.json written", proc });

  // An edit: one reload, POST, with the Secret's credentials.
  const edited = structuredClone(dashboard);
  edited.data["example.json"] = dashboard.data["example.json"]!.replace(
    "k8s-gsidecar example",
    "k8s-gsidecar example (edited)",
  );
  await cluster.apply([edited]);
  await eventually(() => assert.equal(grafanaApi.received.length, 1), {
    what: "one reload request",
    proc,
  });
  const reload = grafanaApi.received[0]!;
  assert.equal(reload.method, "POST");
  assert.equal(reload.path, reloadUrl.pathname);
  assert.equal(reload.authorization, `Basic ${btoa(`${user}:${password}`)}`);
  assert.match(await Deno.readTextFile(join(out, "example.json")), /\(edited\)/);
  await proc.stop();
});

Deno.test("deploy/grafana-one-sidecar.yaml: accepted under Pod Security 'restricted', and its one sidecar serves all three syncs", async () => {
  const base = await deployObjects();
  const variant = parseManifests(
    await Deno.readTextFile(
      fileURLToPath(new URL("../deploy/grafana-one-sidecar.yaml", import.meta.url)),
    ),
  );
  const selectorRbac = parseManifests(
    await Deno.readTextFile(
      fileURLToPath(new URL("../deploy/rbac-namespace-selector.yaml", import.meta.url)),
    ),
  );
  await using cluster = await startCluster();
  const ns = one(base, "Namespace");
  await cluster.apply([ns]);
  await cluster.apply(base.filter((o) => o.kind !== "Namespace" && o.kind !== "Deployment"));
  for (
    const a of await cluster.apply([...variant, ...selectorRbac], { dryRun: true, strict: true })
  ) {
    assert.deepEqual(a.warnings, [], `${a.object.kind} ${a.object.metadata.name}: warnings`);
  }
  const deployment = one<Deployment>(variant, "Deployment");
  const [pod] = await cluster.apply([podOf(deployment, "one-sidecar-dry-run")], {
    dryRun: true,
    strict: true,
  });
  assert.deepEqual(pod!.warnings, []);

  // Run the sidecar with the ConfigMap's config file; in-pod folders map to temporary ones.
  const spec = deployment.spec.template.spec;
  const sidecar = sidecarOf(spec);
  const grafana = spec.containers.find((c) => c.name === "grafana")!;
  const syncsCm = one(variant, "ConfigMap", "k8s-gsidecar-syncs") as KubeObject & {
    data: Record<string, string>;
  };
  const { parse, stringify } = await import("yaml");
  const config = parse(syncsCm.data["config.yaml"]!) as {
    syncs: {
      name: string;
      label: string;
      folder: string;
      notifiers: { options: Record<string, unknown> }[];
    }[];
  };
  const dir = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "one-sidecar-" });
  const secret = one(base, "Secret", "grafana-admin") as KubeObject & {
    stringData: Record<string, string>;
  };
  for (const [key, value] of Object.entries(secret.stringData)) {
    await Deno.writeTextFile(join(dir, key), value);
  }
  for (const s of config.syncs) {
    // Each folder the sidecar writes is one Grafana reads.
    const volume = sidecar.volumeMounts!.find((m) => m.mountPath === s.folder)!.name;
    assert.equal(mountOf(grafana, volume), s.folder, `Grafana reads ${s.folder}`);
    s.folder = join(dir, s.name);
    for (const n of s.notifiers) {
      n.options.usernameFile = join(dir, "admin-user");
      n.options.passwordFile = join(dir, "admin-password");
    }
  }
  await Deno.writeTextFile(join(dir, "config.yaml"), stringify(config));
  for (
    const [name, label, key] of [
      ["ds-prometheus", "grafana_datasource", "prometheus.yaml"],
      ["alert-rules", "grafana_alert", "rules.yaml"],
    ]
  ) {
    await cluster.admin.create("/api/v1/namespaces/monitoring/configmaps", {
      metadata: { name, labels: { [label!]: "1" } },
      data: { [key!]: "apiVersion: 1\n" },
    });
  }
  const token = await cluster.mintToken("monitoring", "k8s-gsidecar");
  const podEnv = await cluster.podEnvironment({
    namespace: "monitoring",
    name: "k8s-gsidecar",
    token,
  });
  const proc = startSidecar(cluster, podEnv, {
    CONFIG: join(dir, "config.yaml"),
    NAMESPACE: "monitoring",
    HEALTH_PORT: "0",
  }, "one-sidecar");
  try {
    await eventually(async () => {
      await Deno.stat(join(dir, "dashboards", "example.json"));
      await Deno.stat(join(dir, "datasources", "prometheus.yaml"));
      await Deno.stat(join(dir, "alerts", "rules.yaml"));
    }, { what: "the three syncs' files", proc });
  } finally {
    await proc.stop();
  }
});
