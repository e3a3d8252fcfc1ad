/**
 * End-to-end tests of every documented variable beyond the core loop (the seed's roadmap and
 * kiwigrid parity), each against the real control plane with the sidecar as its own process.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { READ_CONFIGMAPS, READ_CONFIGMAPS_AND_SECRETS, startCluster } from "./harness/cluster.ts";
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
import { makePki } from "./harness/pki.ts";
import { eventually, Receiver, runSidecarToEnd } from "./harness/sidecar.ts";
import { get, healthUrl, metric, settled } from "./harness/health.ts";

Deno.test("every documented variable works against a real API server", async (t) => {
  await using cluster = await startCluster();

  await t.step("UNIQUE_FILENAMES gives one file per object for the same key", async () => {
    for (const ns of ["uniq-a", "uniq-b"]) await cluster.createNamespace(ns);
    await cm(cluster, "uniq-a", "dash", { "same.json": '"a"' });
    await cm(cluster, "uniq-b", "dash", { "same.json": '"b"' });
    const s = await sidecar(cluster, {
      namespaces: ["uniq-a", "uniq-b"],
      env: { UNIQUE_FILENAMES: "true" },
    });
    try {
      const a = "namespace_uniq-a.configmap_dash.same.json";
      const b = "namespace_uniq-b.configmap_dash.same.json";
      await eventually(async () => assert.deepEqual(await listFiles(s.folder), [a, b]), {
        proc: s.proc,
      });
      assert.equal(await readText(join(s.folder, b)), '"b"');
      await del(cluster, "uniq-a", "configmaps", "dash");
      await eventually(async () => assert.deepEqual(await listFiles(s.folder), [b]), {
        proc: s.proc,
      });
    } finally {
      await s.proc.stop();
    }
  });

  await t.step(
    "FOLDER_ANNOTATION: subfolders, allowed roots, moves, and escapes refused",
    async () => {
      const ns = "annot";
      await cluster.createNamespace(ns);
      const base = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "annot-" });
      const folder = join(base, "folder");
      const extraRoot = join(base, "extra");
      const outside = join(base, "outside");
      for (const d of [folder, extraRoot, outside]) await Deno.mkdir(d);
      await Deno.symlink(outside, join(folder, "link-out"));
      const annotation = (v: string) => ({ "k8s-sidecar-target-directory": v });
      await cm(cluster, ns, "rel", { "rel.json": "1" }, {
        annotations: annotation("dashboards/team"),
      });
      await cm(cluster, ns, "abs", { "abs.json": "2" }, {
        annotations: annotation(join(extraRoot, "x")),
      });
      await cm(cluster, ns, "escape", { "escape.json": "3" }, {
        annotations: annotation("../../outside"),
      });
      await cm(cluster, ns, "absout", { "absout.json": "4" }, { annotations: annotation(outside) });
      await cm(cluster, ns, "symlink", { "symlink.json": "5" }, {
        annotations: annotation("link-out"),
      });
      const s = await sidecar(cluster, {
        namespaces: [ns],
        folder,
        env: { FOLDER_ANNOTATION_ROOTS: extraRoot },
      });
      try {
        await eventually(
          async () => assert.equal(await readText(join(folder, "dashboards/team/rel.json")), "1"),
          {
            proc: s.proc,
          },
        );
        await eventually(
          async () => assert.equal(await readText(join(extraRoot, "x/abs.json")), "2"),
          { proc: s.proc },
        );
        await eventually(() => {
          for (const name of ["escape", "absout", "symlink"]) {
            assert.match(
              s.proc.output,
              new RegExp(`configmap/${ns}/${name}`),
              `no error names ${name}`,
            );
          }
        }, { proc: s.proc, what: "errors naming the refused objects" });
        assert.deepEqual(await listFiles(outside), [], "nothing written outside");
        await absent(join(base, "escape.json"));

        await replaceCm(
          cluster,
          ns,
          "rel",
          { "rel.json": "1" },
          { [LABEL]: "1" },
          annotation("moved"),
        );
        await eventually(
          async () => assert.equal(await readText(join(folder, "moved/rel.json")), "1"),
          { proc: s.proc },
        );
        await absent(join(folder, "dashboards/team/rel.json"));
        await replaceCm(cluster, ns, "rel", { "rel.json": "1" });
        await eventually(async () => assert.equal(await readText(join(folder, "rel.json")), "1"), {
          proc: s.proc,
        });
        await absent(join(folder, "moved/rel.json"));
      } finally {
        await s.proc.stop();
      }
    },
  );

  await t.step("RESOURCE_NAME narrows the label selector, never replaces it", async () => {
    const ns = "names";
    await cluster.createNamespace(ns);
    await cm(cluster, ns, "wanted", { "wanted.json": "1" });
    await cm(cluster, ns, "other", { "other.json": "2" });
    await cm(cluster, ns, "unlabelled", { "unlabelled.json": "3" }, { labels: {} });
    await secret(cluster, ns, "wanted-secret", { "s.json": new TextEncoder().encode("4") });
    const s = await sidecar(cluster, {
      namespaces: [ns],
      rules: READ_CONFIGMAPS_AND_SECRETS,
      env: {
        RESOURCE: "both",
        RESOURCE_NAME: `wanted,configmap/unlabelled,${ns}/secret/wanted-secret`,
      },
    });
    try {
      await eventually(
        async () => assert.deepEqual(await listFiles(s.folder), ["s.json", "wanted.json"]),
        {
          proc: s.proc,
        },
      );
    } finally {
      await s.proc.stop();
    }
  });

  await t.step(
    "SCRIPT runs after files changed with the summary, and a failure does not stop the sync",
    async () => {
      const ns = "script";
      await cluster.createNamespace(ns);
      await cm(cluster, ns, "a", { "a.json": "1" });
      const dir = await Deno.makeTempDir({ dir: cluster.dataDir });
      const script = join(dir, "hook.sh");
      await Deno.writeTextFile(
        script,
        `#!/bin/sh\necho "$GSIDECAR_SEQ $GSIDECAR_WRITTEN_COUNT $GSIDECAR_REMOVED_COUNT" >> ${dir}/calls\n` +
          `[ -f ${dir}/fail ] && { echo failing on purpose >&2; exit 7; }\nexit 0\n`,
        { mode: 0o755 },
      );
      const s = await sidecar(cluster, { namespaces: [ns], env: { SCRIPT: script } });
      try {
        await eventually(async () => assert.equal(await readText(join(dir, "calls")), "1 1 0\n"), {
          proc: s.proc,
        });
        await Deno.writeTextFile(join(dir, "fail"), "");
        await del(cluster, ns, "configmaps", "a");
        await eventually(() => assert.match(s.proc.output, /exited with 7/), { proc: s.proc });
        assert.match(s.proc.output, /failing on purpose/);
        await Deno.remove(join(dir, "fail"));
        await cm(cluster, ns, "b", { "b.json": "2" });
        await eventually(async () => assert.equal(await readText(join(s.folder, "b.json")), "2"), {
          proc: s.proc,
        });
        await eventually(async () => assert.match(await readText(join(dir, "calls")), /^3 1 0$/m), {
          proc: s.proc,
        });
      } finally {
        await s.proc.stop();
      }
    },
  );

  await t.step(
    "health: /readyz after the initial sync, /healthz fails while the API server is frozen",
    async () => {
      const ns = "health";
      await cluster.createNamespace(ns);
      await cm(cluster, ns, "a", { "a.json": "1" });
      const env = {
        HEALTH_HOST: "127.0.0.1",
        WATCH_SERVER_TIMEOUT: "1",
        WATCH_CLIENT_TIMEOUT: "2",
        ERROR_THROTTLE_SLEEP: "0.5",
      };
      let s: Awaited<ReturnType<typeof sidecar>> | undefined;
      try {
        s = await sidecar(cluster, { namespaces: [ns], env });
        const url = await healthUrl(s.proc);
        await eventually(async () => assert.deepEqual(await listFiles(s!.folder), ["a.json"]), {
          proc: s.proc,
        });
        assert.equal((await get(`${url}/readyz`)).status, 200);
        assert.equal((await get(`${url}/healthz`)).status, 200);
        const metrics = (await get(`${url}/metrics`)).body;
        assert.match(metrics, /^gsidecar_ready 1$/m);

        cluster.apiserver.signal("SIGSTOP");
        const unhealthy = await eventually(async () => {
          const r = await get(`${url}/healthz`);
          assert.equal(r.status, 503);
          return r.body;
        }, { proc: s.proc, what: "/healthz failing while the API server is frozen" });
        assert.match(unhealthy, /configmap@health: no answer from the API server/);
        await eventually(
          () => assert.match(s!.proc.output, /no event or bookmark for \d+(\.\d)?s/),
          { proc: s.proc },
        );
        cluster.apiserver.signal("SIGCONT");
        await eventually(async () => assert.equal((await get(`${url}/healthz`)).status, 200), {
          proc: s.proc,
          what: "/healthz recovering",
        });
      } finally {
        cluster.apiserver.signal("SIGCONT");
        await s?.proc.stop();
      }
    },
  );

  await t.step("/readyz is 503 until the initial sync is written", async () => {
    const ns = "readiness";
    await cluster.createNamespace(ns);
    await cm(cluster, ns, "a", { "a.json": "1" });
    // The sidecar's account may not list yet: readiness must stay false while the list fails.
    const sa = await cluster.createServiceAccount({ namespace: ns, name: "late", rules: [] });
    const pod = await cluster.podEnvironment(sa);
    const folder = await Deno.makeTempDir({ dir: cluster.dataDir });
    const { startSidecar } = await import("./harness/sidecar.ts");
    const proc = startSidecar(cluster, pod, {
      FOLDER: folder,
      LABEL,
      NAMESPACE: ns,
      HEALTH_HOST: "127.0.0.1",
      ERROR_THROTTLE_SLEEP: "0.3",
    });
    try {
      const url = await healthUrl(proc);
      await eventually(() => assert.match(proc.output, /list failed; retrying/), { proc });
      assert.equal((await get(`${url}/readyz`)).status, 503);
      await cluster.createServiceAccount({ namespace: ns, name: "late", rules: READ_CONFIGMAPS });
      await eventually(async () => assert.equal((await get(`${url}/readyz`)).status, 200), {
        proc,
      });
      assert.equal(await readText(join(folder, "a.json")), "1");
    } finally {
      await proc.stop();
    }
  });

  await t.step(
    "WATCH_SERVER_TIMEOUT: watches are resumed without relisting in a healthy steady state",
    async () => {
      const ns = "steady";
      await cluster.createNamespace(ns);
      await cm(cluster, ns, "a", { "a.json": "1" });
      const s = await sidecar(cluster, {
        namespaces: [ns],
        env: { HEALTH_HOST: "127.0.0.1", WATCH_SERVER_TIMEOUT: "1", WATCH_CLIENT_TIMEOUT: "5" },
      });
      try {
        const url = await healthUrl(s.proc);
        await eventually(async () => {
          const text = (await get(`${url}/metrics`)).body;
          assert.ok(metric(text, "gsidecar_watches_total", `configmap@${ns}`) >= 4);
        }, { proc: s.proc });
        const text = (await get(`${url}/metrics`)).body;
        assert.equal(metric(text, "gsidecar_lists_total", `configmap@${ns}`), 1, "no relist");
        assert.equal(metric(text, "gsidecar_watch_gaps_total", `configmap@${ns}`), 0);
        await cm(cluster, ns, "b", { "b.json": "2" });
        await eventually(async () => assert.equal(await readText(join(s.folder, "b.json")), "2"), {
          proc: s.proc,
        });
      } finally {
        await s.proc.stop();
      }
    },
  );

  await t.step("ENABLE_5XX decides whether a 5xx answer is retried", async () => {
    const ns = "fivexx";
    await cluster.createNamespace(ns);
    await cm(cluster, ns, "a", { "a.json": "1" });
    for (const enable of [false, true]) {
      await using receiver = new Receiver();
      receiver.status = 503;
      const s = await sidecar(cluster, {
        namespaces: [ns],
        env: { REQ_URL: receiver.url, ENABLE_5XX: String(enable), REQ_RETRY_BACKOFF_FACTOR: "0.1" },
      });
      try {
        await eventually(() => assert.ok(receiver.requests.length >= 1), { proc: s.proc });
        receiver.status = 200;
        if (enable) {
          await eventually(() => assert.equal(receiver.requests.length, 2), {
            proc: s.proc,
            what: "the retry",
          });
        } else {
          await eventually(() => assert.match(s.proc.output, /503/), {
            proc: s.proc,
            what: "the given-up notification",
          });
          await settled(await healthUrl(s.proc), s.proc);
          assert.equal(receiver.requests.length, 1, "a 503 is not retried without ENABLE_5XX");
        }
      } finally {
        await s.proc.stop();
      }
    }
  });

  await t.step(
    "DEFAULT_FILE_MODE, REQ_*_FILE re-read per call, IGNORE_ALREADY_PROCESSED with relists",
    async () => {
      const ns = "modes";
      await cluster.createNamespace(ns);
      await cm(cluster, ns, "a", { "a.json": "1" });
      await secret(cluster, ns, "s", { "s.json": new TextEncoder().encode("2") });
      const dir = await Deno.makeTempDir({ dir: cluster.dataDir });
      await Deno.writeTextFile(join(dir, "user"), "grafana\n");
      await Deno.writeTextFile(join(dir, "pass"), "first-pw\n");
      await using receiver = new Receiver();
      const s = await sidecar(cluster, {
        namespaces: [ns],
        rules: READ_CONFIGMAPS_AND_SECRETS,
        env: {
          RESOURCE: "both",
          DEFAULT_FILE_MODE: "640",
          METHOD: "list",
          SLEEP_TIME: "0.5",
          IGNORE_ALREADY_PROCESSED: "true",
          REQ_URL: receiver.url,
          REQ_USERNAME_FILE: join(dir, "user"),
          REQ_PASSWORD_FILE: join(dir, "pass"),
        },
      });
      try {
        await eventually(() => assert.equal(receiver.requests.length, 1), { proc: s.proc });
        assert.equal(
          receiver.requests[0]!.authorization,
          `Basic ${btoa("grafana:first-pw")}`,
        );
        for (const f of ["a.json", "s.json"]) {
          assert.equal((await Deno.stat(join(s.folder, f))).mode! & 0o777, 0o640);
        }
        const before = await Deno.stat(join(s.folder, "a.json"));
        await eventually(
          () => assert.ok((s.proc.output.match(/"msg":"listed"/g) ?? []).length >= 8),
          { proc: s.proc },
        );
        const after = await Deno.stat(join(s.folder, "a.json"));
        assert.equal(
          after.mtime?.getTime(),
          before.mtime?.getTime(),
          "relists of an unchanged cluster rewrite nothing",
        );
        assert.equal(receiver.requests.length, 1, "and notify nothing");
        await Deno.writeTextFile(join(dir, "pass"), "rotated-pw\n");
        await cm(cluster, ns, "b", { "b.json": "3" });
        await eventually(() => assert.equal(receiver.requests.length, 2), { proc: s.proc });
        assert.equal(
          receiver.requests[1]!.authorization,
          `Basic ${btoa("grafana:rotated-pw")}`,
        );
        assert.ok(!s.proc.output.includes("rotated-pw") && !s.proc.output.includes("first-pw"));
      } finally {
        await s.proc.stop();
      }
    },
  );

  await t.step(
    "REQ_SKIP_TLS_VERIFY and SKIP_TLS_VERIFY reach servers with untrusted certificates",
    async () => {
      const ns = "tls";
      await cluster.createNamespace(ns);
      await cm(cluster, ns, "a", { "a.json": "1" });
      const pkiDir = await Deno.makeTempDir({ dir: cluster.dataDir });
      const pki = await makePki(pkiDir);
      const received: string[] = [];
      const tlsServer = Deno.serve({
        hostname: "127.0.0.1",
        port: 0,
        cert: await Deno.readTextFile(pki.servingCertPath),
        key: await Deno.readTextFile(pki.servingKeyPath),
        onListen: () => {},
      }, (req) => {
        received.push(req.method);
        return new Response("ok");
      });
      try {
        const sa = await cluster.createServiceAccount({
          namespace: ns,
          name: "tls",
          rules: READ_CONFIGMAPS,
        });
        const pod = await cluster.podEnvironment(sa);
        await Deno.remove(join(pod.serviceAccountDir, "ca.crt")); // the API server's CA is now unknown
        const folder = await Deno.makeTempDir({ dir: cluster.dataDir });
        const base = { METHOD: "sleep", FOLDER: folder, LABEL, NAMESPACE: ns };
        const strict = await runSidecarToEnd(pod, base);
        assert.notEqual(strict.code, 0, "an unverifiable API server is refused by default");
        assert.match(strict.output, /certificate|UnknownIssuer|tls/i);

        const url = `https://127.0.0.1:${tlsServer.addr.port}/reload`;
        const lax = await runSidecarToEnd(pod, {
          ...base,
          SKIP_TLS_VERIFY: "true",
          REQ_URL: url,
          REQ_SKIP_TLS_VERIFY: "true",
        });
        assert.equal(lax.code, 0, lax.output);
        assert.equal(await readText(join(folder, "a.json")), "1");
        assert.deepEqual(received, ["GET"]);
      } finally {
        await tlsServer.shutdown();
      }
    },
  );

  await t.step(
    ".url keys are downloaded; a failed download keeps the old file; credentials stay home",
    async () => {
      const ns = "urls";
      await cluster.createNamespace(ns);
      await using home = new Receiver(); // REQ_URL's origin
      await using elsewhere = new Receiver(); // another origin
      let content = '{"v":1}';
      let failing = false;
      const files = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
        void req;
        return failing ? new Response("boom", { status: 500 }) : new Response(content);
      });
      try {
        const filesUrl = `http://127.0.0.1:${files.addr.port}/dash.json`;
        await cm(cluster, ns, "remote", {
          "dash.json.url": filesUrl,
          "other.json.url": `${elsewhere.url}/x.json`,
          "home.json.url": `${home.url}/h.json`,
        });
        const s = await sidecar(cluster, {
          namespaces: [ns],
          env: {
            REQ_URL: `${home.url}/reload`,
            REQ_USERNAME: "u",
            REQ_PASSWORD: "url-secret-pw",
            REQ_RETRY_TOTAL: "1",
            REQ_RETRY_BACKOFF_FACTOR: "0.1",
          },
        });
        try {
          await eventually(
            async () => assert.equal(await readText(join(s.folder, "dash.json")), '{"v":1}'),
            {
              proc: s.proc,
            },
          );
          await eventually(() => assert.ok(home.requests.some((r) => r.path === "/h.json")), {
            proc: s.proc,
          });
          const toHome = home.requests.find((r) => r.path === "/h.json")!;
          assert.equal(toHome.authorization, `Basic ${btoa("u:url-secret-pw")}`);
          await eventually(() => assert.ok(elsewhere.requests.length >= 1), { proc: s.proc });
          assert.equal(
            elsewhere.requests[0]!.authorization,
            null,
            "no credentials to another origin",
          );

          failing = true;
          content = '{"v":2}';
          await replaceCm(cluster, ns, "remote", { "dash.json.url": `${filesUrl}?rev=2` });
          await eventually(
            () => assert.match(s.proc.output, /download failed; the last good file stays/),
            {
              proc: s.proc,
            },
          );
          assert.equal(
            await readText(join(s.folder, "dash.json")),
            '{"v":1}',
            "the last good file stays",
          );
          failing = false;
          await replaceCm(cluster, ns, "remote", { "dash.json.url": `${filesUrl}?rev=3` });
          await eventually(
            async () => assert.equal(await readText(join(s.folder, "dash.json")), '{"v":2}'),
            {
              proc: s.proc,
            },
          );
          assert.ok(!s.proc.output.includes("url-secret-pw"));
        } finally {
          await s.proc.stop();
        }
      } finally {
        await files.shutdown();
      }
    },
  );
});

Deno.test("unparsable values exit 2 naming the variable", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const r = await runSidecarToEnd(undefined, {
      FOLDER: folder,
      LABEL,
      METHOD: "LIST-ONCE",
      SLEEP_TIME: "soon",
      WATCH_CLIENT_TIMEOUT: "-1",
      DEFAULT_FILE_MODE: "999",
      UNIQUE_FILENAMES: "perhaps",
      HEALTH_PORT: "70000",
    });
    assert.equal(r.code, 2, r.output);
    for (
      const v of [
        "METHOD",
        "SLEEP_TIME",
        "WATCH_CLIENT_TIMEOUT",
        "DEFAULT_FILE_MODE",
        "UNIQUE_FILENAMES",
        "HEALTH_PORT",
      ]
    ) {
      assert.match(r.output, new RegExp(v), `${v} not named`);
    }
    assert.deepEqual(await listFiles(folder), [], "the folder is untouched");
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});
