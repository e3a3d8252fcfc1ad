/**
 * The manifests in deploy/ are accepted by a real API server with strict field validation, and
 * the RBAC they grant is exactly what the sidecar needs.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import type { KubeObject } from "../src/kube/client.ts";
import { startCluster } from "./harness/cluster.ts";

const deploy = (name: string) => fileURLToPath(new URL(`../deploy/${name}`, import.meta.url));

const PATHS: Record<string, (ns: string) => string> = {
  ServiceAccount: (ns) => `/api/v1/namespaces/${ns}/serviceaccounts`,
  Pod: (ns) => `/api/v1/namespaces/${ns}/pods`,
  Role: (ns) => `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`,
  RoleBinding: (ns) => `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`,
};

Deno.test("deploy/ manifests are accepted with strict validation and grant least privilege", async () => {
  await using cluster = await startCluster();
  await cluster.createNamespace("monitoring");
  for (const file of ["rbac.yaml", "grafana.yaml"]) {
    for (const doc of parseAllDocuments(await Deno.readTextFile(deploy(file)))) {
      const obj = doc.toJS() as KubeObject;
      const path = PATHS[obj.kind ?? ""];
      assert.ok(path, `${file}: no API path for kind ${obj.kind}`);
      await cluster.admin.create(path(obj.metadata.namespace ?? "default"), obj, {
        query: { fieldValidation: "Strict" },
      });
    }
  }
  const review = async (verb: string, resource: string, namespace: string) => {
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
    assert.equal(await review(verb, "configmaps", "monitoring"), true, verb);
    assert.equal(await review(verb, "secrets", "monitoring"), true, verb);
  }
  assert.equal(
    await review("list", "configmaps", "default"),
    false,
    "nothing outside its namespace",
  );
  assert.equal(await review("update", "configmaps", "monitoring"), false, "read-only");
});
