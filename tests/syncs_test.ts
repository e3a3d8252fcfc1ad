/**
 * Several syncs in one process (a config file's `syncs:`), and namespaces chosen by label
 * (`NAMESPACE_SELECTOR`), against the real control plane with the sidecar as its own process and
 * a least-privilege token. The API server keeps an audit log, so that "watched once" is counted,
 * not guessed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { stringify } from "yaml";
import { type Cluster, type PolicyRule, READ_CONFIGMAPS, startCluster } from "./harness/cluster.ts";
import { absent, cm, listFiles, readText, replaceCm } from "./harness/fixtures.ts";
import { get, healthUrl, metric, settled } from "./harness/health.ts";
import { eventually, Receiver, startSidecar } from "./harness/sidecar.ts";

/** A sidecar with `config` as its config file and a service account that may do `rules`. */
async function withConfig(
  cluster: Cluster,
  opts: {
    name: string;
    namespace: string;
    rules: PolicyRule[];
    clusterWide?: boolean;
    config: unknown;
    env?: Record<string, string>;
  },
) {
  const sa = await cluster.createServiceAccount({
    namespace: opts.namespace,
    name: opts.name,
    rules: opts.rules,
    clusterWide: opts.clusterWide ?? false,
  });
  const pod = await cluster.podEnvironment(sa);
  const dir = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: `${opts.name}-` });
  const config = join(dir, "config.yaml");
  await Deno.writeTextFile(config, stringify(opts.config));
  const proc = startSidecar(cluster, pod, {
    CONFIG: config,
    HEALTH_HOST: "127.0.0.1",
    ERROR_THROTTLE_SLEEP: "0.5",
    ...opts.env,
  }, opts.name);
  return { proc, dir, user: `system:serviceaccount:${opts.namespace}:${opts.name}` };
}

/** Requests of `user` in the audit log: `verb path` → how many (distinct audit ids). */
async function requestsOf(auditLog: string, user: string): Promise<Map<string, number>> {
  const ids = new Map<string, Set<string>>();
  for (const line of (await Deno.readTextFile(auditLog)).split("\n")) {
    if (!line.trim()) continue;
    const e = JSON.parse(line);
    if (e.user?.username !== user) continue;
    const key = `${e.verb} ${String(e.requestURI).split("?")[0]}`;
    if (!ids.has(key)) ids.set(key, new Set());
    ids.get(key)!.add(e.auditID);
  }
  return new Map([...ids].map(([k, v]) => [k, v.size]));
}

async function labelNamespace(cluster: Cluster, ns: string, labels: Record<string, string | null>) {
  await cluster.admin.request("PATCH", `/api/v1/namespaces/${ns}`, {
    body: { metadata: { labels } },
    contentType: "application/merge-patch+json",
  });
}

Deno.test("one process serves every sync of a pod; namespaces follow a label selector", async (t) => {
  const auditLog = join(await Deno.makeTempDir({ prefix: "gsidecar-audit-" }), "audit.log");
  await using cluster = await startCluster({ auditLogPath: auditLog });

  await t.step(
    "three syncs in one process: each writes its folder and sends its own notification",
    async () => {
      const ns = "grafana";
      await cluster.createNamespace(ns);
      await cm(cluster, ns, "dash", { "dash.json": '{"title":"d"}' }, {
        labels: { grafana_dashboard: "1" },
      });
      await cm(cluster, ns, "ds", { "prometheus.yaml": "apiVersion: 1\n" }, {
        labels: { grafana_datasource: "1" },
      });
      await cm(cluster, ns, "alerts", { "rules.yaml": "groups: []\n" }, {
        labels: { grafana_alert: "1" },
      });
      await using receiver = new Receiver();
      const dirs = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "three-" });
      const sync = (name: string, label: string, writer: string) => ({
        name,
        label,
        namespace: ns,
        folder: join(dirs, name),
        writers: [{ use: writer }],
        notifiers: [{
          use: "http-basic",
          options: { url: `${receiver.url}/${name}`, method: "POST" },
        }],
      });
      const s = await withConfig(cluster, {
        name: "three",
        namespace: ns,
        rules: READ_CONFIGMAPS,
        config: {
          syncs: [
            sync("dashboards", "grafana_dashboard", "json-file"),
            sync("datasources", "grafana_datasource", "yaml-file"),
            sync("alerts", "grafana_alert", "yaml-file"),
          ],
        },
      });
      try {
        const url = await healthUrl(s.proc);
        await eventually(async () => {
          assert.deepEqual(await listFiles(join(dirs, "dashboards")), ["dash.json"]);
          assert.deepEqual(await listFiles(join(dirs, "datasources")), ["prometheus.yaml"]);
          assert.deepEqual(await listFiles(join(dirs, "alerts")), ["rules.yaml"]);
          assert.equal((await get(`${url}/readyz`)).status, 200);
        }, { proc: s.proc });
        await settled(url, s.proc);
        const paths = () => receiver.requests.map((r) => r.path).sort();
        assert.deepEqual(paths(), ["/alerts", "/dashboards", "/datasources"]);

        await replaceCm(cluster, ns, "ds", { "prometheus.yaml": "apiVersion: 1\n# v2\n" }, {
          grafana_datasource: "1",
        });
        await eventually(
          async () =>
            assert.equal(
              await readText(join(dirs, "datasources", "prometheus.yaml")),
              "apiVersion: 1\n# v2\n",
            ),
          { proc: s.proc },
        );
        await settled(url, s.proc);
        assert.deepEqual(paths(), ["/alerts", "/dashboards", "/datasources", "/datasources"]);
        const text = (await get(`${url}/metrics`)).body;
        assert.match(text, /^gsidecar_ready\{sync="alerts"\} 1$/m);
        assert.match(
          text,
          /^gsidecar_notifications_total\{sync="datasources",instance="[^"]+"\} 2$/m,
        );
        assert.match(s.proc.output, /"logger":"gsidecar\.datasources\.pipeline"/);
      } finally {
        await s.proc.stop();
      }
    },
  );

  await t.step(
    "a sync whose scope is refused holds back neither other sync; /readyz names it",
    async () => {
      const ns = "refused";
      await cluster.createNamespace(ns);
      await cm(cluster, ns, "a", { "a.json": "1" }, { labels: { app_a: "1" } });
      await cm(cluster, ns, "b", { "b.json": "2" }, { labels: { app_b: "1" } });
      const dirs = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "refused-" });
      const s = await withConfig(cluster, {
        name: "refused",
        namespace: ns,
        rules: READ_CONFIGMAPS,
        config: {
          syncs: [
            { name: "a", label: "app_a", namespace: ns, folder: join(dirs, "a") },
            { name: "b", label: "app_b", namespace: ns, folder: join(dirs, "b") },
            {
              name: "creds",
              label: "app_c",
              namespace: ns,
              resource: "secret",
              folder: join(dirs, "c"),
            },
          ],
        },
      });
      try {
        const url = await healthUrl(s.proc);
        await eventually(async () => {
          assert.deepEqual(await listFiles(join(dirs, "a")), ["a.json"]);
          assert.deepEqual(await listFiles(join(dirs, "b")), ["b.json"]);
          const ready = await get(`${url}/readyz`);
          assert.equal(ready.status, 503);
          assert.match(ready.body, /creds: secret@refused: cannot list: .*403/);
          assert.doesNotMatch(ready.body, /^a: |^b: /m);
        }, { proc: s.proc });
      } finally {
        await s.proc.stop();
      }
    },
  );

  await t.step("a scope identical across syncs is listed and watched once", async () => {
    const ns = "shared";
    await cluster.createNamespace(ns);
    await cm(cluster, ns, "x", { "x.json": "1", "x.txt": "one" });
    const dirs = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "shared-" });
    const s = await withConfig(cluster, {
      name: "shared",
      namespace: ns,
      rules: READ_CONFIGMAPS,
      config: {
        syncs: [
          { name: "json", label: "gsidecar-test", namespace: ns, folder: join(dirs, "json") },
          {
            name: "text",
            label: "gsidecar-test",
            namespace: ns,
            folder: join(dirs, "text"),
            writers: [{ use: "txt-file" }],
          },
        ],
      },
    });
    try {
      const url = await healthUrl(s.proc);
      await eventually(async () => {
        assert.deepEqual(await listFiles(join(dirs, "json")), ["x.json"]);
        assert.deepEqual(await listFiles(join(dirs, "text")), ["x.txt"]);
      }, { proc: s.proc });
      await replaceCm(cluster, ns, "x", { "x.json": "2", "x.txt": "two" });
      await eventually(async () => {
        assert.equal(await readText(join(dirs, "json", "x.json")), "2");
        assert.equal(await readText(join(dirs, "text", "x.txt")), "two");
      }, { proc: s.proc });
      await settled(url, s.proc);
      const requests = await requestsOf(auditLog, s.user);
      const path = `/api/v1/namespaces/${ns}/configmaps`;
      assert.equal(requests.get(`list ${path}`), 1, `requests: ${JSON.stringify([...requests])}`);
      assert.equal(requests.get(`watch ${path}`), 1, `requests: ${JSON.stringify([...requests])}`);
      const text = (await get(`${url}/metrics`)).body;
      assert.equal(metric(text, "gsidecar_lists_total", `configmap@${ns}`, { sync: "json" }), 1);
    } finally {
      await s.proc.stop();
    }
  });

  await t.step(
    "NAMESPACE_SELECTOR: namespaces labelled later are synced, unlabelled ones lose their files",
    async () => {
      const label = { "gsidecar-team": "observability" };
      await cluster.admin.create("/api/v1/namespaces", {
        metadata: { name: "sel-a", labels: label },
      });
      await cluster.createNamespace("sel-b");
      await cluster.createNamespace("sel-home");
      await cm(cluster, "sel-a", "a", { "a.json": '"a"' });
      await cm(cluster, "sel-b", "b", { "b.json": '"b"' });
      const folder = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "sel-" });
      const sa = await cluster.createServiceAccount({
        namespace: "sel-home",
        name: "selector",
        clusterWide: true,
        rules: [
          ...READ_CONFIGMAPS,
          { apiGroups: [""], resources: ["namespaces"], verbs: ["list", "watch"] },
        ],
      });
      const proc = startSidecar(cluster, await cluster.podEnvironment(sa), {
        FOLDER: folder,
        LABEL: "gsidecar-test",
        NAMESPACE_SELECTOR: "gsidecar-team=observability",
        HEALTH_HOST: "127.0.0.1",
      }, "selector");
      try {
        const url = await healthUrl(proc);
        await eventually(async () => {
          assert.deepEqual(await listFiles(folder), ["a.json"]);
          assert.equal((await get(`${url}/readyz`)).status, 200);
        }, { proc });
        await settled(url, proc);
        assert.deepEqual(await listFiles(folder), ["a.json"], "sel-b is not labelled");

        await labelNamespace(cluster, "sel-b", label);
        await eventually(async () => assert.equal(await readText(join(folder, "b.json")), '"b"'), {
          proc,
          what: "the namespace labelled after start",
        });
        await labelNamespace(cluster, "sel-a", { "gsidecar-team": null });
        await eventually(() => absent(join(folder, "a.json")), {
          proc,
          what: "the files of the namespace that lost its label",
        });
        // A namespace that holds objects before it is labelled.
        await cluster.createNamespace("sel-c");
        await cm(cluster, "sel-c", "c", { "c.json": '"c"' });
        await labelNamespace(cluster, "sel-c", label);
        await eventually(async () => assert.equal(await readText(join(folder, "c.json")), '"c"'), {
          proc,
        });
        assert.equal(await readText(join(folder, "b.json")), '"b"');
      } finally {
        await proc.stop();
      }
    },
  );

  await t.step(
    "NAMESPACE_SELECTOR without the right to list namespaces: /readyz says what is missing",
    async () => {
      await cluster.createNamespace("sel-noperm");
      const folder = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "noperm-" });
      const sa = await cluster.createServiceAccount({
        namespace: "sel-noperm",
        name: "noperm",
        clusterWide: true,
        rules: READ_CONFIGMAPS,
      });
      const proc = startSidecar(cluster, await cluster.podEnvironment(sa), {
        FOLDER: folder,
        LABEL: "gsidecar-test",
        NAMESPACE_SELECTOR: "gsidecar-team=observability",
        HEALTH_HOST: "127.0.0.1",
        ERROR_THROTTLE_SLEEP: "0.5",
      }, "noperm");
      try {
        const url = await healthUrl(proc);
        await eventually(async () => {
          const ready = await get(`${url}/readyz`);
          assert.equal(ready.status, 503);
          assert.match(
            ready.body,
            /namespaces: cannot list: .*403.*needs list and watch on namespaces/,
          );
        }, { proc });
      } finally {
        await proc.stop();
      }
    },
  );
});
