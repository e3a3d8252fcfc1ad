import assert from "node:assert/strict";
import { join } from "node:path";
import { readConfigFile } from "./file.ts";
import { resolveConfiguration } from "./resolve.ts";

async function withFile<T>(
  text: string,
  fn: (path: string, dir: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "config.yaml");
    await Deno.writeTextFile(path, text);
    return await fn(path, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const THREE = `
syncs:
  - name: dashboards
    label: grafana_dashboard
    folder: dash
    resources: [configmap, secret]
    notifiers:
      - use: http-basic
        options: { url: "http://127.0.0.1:3000/api/admin/provisioning/dashboards/reload" }
  - name: datasources
    label: grafana_datasource
    folder: /srv/datasources
    namespaces: [a, b]
    writers: [{ use: yaml-file }]
  - name: alerts
    label: grafana_alert
    labelValue: "1"
    folder: /srv/alerts
    method: sleep
`;

Deno.test("readConfigFile() reads syncs: names, the variables each key stands for, own plugins", async () => {
  await withFile(THREE, async (path, dir) => {
    const r = await readConfigFile(path);
    if (!r.ok) throw new Error(r.errors.join("\n"));
    const syncs = r.file.syncs!;
    assert.deepEqual(syncs.map((s) => s.name), ["dashboards", "datasources", "alerts"]);
    assert.deepEqual(syncs[0]!.env, {
      LABEL: "grafana_dashboard",
      FOLDER: join(dir, "dash"),
      RESOURCE: "both",
    });
    assert.equal(syncs[0]!.writers, undefined, "left out: the environment's");
    assert.equal(syncs[0]!.notifiers?.[0]?.use, "http-basic");
    assert.equal(syncs[1]!.env.NAMESPACE, "a,b");
    assert.equal(syncs[1]!.writers?.[0]?.use, "yaml-file");
    assert.deepEqual(syncs[2]!.env, {
      LABEL: "grafana_alert",
      LABEL_VALUE: "1",
      FOLDER: "/srv/alerts",
      METHOD: "sleep",
    });
  });
});

Deno.test("readConfigFile() reports every problem of the syncs at once, naming sync and key", async () => {
  const text = `
writers: [{ use: json-file }]
syncs:
  - name: Dash
    lable: x
  - name: same
    folder: /a
  - name: same
    folder: [{ nested: true }]
  - label: nameless
`;
  await withFile(text, async (path) => {
    const r = await readConfigFile(path);
    assert.ok(!r.ok);
    const all = r.errors.join("\n");
    assert.match(all, /writers: with syncs, give each sync its own writers/);
    assert.match(all, /syncs\[0\] "Dash": name: the string "Dash" is not a sync name/);
    assert.match(all, /syncs\[0\] "Dash": unknown key "lable" .*did you mean label\?/);
    assert.match(all, /syncs\[2\] "same": name: "same" is already used by syncs\[1\]/);
    assert.match(all, /syncs\[2\] "same": folder: expected a list of non-empty strings/);
    assert.match(all, /syncs\[3\]: name: missing/);
  });
});

Deno.test("resolveConfiguration() makes one plan per sync, unset settings from the environment", async () => {
  await withFile(THREE, async (path, dir) => {
    const r = await resolveConfiguration({
      CONFIG: path,
      NAMESPACE: "grafana",
      HEALTH_PORT: "9000",
    }, []);
    if (!r.ok) throw new Error(r.errors.join("\n"));
    assert.deepEqual(r.syncs.map((s) => s.name), ["dashboards", "datasources", "alerts"]);
    const [dash, ds, alerts] = r.syncs.map((s) => s.config);
    assert.equal(dash!.folder, join(dir, "dash"));
    assert.deepEqual(dash!.namespaces, ["grafana"], "NAMESPACE from the environment");
    assert.deepEqual(dash!.resources, ["configmap", "secret"]);
    assert.deepEqual(ds!.namespaces, ["a", "b"]);
    assert.equal(alerts!.method, "sleep");
    assert.equal(alerts!.labelSelector, "grafana_alert=1");
    assert.equal(r.config.healthPort, 9000);
    assert.deepEqual(r.syncs[0]!.writers.map((w) => w.definition.name), ["json-file"]);
    assert.deepEqual(r.syncs[0]!.notifiers.map((n) => n.definition.name), ["http-basic"]);
    assert.deepEqual(r.syncs[1]!.writers.map((w) => w.definition.name), ["yaml-file"]);
  });
});

Deno.test("resolveConfiguration() refuses two syncs whose folders overlap, and names bad settings per sync", async () => {
  const text = `
syncs:
  - { name: one, label: a, folder: /srv/x }
  - { name: two, label: b, folder: /srv/x/inner }
  - { name: three, label: "not a label!", folder: /srv/y, sleepTime: "-1" }
`;
  await withFile(text, async (path) => {
    const r = await resolveConfiguration({ CONFIG: path }, []);
    assert.ok(!r.ok);
    const all = r.errors.join("\n");
    assert.match(
      all,
      /syncs\[1\] "two": folder \/srv\/x\/inner overlaps the folder \/srv\/x of sync "one"/,
    );
    assert.match(all, /syncs\[2\] "three": LABEL="not a label!" is not a label key/);
    assert.match(all, /syncs\[2\] "three": SLEEP_TIME="-1"/);
  });
});
