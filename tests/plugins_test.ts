/**
 * End-to-end tests of the plugin system: a config file declaring built-in and external plugin
 * instances, run by the sidecar as its own process against the real control plane.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { READ_CONFIGMAPS, startCluster } from "./harness/cluster.ts";
import { cm, LABEL, listFiles, readText, sidecar } from "./harness/fixtures.ts";
import { eventually, Receiver, runSidecarToEnd } from "./harness/sidecar.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

Deno.test("plugins declared in a config file run end to end", async (t) => {
  await using cluster = await startCluster();
  const ns = "plugins";
  await cluster.createNamespace(ns);
  await cm(cluster, ns, "mixed", {
    "a.json": '{"a":1}',
    "b.yaml": "b: 2\n",
    "c.yml": "- c\n",
    "bad.yaml": "key: [unclosed\n",
    "d.txt": "dee",
    "e.bin": "raw bytes",
    "f.conf": "conf",
  });
  const dir = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "config-" });

  await t.step(
    "every built-in writer, two instances of one, external plugins by path and file: URL",
    async () => {
      await using httpBasic = new Receiver();
      await using webhook = new Receiver();
      await using slack = new Receiver();
      await Deno.writeTextFile(join(dir, "token"), "webhook-bearer-1\n");
      const pidFile = join(dir, "app.pid");
      const marker = join(dir, "hups");
      const app = new Deno.Command("sh", {
        args: [
          "-c",
          `trap 'echo hup >> ${marker}' HUP; echo $$ > ${pidFile}; while :; do sleep 0.1; done`,
        ],
        stdout: "null",
        stderr: "null",
      }).spawn();
      const logPath = join(dir, "changes.jsonl");
      await Deno.writeTextFile(
        join(dir, "config.yaml"),
        stringify({
          writers: [
            { use: "json-file" },
            { use: "yaml-file" },
            { use: "txt-file" },
            { use: "raw-file", id: "raw-bin", options: { keys: ["*.bin"] } },
            { use: "raw-file", id: "raw-conf", options: { keys: ["*.conf"] } },
            {
              use: join(root, "examples/plugins/uppercase_writer.ts"),
              id: "upper",
              options: { suffix: ".shout" },
            },
          ],
          notifiers: [
            { use: "http-basic", options: { url: `${httpBasic.url}/reload`, method: "POST" } },
            {
              use: "webhook",
              options: {
                url: `${webhook.url}/hook`,
                bearerTokenFile: join(dir, "token"),
                headers: { "x-env": "test" },
              },
            },
            {
              use: "slack",
              options: { webhookUrl: `${slack.url}/services/T/B/X`, channel: "#ops" },
            },
            { use: "signal", options: { signal: "SIGHUP", pidFile } },
            {
              use: new URL("file://" + join(root, "examples/plugins/file_log_notifier.ts")).href,
              options: { path: logPath },
            },
          ],
        }),
      );
      const s = await sidecar(cluster, {
        namespaces: [ns],
        env: { CONFIG: join(dir, "config.yaml") },
      });
      try {
        await eventually(async () =>
          assert.deepEqual(await listFiles(s.folder), [
            "a.json",
            "b.yaml",
            "c.yml",
            "d.txt",
            "d.txt.shout",
            "e.bin",
            "f.conf",
          ]), { proc: s.proc });
        assert.equal(await readText(join(s.folder, "d.txt.shout")), "DEE");
        assert.match(
          s.proc.output,
          /configmap\/plugins\/mixed.*bad\.yaml|bad\.yaml.*configmap\/plugins\/mixed/,
        );

        await eventually(() => {
          assert.equal(httpBasic.requests.length, 1);
          assert.equal(webhook.requests.length, 1);
          assert.equal(slack.requests.length, 1);
        }, { proc: s.proc, what: "one notification per notifier" });
        assert.equal(httpBasic.requests[0]!.method, "POST");
        const hook = webhook.requests[0]!;
        assert.equal(hook.authorization, "Bearer webhook-bearer-1");
        assert.equal(hook.headers.get("x-env"), "test");
        const body = JSON.parse(hook.body);
        assert.equal(body.initial, true);
        assert.ok(body.written.some((p: string) => p.endsWith("a.json")));
        assert.ok(typeof body.hash === "string" && body.hash.length > 0);
        const slackBody = JSON.parse(slack.requests[0]!.body);
        assert.equal(slackBody.channel, "#ops");
        assert.match(slackBody.text, /written/);
        await eventually(async () => assert.match(await readText(marker), /hup/), {
          proc: s.proc,
          what: "SIGHUP",
        });
        await eventually(
          async () => assert.equal((await readText(logPath)).trim().split("\n").length, 1),
          {
            proc: s.proc,
          },
        );

        // The bearer token file is re-read on every call.
        await Deno.writeTextFile(join(dir, "token"), "webhook-bearer-2\n");
        await cm(cluster, ns, "more", { "more.json": "[]" });
        await eventually(() => assert.equal(webhook.requests.length, 2), { proc: s.proc });
        assert.equal(webhook.requests[1]!.authorization, "Bearer webhook-bearer-2");
        assert.ok(!s.proc.output.includes("webhook-bearer"), "tokens never reach the logs");
      } finally {
        await s.proc.stop();
        app.kill("SIGKILL");
        await app.status;
      }
    },
  );

  await t.step(
    "a throwing writer and a hanging one are reported; the others and the sync go on",
    async () => {
      await using receiver = new Receiver();
      const fixtures = join(root, "tests/fixtures/plugins");
      await Deno.writeTextFile(
        join(dir, "faulty.yaml"),
        stringify({
          writers: [
            { use: join(fixtures, "throwing_writer.ts"), id: "thrower" },
            { use: join(fixtures, "hanging_writer.ts"), id: "hanger", timeoutMs: 500 },
            { use: "json-file" },
          ],
          notifiers: [
            {
              use: "webhook",
              id: "down",
              options: { url: "http://127.0.0.1:9/unreachable", retries: 0 },
            },
            { use: "http-basic", id: "up", options: { url: receiver.url } },
          ],
        }),
      );
      const s = await sidecar(cluster, {
        namespaces: [ns],
        env: { CONFIG: join(dir, "faulty.yaml") },
      });
      try {
        await eventually(async () => assert.ok((await listFiles(s.folder)).includes("a.json")), {
          proc: s.proc,
        });
        await eventually(() => {
          assert.match(
            s.proc.output,
            /plugin \\"throwing-writer\\" instance \\"thrower\\" hook write: this writer always fails/,
          );
          assert.match(
            s.proc.output,
            /plugin \\"hanging-writer\\" instance \\"hanger\\" hook write: did not settle within 500 ms/,
          );
        }, { proc: s.proc });
        await eventually(() => assert.equal(receiver.requests.length, 1), {
          proc: s.proc,
          what: "the healthy notifier",
        });
        await cm(cluster, ns, "later", { "later.json": "{}" });
        await eventually(
          async () => assert.ok((await listFiles(s.folder)).includes("later.json")),
          {
            proc: s.proc,
            what: "the sync loop still running",
          },
        );
      } finally {
        await s.proc.stop();
      }
    },
  );

  await t.step(
    "invalid options and unloadable plugins exit 2, naming file, instance and field",
    async () => {
      const bad = join(dir, "bad.yaml");
      await Deno.writeTextFile(
        bad,
        stringify({
          writers: [{ use: "json-file" }, { use: "yaml-file", options: { keys: "*.yaml" } }, {
            use: "./missing.ts",
          }],
          notifiers: [{ use: "webhook", options: { method: "POST" } }],
        }),
      );
      const sa = await cluster.createServiceAccount({
        namespace: ns,
        name: "bad",
        rules: READ_CONFIGMAPS,
      });
      const pod = await cluster.podEnvironment(sa);
      const folder = join(dir, "untouched");
      const r = await runSidecarToEnd(pod, {
        FOLDER: folder,
        LABEL,
        NAMESPACE: ns,
        CONFIG: bad,
      });
      assert.equal(r.code, 2, r.output);
      assert.match(r.output, /bad\.yaml/);
      assert.match(r.output, /missing\.ts/);
      await assert.rejects(Deno.stat(folder), Deno.errors.NotFound);

      // Loadable modules: now the options themselves are checked, all at once.
      await Deno.writeTextFile(
        bad,
        stringify({
          writers: [{ use: "json-file" }, { use: "yaml-file", options: { keys: "*.yaml" } }],
          notifiers: [{ use: "webhook", options: { method: "POST" } }],
        }),
      );
      const r2 = await runSidecarToEnd(pod, {
        FOLDER: folder,
        LABEL,
        NAMESPACE: ns,
        CONFIG: bad,
      });
      assert.equal(r2.code, 2, r2.output);
      assert.match(r2.output, /writers\[1\] "yaml-file": options\.keys/);
      assert.match(r2.output, /notifiers\[0\] "webhook": options\.url/);
      await assert.rejects(Deno.stat(folder), Deno.errors.NotFound);
    },
  );
});
