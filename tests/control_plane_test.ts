import assert from "node:assert/strict";
import { KubeApiError, type KubeObject } from "../src/kube/client.ts";
import { READ_CONFIGMAPS, startCluster } from "./harness/cluster.ts";

Deno.test("local control plane serves the API with RBAC enforced for service accounts", async (t) => {
  await using cluster = await startCluster();

  await t.step("a ConfigMap created as admin is read back", async () => {
    await cluster.createNamespace("plain");
    await cluster.admin.create("/api/v1/namespaces/plain/configmaps", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "greeting", labels: { app: "demo" } },
      data: { "hello.json": '{"hello":"world"}' },
    });
    const cm = await cluster.admin.get<KubeObject & { data: Record<string, string> }>(
      "/api/v1/namespaces/plain/configmaps/greeting",
    );
    assert.equal(cm.metadata.labels?.app, "demo");
    assert.deepEqual(cm.data, { "hello.json": '{"hello":"world"}' });
  });

  await t.step("a Role in namespace A allows list and watch in A and gives 403 in B", async () => {
    await cluster.createNamespace("ns-b");
    await cluster.admin.create("/api/v1/namespaces/ns-b/configmaps", {
      metadata: { name: "secret-ish" },
      data: { k: "v" },
    });
    const sa = await cluster.createServiceAccount({
      namespace: "ns-a",
      name: "reader",
      rules: READ_CONFIGMAPS,
    });
    await cluster.admin.create("/api/v1/namespaces/ns-a/configmaps", {
      metadata: { name: "mine", labels: { pick: "yes" } },
      data: { a: "1" },
    });
    const client = cluster.clientFor(sa);
    try {
      const list = await client.list("/api/v1/namespaces/ns-a/configmaps", {
        labelSelector: "pick",
      });
      assert.deepEqual(list.items.map((i) => i.metadata.name), ["mine"]);

      const ac = new AbortController();
      const events = client.watch("/api/v1/namespaces/ns-a/configmaps", {
        resourceVersion: list.metadata.resourceVersion,
        labelSelector: "pick",
      }, ac.signal);
      await cluster.admin.create("/api/v1/namespaces/ns-a/configmaps", {
        metadata: { name: "second", labels: { pick: "yes" } },
      });
      const first = await events.next();
      assert.equal(first.value?.type, "ADDED");
      assert.equal(first.value?.object.metadata.name, "second");
      ac.abort();
      await events.return(undefined);

      for (const path of ["/api/v1/namespaces/ns-b/configmaps", "/api/v1/configmaps"]) {
        const err = await client.list(path).then(() => undefined, (e: unknown) => e);
        assert.ok(err instanceof KubeApiError, `expected a KubeApiError for ${path}, got ${err}`);
        assert.equal(err.status, 403);
        assert.equal(err.reason, "Forbidden");
      }
      const secrets = await client.list("/api/v1/namespaces/ns-a/secrets").then(
        () => 200,
        (e: KubeApiError) => e.status,
      );
      assert.equal(secrets, 403, "the Role grants configmaps only");
    } finally {
      client.close();
    }
  });

  await t.step("a watch started from a resourceVersion receives a later change", async () => {
    await cluster.createNamespace("watched");
    const created = await cluster.admin.create("/api/v1/namespaces/watched/configmaps", {
      metadata: { name: "cfg" },
      data: { v: "1" },
    });
    const ac = new AbortController();
    const events = cluster.admin.watch("/api/v1/namespaces/watched/configmaps", {
      resourceVersion: created.metadata.resourceVersion,
      allowWatchBookmarks: true,
    }, ac.signal);
    await cluster.admin.request("PUT", "/api/v1/namespaces/watched/configmaps/cfg", {
      body: { ...created, data: { v: "2" } },
    });
    let seen: KubeObject & { data?: Record<string, string> } | undefined;
    for await (const ev of events) {
      if (ev.type === "MODIFIED") {
        seen = ev.object as typeof seen;
        break;
      }
    }
    ac.abort();
    assert.equal(seen?.data?.v, "2");
    assert.ok(Number(seen?.metadata.resourceVersion) > Number(created.metadata.resourceVersion));
  });

  await t.step("the admin kubeconfig names the server and embeds the CA", async () => {
    const kc = JSON.parse(await Deno.readTextFile(cluster.kubeconfigPath));
    assert.equal(kc.clusters[0].cluster.server, cluster.server);
    assert.equal(atob(kc.clusters[0].cluster["certificate-authority-data"]), cluster.pki.caCert);
  });

  await t.step("a pod environment carries the token, CA and namespace files", async () => {
    const sa = await cluster.createServiceAccount({
      namespace: "ns-a",
      name: "reader",
      rules: READ_CONFIGMAPS,
    });
    const pod = await cluster.podEnvironment(sa);
    assert.equal(await Deno.readTextFile(`${pod.serviceAccountDir}/namespace`), "ns-a");
    assert.equal(await Deno.readTextFile(`${pod.serviceAccountDir}/token`), sa.token);
    assert.equal(pod.env.KUBERNETES_SERVICE_PORT, String(cluster.port));
  });

  await t.step("stopping and starting the API server keeps the data", async () => {
    await cluster.stopApiServer();
    await assert.rejects(cluster.admin.get("/api/v1/namespaces/plain/configmaps/greeting"));
    await cluster.startApiServer();
    const cm = await cluster.admin.get("/api/v1/namespaces/plain/configmaps/greeting");
    assert.equal(cm.metadata.name, "greeting");
  });
});

Deno.test("startCluster() leaves no process or data behind after stop()", async () => {
  const cluster = await startCluster();
  const pids = [cluster.etcd.pid, cluster.apiserver.pid];
  const dir = cluster.dataDir;
  await cluster.stop();
  for (const pid of pids) assert.equal(await alive(pid), false, `pid ${pid} still running`);
  await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
});

Deno.test("ProcessGroup's watchdog kills children when the test process dies without cleanup", async () => {
  const script = `
    import { ProcessGroup } from ${
    JSON.stringify(new URL("./harness/process.ts", import.meta.url).href)
  };
    const g = new ProcessGroup();
    const p = g.spawn("sleeper", "sleep", ["300"]);
    console.log(p.pid);
    await new Promise(() => {});
  `;
  const parent = new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = parent.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const { value } = await reader.read();
  const pid = Number(value?.trim());
  assert.ok(pid > 0, `no pid printed: ${value}`);
  assert.equal(await alive(pid), true);
  parent.kill("SIGKILL");
  await parent.status;
  await reader.cancel();
  let gone = false;
  for (let i = 0; i < 100 && !gone; i++) {
    gone = !(await alive(pid));
    if (!gone) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(gone, true, `child ${pid} outlived its killed parent`);
});

async function alive(pid: number): Promise<boolean> {
  // A zombie still answers kill -0; /proc/PID/stat's state field tells them apart.
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}
