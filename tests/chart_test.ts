/**
 * The Grafana Helm chart's own sidecar environments (`fixtures/grafana-chart-sidecar-env.json`,
 * rendered from the chart's defaults) with `COMPAT=kiwigrid` added and nothing else changed,
 * against a real kube-apiserver with RBAC, each container as its own process with the pod's
 * least-privilege service-account token (the chart's namespaced Role).
 *
 * Two things are mapped, because a test cannot use the pod's paths and ports:
 * - each container's in-pod `FOLDER` maps to a temporary folder of its own (the containers here
 *   come from different chart versions and values, so none shares a pod's folder with another);
 * - `REQ_URL`'s `localhost:3000` (Grafana) becomes `localhost:<port>` of a local receiver that
 *   plays Grafana's reload API (listening on `::`, so `localhost` works however it resolves).
 * The harness also points `GSIDECAR_SERVICE_ACCOUNT_DIR` and `KUBERNETES_SERVICE_*` at the test
 * API server, as the kubelet's mount and environment would.
 *
 * `init-sc-datasources-10.5.8` is recorded, not run: its METHOD is WATCH, so it never exits, with
 * kiwigrid too (a chart issue).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { READ_CONFIGMAPS_AND_SECRETS, startCluster } from "./harness/cluster.ts";
import { cm, readText, replaceCm } from "./harness/fixtures.ts";
import { denoEnv, MAIN } from "./harness/deno_child.ts";
import type { ManagedProcess } from "./harness/process.ts";
import { eventually } from "./harness/sidecar.ts";
import { encodeBase64 } from "../src/util/base64.ts";

const FIXTURE = fileURLToPath(
  new URL("./fixtures/grafana-chart-sidecar-env.json", import.meta.url),
);
const NS = "grafana";
const ADMIN = `Basic ${btoa("admin:chart-admin-pw")}`;

type Containers = Record<string, { env: Record<string, string> }>;
const chart = JSON.parse(await Deno.readTextFile(FIXTURE)) as Containers;

/** Grafana's reload API, as far as the sidecars use it. */
class Grafana implements AsyncDisposable {
  readonly requests: { method: string; path: string; authorization: string | null }[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  constructor() {
    this.#server = Deno.serve({ hostname: "::", port: 0, onListen() {} }, async (req) => {
      await req.body?.cancel();
      this.requests.push({
        method: req.method,
        path: new URL(req.url).pathname,
        authorization: req.headers.get("authorization"),
      });
      return Response.json({ message: "Dashboards config reloaded" });
    });
  }

  get port(): number {
    return this.#server.addr.port;
  }

  reloads(kind: "dashboards" | "datasources"): number {
    return this.requests.filter((r) => r.path === `/api/admin/provisioning/${kind}/reload`).length;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.#server.shutdown();
  }
}

Deno.test("the Grafana chart's sidecars with COMPAT=kiwigrid added", async (t) => {
  await using cluster = await startCluster();
  await using grafana = new Grafana();
  await cluster.createNamespace(NS);
  // The chart's ServiceAccount and namespaced Role (rbac.namespaced: true).
  const sa = await cluster.createServiceAccount({
    namespace: NS,
    name: "grafana",
    rules: READ_CONFIGMAPS_AND_SECRETS,
  });
  const pod = await cluster.podEnvironment(sa);

  /** The container's env from the fixture, with COMPAT=kiwigrid and the two mappings. */
  const containerEnv = async (name: string): Promise<Record<string, string>> => {
    const env: Record<string, string> = { ...chart[name]!.env, COMPAT: "kiwigrid" };
    env.FOLDER = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: `${name}-` });
    if (env.REQ_URL) {
      env.REQ_URL = env.REQ_URL.replace("localhost:3000", `localhost:${grafana.port}`);
    }
    return env;
  };
  const start = async (name: string): Promise<{ proc: ManagedProcess; folder: string }> => {
    const env = await containerEnv(name);
    const proc = cluster.processes.spawn(name, Deno.execPath(), [
      "run",
      "--allow-all",
      "--quiet",
      MAIN,
    ], { clearEnv: true, env: { ...denoEnv(), ...pod.env, ...env } });
    return { proc, folder: env.FOLDER! };
  };

  // What the chart's users label: dashboards (a ConfigMap and a Secret), datasources, alerts.
  await cm(cluster, NS, "dash-cpu", { "cpu.json": '{"title":"CPU"}' }, {
    labels: { grafana_dashboard: "1" },
  });
  await cluster.admin.create(`/api/v1/namespaces/${NS}/secrets`, {
    metadata: { name: "dash-secret", labels: { grafana_dashboard: "1" } },
    data: { "secret-dash.json": encodeBase64(new TextEncoder().encode('{"title":"S"}')) },
  });
  const datasource = "apiVersion: 1\ndatasources:\n  - name: Prometheus\n    type: prometheus\n";
  await cm(cluster, NS, "ds-prom", { "datasource.yaml": datasource }, {
    labels: { grafana_datasource: "1" },
  });
  const alert = "apiVersion: 1\ngroups: []\n";
  await cm(cluster, NS, "alerts", { "alerts.yaml": alert }, { labels: { grafana_alert: "1" } });

  await t.step("init containers with METHOD=LIST write their files and exit 0", async () => {
    for (const name of ["init-sc-alerts", "init-sc-datasources-10.1.2"]) {
      const { proc, folder } = await start(name);
      // Bounded: an init container that never exits is the failure this step exists for.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const status = await Promise.race([
        proc.wait(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`${name} still running:\n${proc.output}`)),
            60_000,
          );
        }),
      ]).finally(async () => {
        clearTimeout(timer);
        await proc.stop();
      });
      assert.equal(status.code, 0, `${name}:\n${proc.output}`);
      const expected = name === "init-sc-alerts"
        ? { file: "alerts.yaml", text: alert }
        : { file: "datasource.yaml", text: datasource };
      assert.equal(await readText(join(folder, expected.file)), expected.text, name);
    }
    assert.equal(grafana.requests.length, 0, "the init containers have no REQ_URL");
  });

  await t.step(
    "dashboards and datasources sidecars run side by side with the chart's env",
    async () => {
      // Both take the default health port 8080. Whoever holds it, the second must say so and sync.
      const dashboards = await start("sc-dashboard");
      try {
        await eventually(
          () =>
            assert.match(
              dashboards.proc.output,
              /health endpoints listening|health server not started/,
            ),
          { proc: dashboards.proc },
        );
        const datasources = await start("sc-datasources");
        try {
          await eventually(
            () =>
              assert.match(
                datasources.proc.output,
                /health server not started: HEALTH_HOST\/HEALTH_PORT address \[::\]:8080 is already in use/,
              ),
            { proc: datasources.proc, what: "the second sidecar reports the port clash" },
          );
          // Both sync: every key written as it is (the .yaml datasource too), Secrets included.
          await eventually(async () => {
            assert.equal(await readText(join(dashboards.folder, "cpu.json")), '{"title":"CPU"}');
            assert.equal(
              await readText(join(dashboards.folder, "secret-dash.json")),
              '{"title":"S"}',
            );
          }, { proc: dashboards.proc });
          await eventually(
            async () =>
              assert.equal(await readText(join(datasources.folder, "datasource.yaml")), datasource),
            { proc: datasources.proc },
          );
          // The initial sync ends in one reload each, with the chart's basic-auth credentials.
          await eventually(() => {
            assert.equal(grafana.reloads("dashboards"), 1);
            assert.equal(grafana.reloads("datasources"), 1);
          }, { proc: datasources.proc });

          // Every edit: exactly one reload request. Each edit waits for its file and its request;
          // the count at the end shows that no edit produced a second one.
          await replaceCm(cluster, NS, "dash-cpu", { "cpu.json": '{"title":"CPU v2"}' }, {
            grafana_dashboard: "1",
          });
          await eventually(async () => {
            assert.equal(await readText(join(dashboards.folder, "cpu.json")), '{"title":"CPU v2"}');
            assert.equal(grafana.reloads("dashboards"), 2);
          }, { proc: dashboards.proc });
          const datasource2 = datasource.replace("Prometheus", "Prometheus 2");
          await replaceCm(cluster, NS, "ds-prom", { "datasource.yaml": datasource2 }, {
            grafana_datasource: "1",
          });
          await eventually(async () => {
            assert.equal(await readText(join(datasources.folder, "datasource.yaml")), datasource2);
            assert.equal(grafana.reloads("datasources"), 2);
          }, { proc: datasources.proc });
          await cm(cluster, NS, "dash-mem", { "mem.json": '{"title":"Mem"}' }, {
            labels: { grafana_dashboard: "1" },
          });
          await eventually(async () => {
            assert.equal(await readText(join(dashboards.folder, "mem.json")), '{"title":"Mem"}');
            assert.equal(grafana.reloads("dashboards"), 3);
          }, { proc: dashboards.proc });
          assert.equal(grafana.reloads("dashboards"), 3, "one request per edit");
          assert.equal(grafana.reloads("datasources"), 2, "one request per edit");
          for (const r of grafana.requests) {
            assert.equal(r.method, "POST");
            assert.equal(r.authorization, ADMIN, "the chart's admin credentials");
          }
          assert.ok(!dashboards.proc.output.includes("chart-admin-pw"));
          assert.ok(!datasources.proc.output.includes("chart-admin-pw"));
        } finally {
          await datasources.proc.stop();
        }
      } finally {
        await dashboards.proc.stop();
      }
    },
  );

  await t.step("watchMethod: SLEEP polls every SLEEP_TIME", async () => {
    grafana.requests.length = 0;
    const sleeping = await start("sc-dashboard-sleep");
    try {
      await eventually(
        () => assert.match(sleeping.proc.output, /health endpoints listening/),
        { proc: sleeping.proc, what: "the health server on 8080 (is port 8080 free?)" },
      );
      await eventually(async () => {
        assert.equal(await readText(join(sleeping.folder, "mem.json")), '{"title":"Mem"}');
        assert.equal(grafana.reloads("dashboards"), 1);
      }, { proc: sleeping.proc });
      const lists = await listsTotal();
      await replaceCm(cluster, NS, "dash-mem", { "mem.json": '{"title":"Mem v2"}' }, {
        grafana_dashboard: "1",
      });
      // The chart's SLEEP_TIME is kiwigrid's default, 60 s: the change arrives with the next list.
      await eventually(async () => {
        assert.equal(await readText(join(sleeping.folder, "mem.json")), '{"title":"Mem v2"}');
        assert.equal(grafana.reloads("dashboards"), 2);
      }, { proc: sleeping.proc, timeoutMs: 150_000, what: "the change, at the next poll" });
      assert.ok((await listsTotal()) > lists, "it relisted rather than watched");
    } finally {
      await sleeping.proc.stop();
    }
  });
});

async function listsTotal(): Promise<number> {
  const text = await (await fetch("http://127.0.0.1:8080/metrics")).text();
  return text.split("\n").filter((l) => l.startsWith("gsidecar_lists_total")).reduce(
    (sum, l) => sum + Number(l.split(" ").pop()),
    0,
  );
}
