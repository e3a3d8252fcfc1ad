/**
 * The configuration edge against a real kube-apiserver with RBAC, the sidecar as its own process:
 * the METHOD warning without COMPAT, a health-port clash that must not stop syncing, the
 * connection-error messages, notification failures with the server's answer (and no password in
 * any log), every kubeconfig credential form kubectl accepts, the command line, and the parts of
 * `COMPAT=kiwigrid` the chart test does not reach.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ALL_VARS } from "../src/config/vars.ts";
import {
  type Cluster,
  freePort,
  kubeconfigText,
  READ_CONFIGMAPS,
  READ_CONFIGMAPS_AND_SECRETS,
  startCluster,
} from "./harness/cluster.ts";
import {
  absent,
  cm,
  LABEL,
  listFiles,
  readText,
  replaceCm,
  secret,
  sidecar,
} from "./harness/fixtures.ts";
import { denoEnv, MAIN } from "./harness/deno_child.ts";
import type { ManagedProcess } from "./harness/process.ts";
import { eventually, Receiver, runSidecarToEnd, startSidecar } from "./harness/sidecar.ts";

const PASSWORD = "chart-Adm1n-pw-s3cret";

/** Runs main.ts with `args` and only `env` (plus Deno's cache variables) to its end. */
async function runMain(
  env: Record<string, string>,
  args: string[] = [],
): Promise<{ code: number; output: string; stdout: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", MAIN, ...args],
    clearEnv: true,
    env: { ...denoEnv(["HOME"]), HEALTH_PORT: "0", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  const stdout = dec.decode(out.stdout);
  return { code: out.code, output: stdout + dec.decode(out.stderr), stdout };
}

/** main.ts as its own process with `args`, out of cluster (no pod environment). */
function spawnMain(
  cluster: Cluster,
  name: string,
  env: Record<string, string>,
  args: string[] = [],
): ManagedProcess {
  return cluster.processes.spawn(name, Deno.execPath(), [
    "run",
    "--allow-all",
    "--quiet",
    MAIN,
    ...args,
  ], {
    clearEnv: true,
    env: {
      ...denoEnv(["HOME"]),
      HOME: cluster.dataDir,
      LOG_LEVEL: "DEBUG",
      HEALTH_PORT: "0",
      ...env,
    },
  });
}

async function metric(proc: ManagedProcess, name: string): Promise<number> {
  const port = healthPort(proc);
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text.split("\n").filter((l) => l.startsWith(name)).reduce(
    (sum, l) => sum + Number(l.split(" ").pop()),
    0,
  );
}

function healthPort(proc: ManagedProcess): number {
  const port = Number(/health endpoints listening.*?:(\d+)"/.exec(proc.output)?.[1]);
  assert.ok(port > 0, "health address logged");
  return port;
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

Deno.test("the configuration edge, against a real API server", async (t) => {
  await using cluster = await startCluster();

  await t.step("--help prints every variable with its default and exits 0", async () => {
    const { code, stdout } = await runMain({}, ["--help"]);
    assert.equal(code, 0);
    for (const v of ALL_VARS) {
      assert.ok(stdout.includes(`\n  ${v.name}`), `${v.name} in --help`);
    }
    assert.ok(stdout.includes("\n  SLEEP_TIME=60\n"));
    assert.ok(stdout.includes("\n  FOLDER (required)\n"));
  });

  await t.step("unknown command-line arguments are exit 2, before the folder is made", async () => {
    const folder = join(cluster.dataDir, "never-made");
    const env = { FOLDER: folder, LABEL };
    const unknown = await runMain(env, ["--verbose"]);
    assert.equal(unknown.code, 2, unknown.output);
    assert.match(unknown.output, /unknown command-line argument "--verbose"/);
    const kiwi = await runMain(env, ["--req-username-file=/creds/user"]);
    assert.equal(kiwi.code, 2, kiwi.output);
    assert.match(
      kiwi.output,
      /--req-username-file is kiwigrid\/k8s-sidecar's: set REQ_USERNAME_FILE/,
    );
    await absent(folder);
  });

  await t.step("connection errors: nothing to connect with, an unreadable KUBECONFIG", async () => {
    const folder = join(cluster.dataDir, "not-touched");
    const home = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "home-" });
    const none = await runMain({ FOLDER: folder, LABEL, HOME: home });
    assert.equal(none.code, 2, none.output);
    assert.match(
      none.output,
      new RegExp(
        "no way to reach the Kubernetes API server: not running in a pod \\(KUBERNETES_SERVICE_HOST " +
          `is unset\\), KUBECONFIG is unset, and ${home}/\\.kube/config does not exist`,
      ),
    );
    assert.doesNotMatch(none.output, /localhost:8080/);
    const missing = join(cluster.dataDir, "no-such-kubeconfig");
    const bad = await runMain({ FOLDER: folder, LABEL, KUBECONFIG: missing });
    assert.equal(bad.code, 2, bad.output);
    assert.ok(
      bad.output.includes(
        `KUBECONFIG="${missing}": ${missing}: cannot read the kubeconfig (NotFound)`,
      ),
      bad.output,
    );
    await absent(folder);
  });

  await t.step(
    "token, tokenFile, client certificate and exec kubeconfigs authenticate",
    async () => {
      const ns = "creds";
      await cluster.createNamespace(ns);
      await cm(cluster, ns, "dash", { "creds.json": '{"ok":1}' });
      const sa = await cluster.createServiceAccount({
        namespace: ns,
        name: "reader",
        rules: READ_CONFIGMAPS,
      });
      // A user known by its client certificate, bound to the same rights.
      await cluster.admin.create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, {
        metadata: { name: "cert-reader" },
        rules: READ_CONFIGMAPS,
      });
      await cluster.admin.create(
        `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`,
        {
          metadata: { name: "cert-reader" },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "cert-reader" },
          subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "cert-reader" }],
        },
      );
      const dir = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "kubeconfigs-" });
      const openssl = async (...args: string[]) => {
        const out = await new Deno.Command("openssl", {
          args,
          cwd: dir,
          stdout: "null",
          stderr: "piped",
        })
          .output();
        assert.ok(out.success, new TextDecoder().decode(out.stderr));
      };
      await openssl(
        ...["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
        ...["-keyout", "user.key", "-out", "user.csr", "-subj", "/CN=cert-reader"],
      );
      await Deno.writeTextFile(join(dir, "user.ext"), "extendedKeyUsage=clientAuth\n");
      await openssl(
        ...["x509", "-req", "-in", "user.csr", "-CA", join(cluster.pki.dir, "ca.crt")],
        ...["-CAkey", join(cluster.pki.dir, "ca.key"), "-CAcreateserial", "-out", "user.crt"],
        ...["-days", "1", "-extfile", "user.ext"],
      );
      await Deno.mkdir(join(dir, "secrets"));
      await Deno.writeTextFile(join(dir, "secrets", "token"), sa.token);
      await Deno.mkdir(join(dir, "bin"));
      await Deno.writeTextFile(
        join(dir, "bin", "get-token"),
        "#!/bin/sh\nprintf '%s' '" +
          JSON.stringify({
            apiVersion: "client.authentication.k8s.io/v1",
            kind: "ExecCredential",
            status: { token: sa.token },
          }) + "'\n",
        { mode: 0o755 },
      );
      const users: Record<string, Record<string, unknown>> = {
        token: { token: sa.token },
        // kubectl's field, relative to the kubeconfig's folder; client-node alone ignores it.
        tokenFile: { tokenFile: "secrets/token" },
        "client-certificate": { "client-certificate": "user.crt", "client-key": "user.key" },
        "client-certificate-data": {
          "client-certificate-data": btoa(await Deno.readTextFile(join(dir, "user.crt"))),
          "client-key-data": btoa(await Deno.readTextFile(join(dir, "user.key"))),
        },
        exec: {
          exec: {
            apiVersion: "client.authentication.k8s.io/v1",
            command: "./bin/get-token",
            interactiveMode: "Never",
          },
        },
      };
      const running: { form: string; proc: ManagedProcess; folder: string }[] = [];
      try {
        for (const [form, user] of Object.entries(users)) {
          const path = join(dir, `${form}.kubeconfig`);
          // kubeconfigText writes the user given; the forms here are not in its type.
          const text = JSON.parse(
            kubeconfigText(cluster.server, cluster.pki.caCert, { token: "x" }),
          );
          text.users[0].user = user;
          await Deno.writeTextFile(path, JSON.stringify(text));
          const folder = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: `out-${form}-` });
          const proc = spawnMain(cluster, `kubeconfig-${form}`, {
            KUBECONFIG: path,
            FOLDER: folder,
            LABEL,
            NAMESPACE: ns,
          });
          running.push({ form, proc, folder });
        }
        // Anonymous or unauthenticated requests get 401/403 here: a written file proves the form.
        for (const { form, proc, folder } of running) {
          await eventually(
            async () => assert.equal(await readText(join(folder, "creds.json")), '{"ok":1}'),
            { proc, what: `a file through the ${form} kubeconfig`, timeoutMs: 60_000 },
          );
        }
      } finally {
        for (const { proc } of running) await proc.stop();
      }
    },
  );

  await t.step(
    "without COMPAT, METHOD=LIST and SLEEP warn and keep this project's meaning",
    async () => {
      const ns = "methods";
      await cluster.createNamespace(ns);
      await cm(cluster, ns, "dash", { "m.json": "1" });
      const sa = await cluster.createServiceAccount({
        namespace: ns,
        name: "m",
        rules: READ_CONFIGMAPS,
      });
      const pod = await cluster.podEnvironment(sa);
      const folder = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "out-sleep-" });
      const once = await runSidecarToEnd(pod, {
        FOLDER: folder,
        LABEL,
        NAMESPACE: ns,
        METHOD: "SLEEP",
      });
      assert.equal(once.code, 0, once.output);
      assert.match(
        once.output,
        /METHOD=SLEEP syncs once, notifies and exits here; in kiwigrid\/k8s-sidecar SLEEP relists/,
      );
      assert.match(once.output, /Set COMPAT=kiwigrid for kiwigrid's meaning/);
      assert.equal(await readText(join(folder, "m.json")), "1");

      const polling = await sidecar(cluster, {
        namespaces: [ns],
        env: { METHOD: "LIST", SLEEP_TIME: "0.5" },
      });
      try {
        await eventually(
          () =>
            assert.match(polling.proc.output, /METHOD=LIST relists every SLEEP_TIME seconds here/),
          {
            proc: polling.proc,
          },
        );
        await eventually(
          async () => assert.equal(await readText(join(polling.folder, "m.json")), "1"),
          {
            proc: polling.proc,
          },
        );
        // It polls: a later change arrives and the list counter grows.
        const lists = await metric(polling.proc, "gsidecar_lists_total");
        await replaceCm(cluster, ns, "dash", { "m.json": "2" });
        await eventually(
          async () => assert.equal(await readText(join(polling.folder, "m.json")), "2"),
          {
            proc: polling.proc,
          },
        );
        await eventually(async () =>
          assert.ok((await metric(polling.proc, "gsidecar_lists_total")) > lists)
        );
      } finally {
        await polling.proc.stop();
      }
    },
  );

  await t.step(
    "a health port in use is logged, naming HEALTH_PORT, and syncing goes on",
    async () => {
      const ns = "clash";
      await cluster.createNamespace(ns);
      await cm(cluster, ns, "dash", { "first.json": "1" });
      const port = String(freePort());
      const a = await sidecar(cluster, { namespaces: [ns], env: { HEALTH_PORT: port } });
      try {
        await eventually(() => assert.match(a.proc.output, /health endpoints listening/), {
          proc: a.proc,
        });
        const b = await sidecar(cluster, { namespaces: [ns], env: { HEALTH_PORT: port } });
        try {
          await eventually(
            () =>
              assert.match(
                b.proc.output,
                new RegExp(
                  `health server not started: HEALTH_HOST/HEALTH_PORT address \\[::\\]:${port} is already in use`,
                ),
              ),
            { proc: b.proc },
          );
          await eventually(
            async () => assert.equal(await readText(join(b.folder, "first.json")), "1"),
            {
              proc: b.proc,
            },
          );
          await cm(cluster, ns, "later", { "later.json": "2" });
          await eventually(
            async () => assert.equal(await readText(join(b.folder, "later.json")), "2"),
            {
              proc: b.proc,
              what: "a later change reaches the sidecar without a health server",
            },
          );
          assert.equal(
            (await get(`http://127.0.0.1:${port}/healthz`)).status,
            200,
            "the first one answers",
          );
        } finally {
          await b.proc.stop();
        }
      } finally {
        await a.proc.stop();
      }
    },
  );

  await t.step(
    "a failed notification and download log the answer's body, never the password",
    async () => {
      const ns = "answers";
      await cluster.createNamespace(ns);
      // The body echoes the request's credentials, as a careless error page might.
      await using echo = receiverEcho();
      await cm(cluster, ns, "dash", {
        "d.json": '{"d":1}',
        "remote.json.url": `${echo.url}/fail`,
      });
      const s = await sidecar(cluster, {
        namespaces: [ns],
        env: {
          REQ_URL: `${echo.url}/reload`,
          REQ_METHOD: "POST",
          REQ_USERNAME: "admin",
          REQ_PASSWORD: PASSWORD,
          REQ_RETRY_TOTAL: "0",
          WRITERS: "json-file",
          LOG_FORMAT: "logfmt",
        },
      });
      try {
        await eventually(
          () => assert.match(s.proc.output, /answered 500: prometheus says: bad rule file/),
          {
            proc: s.proc,
            what: "the notification's 500 body in the log",
          },
        );
        await eventually(
          () => assert.match(s.proc.output, /HTTP 500: prometheus says: bad rule file/),
          {
            proc: s.proc,
            what: "the download's 500 body in the log",
          },
        );
        assert.ok(!s.proc.output.includes(PASSWORD), "no password in the log");
        assert.ok(
          !s.proc.output.includes(btoa(`admin:${PASSWORD}`)),
          "no Authorization in the log",
        );
        assert.ok(s.proc.output.includes("[redacted]"));
      } finally {
        await s.proc.stop();
      }
    },
  );

  await t.step(
    "COMPAT: RESOURCE_NAME reads named objects whatever their labels, with a resourceNames Role",
    async () => {
      const ns = "byname";
      await cluster.createNamespace(ns);
      await cm(cluster, ns, "named", { "named.txt": "v1" }, { labels: { unrelated: "x" } });
      await cm(cluster, ns, "other", { "other.txt": "labelled" });
      const sa = await cluster.createServiceAccount({
        namespace: ns,
        name: "byname",
        rules: [{
          apiGroups: [""],
          resources: ["configmaps"],
          verbs: ["get", "list", "watch"],
          resourceNames: ["named"],
        }],
      });
      const pod = await cluster.podEnvironment(sa);
      const folder = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "out-byname-" });
      // NAMESPACE unset: the pod's own (the service account's namespace file).
      const proc = startSidecar(cluster, pod, {
        COMPAT: "kiwigrid",
        FOLDER: folder,
        LABEL,
        RESOURCE_NAME: "named",
      }, "byname");
      try {
        await eventually(
          async () => assert.equal(await readText(join(folder, "named.txt")), "v1"),
          {
            proc,
            what: "the named, unlabelled object",
          },
        );
        await replaceCm(cluster, ns, "named", { "named.txt": "v2" }, { unrelated: "x" });
        await eventually(
          async () => assert.equal(await readText(join(folder, "named.txt")), "v2"),
          {
            proc,
            what: "its change, through the watch",
          },
        );
        assert.deepEqual(
          await listFiles(folder),
          ["named.txt"],
          "the labelled other object is not named",
        );
        // ": 403" as KubeApiError writes it; a bare 403 also matches port numbers such as 40343.
        assert.doesNotMatch(proc.output, /Forbidden|: 403\b/);
      } finally {
        await proc.stop();
      }
    },
  );

  await t.step("COMPAT: no NAMESPACE and no namespace file is exit 2", async () => {
    const folder = join(cluster.dataDir, "no-ns");
    const r = await runSidecarToEnd(undefined, {
      COMPAT: "kiwigrid",
      FOLDER: folder,
      LABEL,
      GSIDECAR_SERVICE_ACCOUNT_DIR: join(cluster.dataDir, "no-sa"),
    });
    assert.equal(r.code, 2, r.output);
    assert.match(
      r.output,
      /NAMESPACE is unset, which under COMPAT=kiwigrid means the pod's own namespace/,
    );
    await absent(folder);
  });

  await t.step(
    "COMPAT: /healthz is 503 until the initial sync is written, then as before",
    async () => {
      const ns = "health";
      await cluster.createNamespace(ns);
      await cm(cluster, ns, "dash", { "h.txt": "1" });
      // A Role that may not list yet: the initial sync cannot be written.
      const sa = await cluster.createServiceAccount({
        namespace: ns,
        name: "late",
        rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }],
      });
      const pod = await cluster.podEnvironment(sa);
      const folder = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "out-health-" });
      await Deno.mkdir(folder + "-own");
      const kiwi = startSidecar(cluster, pod, {
        COMPAT: "kiwigrid",
        FOLDER: folder,
        LABEL,
        ERROR_THROTTLE_SLEEP: "0.2",
      }, "kiwi-health");
      const own = startSidecar(cluster, pod, {
        FOLDER: folder + "-own",
        LABEL,
        NAMESPACE: ns,
        ERROR_THROTTLE_SLEEP: "0.2",
      }, "own-health");
      try {
        await eventually(() => assert.match(kiwi.output, /forbidden|Forbidden/), { proc: kiwi });
        await eventually(() => assert.match(own.output, /forbidden|Forbidden/), { proc: own });
        const kiwiHealth = await get(`http://127.0.0.1:${healthPort(kiwi)}/healthz`);
        assert.equal(kiwiHealth.status, 503);
        assert.match(kiwiHealth.body, /initial sync not written yet/);
        assert.equal(
          (await get(`http://127.0.0.1:${healthPort(own)}/healthz`)).status,
          200,
          "this project's meaning",
        );
        await cluster.createServiceAccount({ namespace: ns, name: "late", rules: READ_CONFIGMAPS });
        await eventually(async () => assert.equal(await readText(join(folder, "h.txt")), "1"), {
          proc: kiwi,
          timeoutMs: 60_000,
        });
        await eventually(
          async () =>
            assert.equal((await get(`http://127.0.0.1:${healthPort(kiwi)}/healthz`)).status, 200),
          {
            proc: kiwi,
          },
        );
      } finally {
        await kiwi.stop();
        await own.stop();
      }
    },
  );

  await t.step(
    "COMPAT: Secret files get the umask, kiwigrid's flags give the credentials, 500 is retried",
    async () => {
      const ns = "kiwi";
      await cluster.createNamespace(ns);
      await secret(cluster, ns, "s", { "s.txt": new TextEncoder().encode("secret-bytes") });
      const creds = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "creds-" });
      await Deno.writeTextFile(join(creds, "user"), "admin\n");
      await Deno.writeTextFile(join(creds, "password"), `${PASSWORD}\n`);
      await using app = new Receiver();
      app.status = 500;
      const sa = await cluster.createServiceAccount({
        namespace: ns,
        name: "kiwi",
        rules: READ_CONFIGMAPS_AND_SECRETS,
      });
      const pod = await cluster.podEnvironment(sa);
      const folder = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "out-kiwi-" });
      const proc = cluster.processes.spawn("kiwi-flags", Deno.execPath(), [
        "run",
        "--allow-all",
        "--quiet",
        MAIN,
        "--req-username-file",
        join(creds, "user"),
        `--req-password-file=${join(creds, "password")}`,
      ], {
        clearEnv: true,
        env: {
          ...denoEnv(["HOME"]),
          ...pod.env,
          HEALTH_PORT: "0",
          COMPAT: "kiwigrid",
          FOLDER: folder,
          LABEL,
          RESOURCE: "both",
          REQ_URL: `${app.url}/reload`,
          REQ_METHOD: "POST",
          REQ_USERNAME: "plain-user-loses",
          REQ_RETRY_BACKOFF_FACTOR: "0.1",
        },
      });
      try {
        await eventually(
          async () => assert.equal(await readText(join(folder, "s.txt")), "secret-bytes"),
          { proc },
        );
        const umask = Number.parseInt(
          /Umask:\s*(\d+)/.exec(await Deno.readTextFile("/proc/self/status"))?.[1] ?? "22",
          8,
        );
        assert.equal((await Deno.stat(join(folder, "s.txt"))).mode! & 0o777, 0o666 & ~umask);
        // kiwigrid retries 500 unless ENABLE_5XX=true: a second request follows the first.
        await eventually(
          () => assert.ok(app.requests.length >= 2, `${app.requests.length} requests`),
          { proc },
        );
        app.status = 200;
        const auth = app.requests[0]!.authorization;
        assert.equal(auth, `Basic ${btoa(`admin:${PASSWORD}`)}`, "the files of the flags win");
        assert.equal(app.requests[0]!.body, "", "kiwigrid posts no body without REQ_PAYLOAD");
        assert.match(proc.output, /REQ_USERNAME and REQ_USERNAME_FILE are both set: the file wins/);
        assert.ok(!proc.output.includes(PASSWORD));
      } finally {
        await proc.stop();
      }
    },
  );
});

/** A receiver whose 500 answers echo the request's Authorization header. */
function receiverEcho(): { url: string; [Symbol.asyncDispose](): Promise<void> } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.body?.cancel();
    return new Response(
      `prometheus says: bad rule file (request had ${req.headers.get("authorization")})`,
      { status: 500 },
    );
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
