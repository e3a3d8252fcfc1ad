/**
 * End-to-end tests of the sync engine: a real kube-apiserver with RBAC, the sidecar as its own
 * process with a least-privilege service-account token, files checked on disk, notifications
 * checked as a local receiver got them.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeBase64 } from "../src/util/base64.ts";
import { READ_CONFIGMAPS, READ_CONFIGMAPS_AND_SECRETS, startCluster } from "./harness/cluster.ts";
import { eventually, Receiver, runSidecarToEnd, startSidecar } from "./harness/sidecar.ts";
import { healthUrl, settled } from "./harness/health.ts";
import {
  absent,
  cm,
  del,
  LABEL,
  listFiles,
  readText,
  replaceCm,
  secret,
  sidecar,
} from "./harness/fixtures.ts";

Deno.test("sync engine keeps a folder in step with the cluster", async (t) => {
  await using cluster = await startCluster();

  await t.step(
    "add, update, delete, label removed, key removed, invalid JSON kept out",
    async () => {
      const ns = "basic";
      await cluster.createNamespace(ns);
      await cm(cluster, ns, "dash", {
        "a.json": '{"v":1}',
        "b.json": '{"b":true}',
        "notes.txt": "skip me",
      });
      await cm(cluster, ns, "unlabelled", { "u.json": "{}" }, { labels: { other: "x" } });
      const { proc, folder } = await sidecar(cluster, { namespaces: [ns] });
      try {
        await eventually(
          async () => assert.equal(await readText(join(folder, "a.json")), '{"v":1}'),
          { proc, what: "initial file" },
        );
        assert.deepEqual(
          await listFiles(folder),
          ["a.json", "b.json"],
          "only labelled .json keys are written",
        );

        await replaceCm(cluster, ns, "dash", { "a.json": '{"v":2}', "b.json": '{"b":true}' });
        await eventually(
          async () => assert.equal(await readText(join(folder, "a.json")), '{"v":2}'),
          { proc, what: "update" },
        );

        await replaceCm(cluster, ns, "dash", { "a.json": '{"v":2}' });
        await eventually(() => absent(join(folder, "b.json")), { proc, what: "key removed" });

        await replaceCm(cluster, ns, "dash", { "a.json": "{not json" });
        await eventually(() => assert.match(proc.output, /not valid JSON/), {
          proc,
          what: "invalid JSON error",
        });
        assert.match(proc.output, /configmap\/basic\/dash/);
        assert.equal(await readText(join(folder, "a.json")), '{"v":2}', "the last good file stays");

        await replaceCm(cluster, ns, "dash", { "a.json": '{"v":3}' }, { other: "label" });
        await eventually(() => absent(join(folder, "a.json")), { proc, what: "label removed" });

        await cm(cluster, ns, "again", { "c.json": "[]" });
        await eventually(async () => assert.equal(await readText(join(folder, "c.json")), "[]"), {
          proc,
        });
        await del(cluster, ns, "configmaps", "again");
        await eventually(() => absent(join(folder, "c.json")), { proc, what: "delete" });
        assert.deepEqual(await listFiles(folder), []);
      } finally {
        await proc.stop();
      }
    },
  );

  await t.step("several namespaces, and ALL with a cluster-wide role", async () => {
    for (const ns of ["multi-a", "multi-b", "multi-c"]) await cluster.createNamespace(ns);
    await cm(cluster, "multi-a", "one", { "one.json": "1" });
    await cm(cluster, "multi-b", "two", { "two.json": "2" });
    await cm(cluster, "multi-c", "three", { "three.json": "3" });
    const several = await sidecar(cluster, { namespaces: ["multi-a", "multi-b"] });
    const all = await sidecar(cluster, { namespaces: "ALL" });
    try {
      await eventually(
        async () => assert.deepEqual(await listFiles(several.folder), ["one.json", "two.json"]),
        {
          proc: several.proc,
        },
      );
      await eventually(async () => {
        const files = await listFiles(all.folder);
        for (const f of ["one.json", "two.json", "three.json"]) {
          assert.ok(files.includes(f), `${f} in ${files}`);
        }
      }, { proc: all.proc });
      await del(cluster, "multi-b", "configmaps", "two");
      await eventually(() => absent(join(several.folder, "two.json")), { proc: several.proc });
      await eventually(() => absent(join(all.folder, "two.json")), { proc: all.proc });
    } finally {
      await several.proc.stop();
      await all.proc.stop();
    }
  });

  await t.step(
    "RESOURCE=secret and both: Secret and binaryData bytes exact, Secrets owner-only",
    async () => {
      const ns = "kinds";
      await cluster.createNamespace(ns);
      const bytes = new Uint8Array([0x7b, 0x22, 0x6b, 0x22, 0x3a, 0x22, 0xc3, 0xa9, 0x22, 0x7d]); // {"k":"é"}
      await secret(cluster, ns, "creds", { "creds.json": bytes });
      await cm(cluster, ns, "bin", {}, {
        binaryData: { "bin.json": encodeBase64(new TextEncoder().encode('{"bin":1}')) },
      });
      const rules = READ_CONFIGMAPS_AND_SECRETS;
      const secretsOnly = await sidecar(cluster, {
        namespaces: [ns],
        rules,
        env: { RESOURCE: "secret" },
      });
      const both = await sidecar(cluster, { namespaces: [ns], rules, env: { RESOURCE: "both" } });
      try {
        await eventually(
          async () => assert.deepEqual(await listFiles(secretsOnly.folder), ["creds.json"]),
          {
            proc: secretsOnly.proc,
          },
        );
        assert.deepEqual(await Deno.readFile(join(secretsOnly.folder, "creds.json")), bytes);
        assert.equal(
          (await Deno.stat(join(secretsOnly.folder, "creds.json"))).mode! & 0o777,
          0o600,
        );
        await eventually(
          async () => assert.deepEqual(await listFiles(both.folder), ["bin.json", "creds.json"]),
          {
            proc: both.proc,
          },
        );
        assert.equal(await readText(join(both.folder, "bin.json")), '{"bin":1}');
        assert.ok(
          !secretsOnly.proc.output.includes('"k":"é"'),
          "secret values never reach the logs",
        );
      } finally {
        await secretsOnly.proc.stop();
        await both.proc.stop();
      }
    },
  );

  await t.step(
    "two objects mapping to one file: a deterministic winner, the loser takes over",
    async () => {
      for (const ns of ["clash-a", "clash-b"]) await cluster.createNamespace(ns);
      await cm(cluster, "clash-b", "dash", { "same.json": '"from b"' });
      await cm(cluster, "clash-a", "dash", { "same.json": '"from a"' });
      const s = await sidecar(cluster, { namespaces: ["clash-a", "clash-b"] });
      try {
        // configmap/clash-a/dash sorts first, whichever was created first.
        await eventually(
          async () => assert.equal(await readText(join(s.folder, "same.json")), '"from a"'),
          {
            proc: s.proc,
          },
        );
        await eventually(() =>
          assert.match(
            s.proc.output,
            /clash-a\/dash[\s\S]*clash-b\/dash|clash-b\/dash[\s\S]*clash-a\/dash/,
          ), {
          proc: s.proc,
          what: "a warning naming both objects",
        });
        await del(cluster, "clash-b", "configmaps", "dash"); // removing the loser leaves the winner's file
        await eventually(
          () =>
            assert.match(s.proc.output, /"msg":"object gone","object":"configmap\/clash-b\/dash"/),
          { proc: s.proc, what: "the loser's deletion reaching the sidecar" },
        );
        await settled(await healthUrl(s.proc), s.proc);
        assert.equal(await readText(join(s.folder, "same.json")), '"from a"');
        await cm(cluster, "clash-b", "dash", { "same.json": '"from b again"' });
        await del(cluster, "clash-a", "configmaps", "dash"); // removing the winner brings in the loser
        await eventually(
          async () => assert.equal(await readText(join(s.folder, "same.json")), '"from b again"'),
          {
            proc: s.proc,
          },
        );
      } finally {
        await s.proc.stop();
      }
    },
  );

  await t.step("LABEL_VALUE selects only objects with that value", async () => {
    const ns = "labelvalue";
    await cluster.createNamespace(ns);
    await cm(cluster, ns, "yes", { "yes.json": "1" }, { labels: { [LABEL]: "grafana" } });
    await cm(cluster, ns, "no", { "no.json": "2" }, { labels: { [LABEL]: "other" } });
    const s = await sidecar(cluster, { namespaces: [ns], env: { LABEL_VALUE: "grafana" } });
    try {
      await eventually(async () => assert.deepEqual(await listFiles(s.folder), ["yes.json"]), {
        proc: s.proc,
      });
    } finally {
      await s.proc.stop();
    }
  });

  await t.step(
    "notifications: method, payload and basic auth as received; one per burst; none without change",
    async () => {
      const ns = "notify";
      await cluster.createNamespace(ns);
      await cm(cluster, ns, "first", { "first.json": "{}" });
      await using receiver = new Receiver();
      const s = await sidecar(cluster, {
        namespaces: [ns],
        env: {
          REQ_URL: `${receiver.url}/reload?x=1`,
          REQ_METHOD: "POST",
          REQ_PAYLOAD: '{"reload":true}',
          REQ_USERNAME: "grafana",
          REQ_PASSWORD: "s3cr3t-pw",
        },
      });
      try {
        await eventually(() => assert.equal(receiver.requests.length, 1), {
          proc: s.proc,
          what: "initial notification",
        });
        const first = receiver.requests[0]!;
        assert.equal(first.method, "POST");
        assert.equal(first.path, "/reload?x=1");
        assert.equal(first.body, '{"reload":true}');
        assert.equal(first.authorization, `Basic ${btoa("grafana:s3cr3t-pw")}`);

        // A change that writes nothing (a .txt key) must not notify.
        const url = await healthUrl(s.proc);
        await cm(cluster, ns, "ignored", { "ignored.txt": "x" });
        await eventually(
          () =>
            assert.match(
              s.proc.output,
              /"msg":"key not written: no configured writer takes it","object":"configmap\/notify\/ignored"/,
            ),
          { proc: s.proc, what: "the .txt object reaching the sidecar" },
        );
        await settled(url, s.proc);
        assert.equal(
          receiver.requests.length,
          1,
          "no notification for a change that wrote nothing",
        );
        await Promise.all(
          Array.from(
            { length: 50 },
            (_, i) => cm(cluster, ns, `burst-${i}`, { [`burst-${i}.json`]: String(i) }),
          ),
        );
        await eventually(async () => assert.equal((await listFiles(s.folder)).length, 51), {
          proc: s.proc,
        });
        await settled(url, s.proc);
        const forBurst = receiver.requests.length - 1;
        assert.ok(forBurst >= 1 && forBurst <= 2, `${forBurst} notifications for a burst of 50`);
        assert.ok(!s.proc.output.includes("s3cr3t-pw"), "the password never reaches the logs");
      } finally {
        await s.proc.stop();
      }
    },
  );

  await t.step(
    "REQ_SKIP_INIT skips the initial notification only; endpoint down then up is retried",
    async () => {
      const ns = "skipinit";
      await cluster.createNamespace(ns);
      await cm(cluster, ns, "a", { "a.json": "{}" });
      const receiver = new Receiver();
      const port = receiver.port;
      const s = await sidecar(cluster, {
        namespaces: [ns],
        env: {
          REQ_URL: `${receiver.url}/r`,
          REQ_SKIP_INIT: "true",
          REQ_RETRY_BACKOFF_FACTOR: "0.2",
          REQ_RETRY_TOTAL: "8",
        },
      });
      let second: Receiver | undefined;
      try {
        await eventually(async () => assert.deepEqual(await listFiles(s.folder), ["a.json"]), {
          proc: s.proc,
        });
        // The dispatcher has decided about the initial change set before anything else happens,
        // so an initial notification, had it been sent, would be counted below.
        await eventually(() => assert.match(s.proc.output, /initial change set not notified/), {
          proc: s.proc,
        });
        assert.equal(receiver.requests.length, 0, "no notification for the initial sync");
        await cm(cluster, ns, "b", { "b.json": "{}" });
        await eventually(() => assert.equal(receiver.requests.length, 1), { proc: s.proc });
        assert.equal(receiver.requests[0]!.method, "GET");

        await receiver.close(); // endpoint down
        await cm(cluster, ns, "c", { "c.json": "{}" });
        await eventually(() => assert.match(s.proc.output, /notif[a-z]* .*fail|retry/i), {
          proc: s.proc,
          what: "a failed attempt",
        });
        second = new Receiver(port); // endpoint up again on the same address
        await eventually(() => assert.equal(second!.requests.length, 1), {
          proc: s.proc,
          what: "delivery after the endpoint came back",
        });
      } finally {
        await s.proc.stop();
        await second?.close();
      }
    },
  );

  await t.step("METHOD=list relists and applies the difference", async () => {
    const ns = "listmode";
    await cluster.createNamespace(ns);
    await cm(cluster, ns, "a", { "a.json": "1" });
    const s = await sidecar(cluster, {
      namespaces: [ns],
      env: { METHOD: "list", SLEEP_TIME: "1" },
    });
    try {
      await eventually(async () => assert.deepEqual(await listFiles(s.folder), ["a.json"]), {
        proc: s.proc,
      });
      await cm(cluster, ns, "b", { "b.json": "2" });
      await del(cluster, ns, "configmaps", "a");
      await eventually(async () => assert.deepEqual(await listFiles(s.folder), ["b.json"]), {
        proc: s.proc,
      });
    } finally {
      await s.proc.stop();
    }
  });

  await t.step("METHOD=sleep syncs once, notifies once and exits 0", async () => {
    const ns = "sleepmode";
    await cluster.createNamespace(ns);
    await cm(cluster, ns, "a", { "a.json": '{"once":true}' });
    await using receiver = new Receiver();
    const sa = await cluster.createServiceAccount({
      namespace: ns,
      name: "once",
      rules: READ_CONFIGMAPS,
    });
    const pod = await cluster.podEnvironment(sa);
    const folder = await Deno.makeTempDir({ dir: cluster.dataDir });
    const r = await runSidecarToEnd(pod, {
      METHOD: "once",
      FOLDER: folder,
      LABEL,
      NAMESPACE: ns,
      REQ_URL: receiver.url,
    });
    assert.equal(r.code, 0, r.output);
    assert.equal(await readText(join(folder, "a.json")), '{"once":true}');
    assert.equal(receiver.requests.length, 1);

    const denied = await runSidecarToEnd(pod, {
      METHOD: "sleep",
      FOLDER: folder,
      LABEL,
      NAMESPACE: "kube-system",
    });
    assert.notEqual(denied.code, 0, "a sync that cannot list fails");
    assert.match(denied.output, /403|forbidden/i);
  });

  await t.step(
    "an object deleted while the API server is down loses its file after the restart",
    async () => {
      const ns = "restart";
      await cluster.createNamespace(ns);
      await cm(cluster, ns, "stays", { "stays.json": "1" });
      await cm(cluster, ns, "goes", { "goes.json": "2" });
      const s = await sidecar(cluster, { namespaces: [ns], env: { ERROR_THROTTLE_SLEEP: "0.5" } });
      try {
        await eventually(
          async () => assert.deepEqual(await listFiles(s.folder), ["goes.json", "stays.json"]),
          { proc: s.proc },
        );
        await cluster.stopApiServer();
        // The sidecar's API server is down; the object is deleted through another one on the same etcd.
        await cluster.withSecondApiServer((admin) =>
          admin.request("DELETE", `/api/v1/namespaces/${ns}/configmaps/goes`)
        );
        await eventually(
          () => assert.match(s.proc.output, /watch gap; relisting|list failed; retrying/),
          {
            proc: s.proc,
            what: "the sidecar noticing the outage",
          },
        );
        assert.deepEqual(
          await listFiles(s.folder),
          ["goes.json", "stays.json"],
          "nothing changes while it is down",
        );
        await cluster.startApiServer();
        await eventually(async () => assert.deepEqual(await listFiles(s.folder), ["stays.json"]), {
          proc: s.proc,
          timeoutMs: 60_000,
        });
      } finally {
        await s.proc.stop();
      }
    },
  );

  await t.step(
    "an object deleted while the sidecar is down loses its file on the next start",
    async () => {
      const ns = "offline";
      await cluster.createNamespace(ns);
      await cm(cluster, ns, "stays", { "stays.json": "1" });
      await cm(cluster, ns, "goes", { "goes.json": "2" });
      const first = await sidecar(cluster, { namespaces: [ns] });
      await eventually(
        async () => assert.deepEqual(await listFiles(first.folder), ["goes.json", "stays.json"]),
        { proc: first.proc },
      );
      const status = await first.proc.stop();
      assert.equal(status.code, 0, "SIGTERM exits 0");
      await Deno.writeTextFile(join(first.folder, "users-own.json"), "{}");
      await del(cluster, ns, "configmaps", "goes");
      const second = await sidecar(cluster, { namespaces: [ns], folder: first.folder });
      try {
        await eventually(
          async () =>
            assert.deepEqual(await listFiles(first.folder), ["stays.json", "users-own.json"]),
          {
            proc: second.proc,
          },
        );
      } finally {
        await second.proc.stop();
      }
    },
  );
});

Deno.test("Kubernetes access: a rotated service-account token is picked up, and KUBECONFIG works out of cluster", async (t) => {
  await using cluster = await startCluster();
  const ns = "access";
  await cluster.createNamespace(ns);
  await cm(cluster, ns, "a", { "a.json": "1" });
  const sa = await cluster.createServiceAccount({
    namespace: ns,
    name: "rotating",
    rules: READ_CONFIGMAPS,
  });

  await t.step(
    "an invalid token file is re-read until the kubelet's next rotation fixes it",
    async () => {
      const pod = await cluster.podEnvironment({ ...sa, token: "not-a-valid-token" });
      const folder = await Deno.makeTempDir({ dir: cluster.dataDir });
      const proc = startSidecar(cluster, pod, {
        FOLDER: folder,
        LABEL,
        NAMESPACE: ns,
        ERROR_THROTTLE_SLEEP: "0.5",
      });
      try {
        await eventually(() => assert.match(proc.output, /401/), {
          proc,
          what: "the rejected token",
        });
        await Deno.writeTextFile(
          join(pod.serviceAccountDir, "token"),
          await cluster.mintToken(ns, sa.name),
        );
        await eventually(async () => assert.equal(await readText(join(folder, "a.json")), "1"), {
          proc,
          what: "sync after rotation",
        });
      } finally {
        await proc.stop();
      }
    },
  );

  await t.step("KUBECONFIG with a token user, no pod files", async () => {
    const kubeconfig = await cluster.tokenKubeconfig(sa);
    const folder = await Deno.makeTempDir({ dir: cluster.dataDir });
    const r = await runSidecarToEnd(undefined, {
      METHOD: "sleep",
      FOLDER: folder,
      LABEL,
      NAMESPACE: ns,
      KUBECONFIG: kubeconfig,
    });
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /"auth":"kubeconfig/);
    assert.equal(await readText(join(folder, "a.json")), "1");
    assert.ok(!r.output.includes(sa.token), "the token never reaches the logs");
  });
});

Deno.test("bad configuration exits 2 with every problem named, before touching the folder", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const r = await runSidecarToEnd(undefined, {
      FOLDER: join(folder, "out"),
      METHOD: "sometimes",
      RESOURCE: "pods",
      REQ_URL: "not a url",
      REQ_PASSWORD: "hunter2-secret",
    });
    assert.equal(r.code, 2, r.output);
    assert.match(r.output, /METHOD/);
    assert.match(r.output, /LABEL/);
    assert.match(r.output, /RESOURCE/);
    assert.match(r.output, /REQ_URL/);
    assert.ok(!r.output.includes("hunter2-secret"));
    await assert.rejects(Deno.stat(join(folder, "out")), Deno.errors.NotFound);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});
