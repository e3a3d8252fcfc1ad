import assert from "node:assert/strict";
import { join } from "node:path";
import { KubeClient } from "./client.ts";
import { KubeConfigError, resolveConnection } from "./connect.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function configError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof KubeConfigError, String(e));
    return e.message;
  }
  assert.fail("no KubeConfigError");
}

function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:6443", ...cluster } }],
    users: [{ name: "u", user }],
    contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
    "current-context": "ctx",
  });
}

Deno.test("resolveConnection() out of cluster without any kubeconfig says what it looked for", async () => {
  await withDir(async (home) => {
    const noHome = await configError(resolveConnection({ env: {}, serviceAccountDir: home }));
    assert.equal(
      noHome,
      "no way to reach the Kubernetes API server: not running in a pod (KUBERNETES_SERVICE_HOST " +
        "is unset), KUBECONFIG is unset, and HOME is unset, so there is no ~/.kube/config. Run in " +
        "a pod with a service account (automountServiceAccountToken), or set KUBECONFIG",
    );
    const withHome = await configError(
      resolveConnection({
        env: { HOME: home, KUBERNETES_SERVICE_HOST: "10.0.0.1" },
        serviceAccountDir: home,
      }),
    );
    assert.match(withHome, new RegExp(`no service-account token at ${home}/token`));
    assert.match(withHome, new RegExp(`${home}/\\.kube/config does not exist`));
  });
});

Deno.test("resolveConnection() names KUBECONFIG and the path of a kubeconfig it cannot read", async () => {
  await withDir(async (dir) => {
    const good = join(dir, "good");
    await Deno.writeTextFile(good, kubeconfig({ token: "t" }));
    const missing = join(dir, "missing");
    assert.equal(
      await configError(resolveConnection({ env: {}, kubeconfig: missing })),
      `KUBECONFIG="${missing}": ${missing}: cannot read the kubeconfig (NotFound)`,
    );
    const list = `${good}:${missing}`;
    assert.equal(
      await configError(resolveConnection({ env: {}, kubeconfig: list })),
      `KUBECONFIG="${list}": ${missing}: cannot read the kubeconfig (NotFound)`,
    );
    const bad = join(dir, "bad");
    await Deno.writeTextFile(bad, "clusters: [");
    assert.match(
      await configError(resolveConnection({ env: {}, kubeconfig: bad })),
      /: not a valid kubeconfig: not valid YAML at line \d+, column \d+ \([a-z ]+\)/,
    );
    // A YAML error next to a token: the message says where, never what.
    const leaky = join(dir, "leaky");
    await Deno.writeTextFile(
      leaky,
      "users:\n- name: u\n  user:\n    token: s3cret-tok3n\n  bad: [\n",
    );
    const message = await configError(resolveConnection({ env: {}, kubeconfig: leaky }));
    assert.match(message, /not valid YAML at line/);
    assert.ok(!message.includes("s3cret-tok3n"), message);
    const empty = join(dir, "empty");
    await Deno.writeTextFile(empty, "apiVersion: v1\nkind: Config\n");
    assert.match(
      await configError(resolveConnection({ env: {}, kubeconfig: empty })),
      /no current context with a cluster and a server/,
    );
    const certless = join(dir, "certless");
    await Deno.writeTextFile(certless, kubeconfig({ "client-certificate": "nope.crt" }));
    assert.match(
      await configError(resolveConnection({ env: {}, kubeconfig: certless })),
      new RegExp(`cannot read the client certificate ${dir}/nope.crt \\(NotFound\\)`),
    );
  });
});

Deno.test("resolveConnection() reads kubectl's tokenFile relative to the kubeconfig, on every request", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(join(dir, "sub"));
    const path = join(dir, "sub", "config");
    await Deno.writeTextFile(path, kubeconfig({ tokenFile: "token" }));
    await Deno.writeTextFile(join(dir, "sub", "token"), "first\n");
    const { connection } = await resolveConnection({ env: {}, kubeconfig: path });
    assert.deepEqual(
      await connection.authHeaders?.() ?? { authorization: `Bearer ${await connection.token?.()}` },
      {
        authorization: "Bearer first",
      },
    );
    // client-node's own spelling works too; an inline token wins, as in kubectl.
    await Deno.writeTextFile(path, kubeconfig({ "token-file": "sub/token" }));
    await Deno.rename(path, join(dir, "config"));
    const second = await resolveConnection({ env: {}, kubeconfig: join(dir, "config") });
    assert.equal(await second.connection.token?.(), "first");
    await Deno.writeTextFile(
      join(dir, "config"),
      kubeconfig({ token: "inline", tokenFile: "sub/token" }),
    );
    const inline = await resolveConnection({ env: {}, kubeconfig: join(dir, "config") });
    assert.deepEqual(await inline.connection.authHeaders?.(), { authorization: "Bearer inline" });
    await Deno.writeTextFile(join(dir, "config"), kubeconfig({ tokenFile: "gone" }));
    assert.match(
      await configError(resolveConnection({ env: {}, kubeconfig: join(dir, "config") })),
      new RegExp(`tokenFile ${dir}/gone does not exist`),
    );
  });
});

Deno.test("resolveConnection() sends basic auth, impersonation, and honours insecure-skip-tls-verify", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "config");
    await Deno.writeTextFile(
      path,
      kubeconfig({ username: "admin", password: "pä55", as: "someone" }, {
        "insecure-skip-tls-verify": true,
      }),
    );
    const { connection } = await resolveConnection({ env: {}, kubeconfig: path });
    const utf8 = btoa(String.fromCharCode(...new TextEncoder().encode("admin:pä55")));
    assert.deepEqual(await connection.authHeaders?.(), {
      authorization: `Basic ${utf8}`,
      "impersonate-user": "someone",
    });
    assert.equal(connection.skipTlsVerify, true);
  });
});

Deno.test("resolveConnection() runs an exec plugin given relative to the kubeconfig", async () => {
  await withDir(async (dir) => {
    const script = join(dir, "bin", "get-token");
    await Deno.mkdir(join(dir, "bin"));
    await Deno.writeTextFile(
      script,
      `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-exec"}}'\n`,
      { mode: 0o755 },
    );
    const path = join(dir, "config");
    await Deno.writeTextFile(
      path,
      kubeconfig({
        exec: {
          apiVersion: "client.authentication.k8s.io/v1",
          command: "./bin/get-token",
          interactiveMode: "Never",
        },
      }),
    );
    const { connection } = await resolveConnection({ env: {}, kubeconfig: path });
    assert.deepEqual(await connection.authHeaders?.(), { authorization: "Bearer from-exec" });
  });
});

const hasOpenssl = await new Deno.Command("openssl", { args: ["version"], stdout: "null" })
  .output().then((o) => o.success, () => false);

async function openssl(cwd: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

Deno.test({
  name:
    "KubeClient accepts a CA and server certificate without key identifiers (what DISABLE_X509_STRICT_VERIFICATION relaxes in kiwigrid)",
  ignore: !hasOpenssl,
  async fn() {
    await withDir(async (dir) => {
      // As older Kubernetes CAs were made: no subject or authority key identifier, which
      // OpenSSL's X509_STRICT (Python 3.13's default) refuses.
      await Deno.writeTextFile(
        join(dir, "ca.cnf"),
        "[req]\ndistinguished_name=dn\nx509_extensions=v3\nprompt=no\n[dn]\nCN=legacy-ca\n" +
          "[v3]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,digitalSignature\n" +
          "subjectKeyIdentifier=none\nauthorityKeyIdentifier=none\n",
      );
      await Deno.writeTextFile(
        join(dir, "leaf.cnf"),
        "[ext]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n" +
          "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n" +
          "subjectKeyIdentifier=none\nauthorityKeyIdentifier=none\n",
      );
      const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
      await openssl(
        dir,
        "req",
        "-x509",
        ...ec,
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-config",
        "ca.cnf",
      );
      await openssl(
        dir,
        "req",
        ...ec,
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=kube-apiserver",
      );
      await openssl(
        dir,
        ...[
          "x509",
          "-req",
          "-in",
          "leaf.csr",
          "-CA",
          "ca.crt",
          "-CAkey",
          "ca.key",
          "-CAcreateserial",
        ],
        ...["-out", "leaf.crt", "-days", "2", "-extfile", "leaf.cnf", "-extensions", "ext"],
      );
      const strict = await new Deno.Command("openssl", {
        args: ["verify", "-x509_strict", "-CAfile", "ca.crt", "leaf.crt"],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(strict.success, false, "OpenSSL's strict mode refuses this chain");
      const server = Deno.serve({
        hostname: "127.0.0.1",
        port: 0,
        onListen() {},
        cert: await Deno.readTextFile(join(dir, "leaf.crt")),
        key: await Deno.readTextFile(join(dir, "leaf.key")),
      }, () => Response.json({ major: "1" }));
      const client = new KubeClient({
        server: `https://127.0.0.1:${server.addr.port}`,
        caCert: await Deno.readTextFile(join(dir, "ca.crt")),
      });
      try {
        assert.deepEqual(await client.get("/version"), { major: "1" });
      } finally {
        client.close();
        await server.shutdown();
      }
    });
  },
});
