/**
 * The fault suite: what a node can throw at the sidecar — a full or read-only disk, a damaged
 * ownership record, files the application changed, a notification endpoint that is down, an API
 * server that restarts, a scope it may not read, bad Secret content at DEBUG — against the real
 * control plane, with the sidecar as its own process with a least-privilege token.
 *
 * Full and read-only folders are small tmpfs mounts, which needs root (CI and these machines run
 * tests as root); without it those two steps are skipped and say so.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { stringify } from "yaml";
import {
  freePort,
  READ_CONFIGMAPS,
  READ_CONFIGMAPS_AND_SECRETS,
  startCluster,
} from "./harness/cluster.ts";
import {
  absent,
  cm,
  del,
  LABEL,
  readText,
  replaceCm,
  secret,
  sidecar,
} from "./harness/fixtures.ts";
import { get, healthUrl, metric } from "./harness/health.ts";
import { eventually, Receiver, runSidecarToEnd } from "./harness/sidecar.ts";

const RECORD = ".k8s-gsidecar-owned";

/** Every name in `dir`, dotfiles included. */
async function listAll(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir), (e) => e.name)).sort();
}

async function run(cmd: string, ...args: string[]): Promise<{ ok: boolean; text: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output()
    .catch((e) => ({ success: false, stdout: new Uint8Array(), stderr: String(e) }));
  const dec = new TextDecoder();
  const err = typeof out.stderr === "string" ? out.stderr : dec.decode(out.stderr);
  return { ok: out.success, text: dec.decode(out.stdout) + err };
}

/** Why tmpfs mounts cannot be used here, or undefined when they can. */
async function tmpfsUnavailable(): Promise<string | undefined> {
  if (Deno.uid() !== 0) return "mounting a small tmpfs needs root";
  const dir = await Deno.makeTempDir({ prefix: "gsidecar-mount-probe-" });
  try {
    const mounted = await run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir);
    if (!mounted.ok) return `mount -t tmpfs failed: ${mounted.text.trim()}`;
    await run("umount", dir);
    return undefined;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function mustRun(cmd: string, ...args: string[]): Promise<void> {
  const r = await run(cmd, ...args);
  if (!r.ok) throw new Error(`${cmd} ${args.join(" ")}: ${r.text}`);
}

/** Fills the file system of `dir` with a file of its own until it is full. */
async function fill(path: string): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true });
  const chunk = new Uint8Array(4096).fill(120);
  try {
    for (;;) await file.write(chunk);
  } catch (e) {
    if (!String(e).includes("No space")) throw e;
  } finally {
    file.close();
  }
}

const noMount = await tmpfsUnavailable();

Deno.test("fault suite: the sidecar recovers from what a node throws at it", async (t) => {
  await using cluster = await startCluster();

  await t.step({
    name: `a full disk: the update is retried and lands once space is freed, without a new change${
      noMount ? ` (skipped: ${noMount})` : ""
    }`,
    ignore: noMount !== undefined,
    fn: async () => {
      const ns = "full";
      await cluster.createNamespace(ns);
      const folder = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "full-" });
      await mustRun("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", folder);
      await using receiver = new Receiver();
      await cm(cluster, ns, "a", { "a.json": '{"v":1}' });
      const s = await sidecar(cluster, {
        namespaces: [ns],
        folder,
        env: { HEALTH_HOST: "127.0.0.1", REQ_URL: `${receiver.url}/reload` },
      });
      try {
        await eventually(
          async () => assert.equal(await readText(join(folder, "a.json")), '{"v":1}'),
          {
            proc: s.proc,
          },
        );
        const url = await healthUrl(s.proc);
        await eventually(() => assert.equal(receiver.requests.length, 1), { proc: s.proc });
        const filler = join(folder, "filler.bin");
        await fill(filler);
        const big = JSON.stringify({ v: 2, pad: "x".repeat(64 * 1024) });
        await replaceCm(cluster, ns, "a", { "a.json": big });
        await eventually(async () => {
          const text = (await get(`${url}/metrics`)).body;
          assert.ok(metric(text, "gsidecar_write_failures_total") >= 1);
          assert.equal(metric(text, "gsidecar_failing_paths"), 1);
        }, { proc: s.proc });
        assert.equal(await readText(join(folder, "a.json")), '{"v":1}', "the last good file stays");
        assert.match(s.proc.output, /a\.json; retrying until it succeeds/);

        await Deno.remove(filler);
        await eventually(async () => assert.equal(await readText(join(folder, "a.json")), big), {
          proc: s.proc,
          what: "the update lands without a new change",
        });
        await eventually(() => assert.equal(receiver.requests.length, 2), {
          proc: s.proc,
          what: "the application is told about the late write",
        });
        const text = (await get(`${url}/metrics`)).body;
        assert.equal(metric(text, "gsidecar_failing_paths"), 0);
        assert.equal((await get(`${url}/healthz`)).status, 200);
      } finally {
        await s.proc.stop();
        await run("umount", folder);
      }
    },
  });

  await t.step({
    name: `a read-only folder: the update made meanwhile lands once it is writable again${
      noMount ? ` (skipped: ${noMount})` : ""
    }`,
    ignore: noMount !== undefined,
    fn: async () => {
      const ns = "readonly";
      await cluster.createNamespace(ns);
      // The objects' subfolder is the mount; the ownership record, held open for appends, lives
      // in the folder above it (a mount with a file open for writing cannot be made read-only).
      const folder = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "ro-" });
      const sub = join(folder, "sub");
      await Deno.mkdir(sub);
      await mustRun("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", sub);
      const annotations = { "k8s-sidecar-target-directory": "sub" };
      await cm(cluster, ns, "a", { "a.json": "1" }, { annotations });
      await cm(cluster, ns, "gone", { "gone.json": "0" }, { annotations });
      const s = await sidecar(cluster, { namespaces: [ns], folder });
      try {
        await eventually(async () => assert.equal(await readText(join(sub, "gone.json")), "0"), {
          proc: s.proc,
        });
        await mustRun("mount", "-o", "remount,ro", sub);
        await replaceCm(cluster, ns, "a", { "a.json": "2" }, undefined, annotations);
        await del(cluster, ns, "configmaps", "gone");
        await eventually(() => assert.match(s.proc.output, /could not (write|remove).*retrying/), {
          proc: s.proc,
        });
        assert.equal(await readText(join(sub, "a.json")), "1");
        await mustRun("mount", "-o", "remount,rw", sub);
        await eventually(async () => {
          assert.equal(await readText(join(sub, "a.json")), "2");
          await absent(join(sub, "gone.json"));
        }, { proc: s.proc, what: "the update and the removal made while read-only" });
      } finally {
        await s.proc.stop();
        await run("umount", sub);
      }
    },
  });

  const damages: Record<string, (record: string) => Promise<void>> = {
    deleted: (record) => Deno.remove(record),
    emptied: (record) => Deno.writeTextFile(record, ""),
    "truncated mid-line": async (record) => {
      const text = await Deno.readTextFile(record);
      await Deno.writeTextFile(record, text.slice(0, Math.floor(text.length * 0.6)));
    },
    "filled with garbage": (record) =>
      Deno.writeFile(record, crypto.getRandomValues(new Uint8Array(2048))),
  };
  for (const [damage, apply] of Object.entries(damages)) {
    await t.step(
      `an ownership record ${damage}: the sidecar keeps managing its files`,
      async () => {
        const ns = `rec-${damage.replace(/[^a-z]+/g, "-")}`;
        await cluster.createNamespace(ns);
        for (const name of ["a", "b", "c"]) {
          await cm(cluster, ns, name, { [`${name}.json`]: `"${name}"` });
        }
        const folder = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "rec-" });
        let s = await sidecar(cluster, { namespaces: [ns], folder });
        await eventually(async () => assert.equal(await readText(join(folder, "c.json")), '"c"'), {
          proc: s.proc,
        });
        await s.proc.stop();
        await apply(join(folder, RECORD));
        s = await sidecar(cluster, { namespaces: [ns], folder });
        try {
          await eventually(() => assert.match(s.proc.output, /"msg":"initial sync written"/), {
            proc: s.proc,
          });
          await replaceCm(cluster, ns, "a", { "a.json": '"a2"' });
          await del(cluster, ns, "configmaps", "b");
          await eventually(async () => {
            assert.equal(await readText(join(folder, "a.json")), '"a2"');
            await absent(join(folder, "b.json"));
          }, { proc: s.proc, what: "an update and a removal after the damage" });
          assert.equal(await readText(join(folder, "c.json")), '"c"');
        } finally {
          await s.proc.stop();
        }
      },
    );
  }

  await t.step(
    "STATE_DIR keeps the folder free of the record across a restart; orphans are still removed",
    async () => {
      const ns = "statedir";
      await cluster.createNamespace(ns);
      await cm(cluster, ns, "a", { "a.json": "1" });
      await cm(cluster, ns, "b", { "b.json": "2" });
      const folder = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "sd-folder-" });
      const stateDir = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "sd-state-" });
      const env = { STATE_DIR: stateDir };
      let s = await sidecar(cluster, { namespaces: [ns], folder, env });
      await eventually(async () => assert.deepEqual(await listAll(folder), ["a.json", "b.json"]), {
        proc: s.proc,
      });
      await s.proc.stop();
      await del(cluster, ns, "configmaps", "b");
      s = await sidecar(cluster, { namespaces: [ns], folder, env });
      try {
        await eventually(() => absent(join(folder, "b.json")), { proc: s.proc });
        assert.deepEqual(await listAll(folder), ["a.json"], "nothing but the files, dotfiles too");
        assert.equal((await listAll(stateDir)).length, 1, "the record is in STATE_DIR");
      } finally {
        await s.proc.stop();
      }
    },
  );

  await t.step("an ownership record that is a directory: a clear error naming it", async () => {
    const ns = "rec-dir";
    await cluster.createNamespace(ns);
    const folder = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "recdir-" });
    await Deno.mkdir(join(folder, RECORD));
    const sa = await cluster.createServiceAccount({
      namespace: ns,
      name: "r",
      rules: READ_CONFIGMAPS,
    });
    const pod = await cluster.podEnvironment(sa);
    const { code, output } = await runSidecarToEnd(pod, {
      FOLDER: folder,
      LABEL,
      NAMESPACE: ns,
    });
    assert.notEqual(code, 0);
    assert.ok(output.includes(join(folder, RECORD)), output);
    assert.match(output, /not a regular file/);
  });

  await t.step(
    "a file the application edited is never overwritten nor removed, also after a restart",
    async () => {
      const ns = "edited";
      await cluster.createNamespace(ns);
      await cm(cluster, ns, "a", { "a.json": '"sidecar"' });
      await cm(cluster, ns, "b", { "b.json": '"sidecar"' });
      const folder = await Deno.makeTempDir({ dir: cluster.dataDir, prefix: "edited-" });
      let s = await sidecar(cluster, { namespaces: [ns], folder });
      await eventually(
        async () => assert.equal(await readText(join(folder, "b.json")), '"sidecar"'),
        {
          proc: s.proc,
        },
      );
      // While running: an edit, then an update of its object.
      await Deno.writeTextFile(join(folder, "a.json"), '"application"');
      await replaceCm(cluster, ns, "a", { "a.json": '"sidecar 2"' });
      await cm(cluster, ns, "later", { "later.json": "1" });
      await eventually(async () => assert.equal(await readText(join(folder, "later.json")), "1"), {
        proc: s.proc,
      });
      assert.equal(await readText(join(folder, "a.json")), '"application"');
      await s.proc.stop();
      // While stopped: an edit, then its object is deleted.
      await Deno.writeTextFile(join(folder, "b.json"), '"application"');
      await del(cluster, ns, "configmaps", "b");
      await del(cluster, ns, "configmaps", "later");
      s = await sidecar(cluster, { namespaces: [ns], folder });
      try {
        await eventually(() => absent(join(folder, "later.json")), { proc: s.proc });
        assert.equal(await readText(join(folder, "b.json")), '"application"');
        assert.match(s.proc.output, /changed since k8s-gsidecar wrote it[^\n]*b\.json/);
      } finally {
        await s.proc.stop();
      }
    },
  );

  await t.step(
    "a notification endpoint down past the retries: the change set is notified once it is back",
    async () => {
      const ns = "down";
      await cluster.createNamespace(ns);
      await cm(cluster, ns, "a", { "a.json": "1" });
      const port = freePort();
      const dir = await Deno.makeTempDir({ dir: cluster.dataDir });
      const config = join(dir, "config.yaml");
      await Deno.writeTextFile(
        config,
        stringify({
          writers: [{ use: "json-file" }],
          notifiers: [{
            use: "webhook",
            options: { url: `http://127.0.0.1:${port}/hook`, retries: 1, backoffMs: 100 },
          }],
        }),
      );
      const s = await sidecar(cluster, { namespaces: [ns], env: { CONFIG: config } });
      try {
        await eventually(() => assert.match(s.proc.output, /retries exhausted; still retrying/), {
          proc: s.proc,
        });
        await cm(cluster, ns, "b", { "b.json": "2" });
        await eventually(async () => assert.equal(await readText(join(s.folder, "b.json")), "2"), {
          proc: s.proc,
        });
        await using receiver = new Receiver(port);
        await eventually(() => assert.ok(receiver.requests.length >= 1), {
          proc: s.proc,
          what: "the notification once the endpoint is back",
        });
        const body = JSON.parse(receiver.requests[0]!.body);
        assert.deepEqual(body.written, [join(s.folder, "a.json"), join(s.folder, "b.json")]);
      } finally {
        await s.proc.stop();
      }
    },
  );

  await t.step(
    "a scope the API server refuses holds back no other; it is retried until the Role allows it",
    async () => {
      const ns = "partial";
      await cluster.createNamespace(ns);
      await cm(cluster, ns, "dash", { "dash.json": "1" });
      await secret(cluster, ns, "creds", { "creds.json": new TextEncoder().encode("2") });
      const s = await sidecar(cluster, {
        namespaces: [ns],
        rules: READ_CONFIGMAPS,
        env: { RESOURCE: "both", HEALTH_HOST: "127.0.0.1", ERROR_THROTTLE_SLEEP: "0.5" },
      });
      try {
        await eventually(
          async () => assert.equal(await readText(join(s.folder, "dash.json")), "1"),
          {
            proc: s.proc,
          },
        );
        const url = await healthUrl(s.proc);
        await eventually(async () => {
          const ready = await get(`${url}/readyz`);
          assert.equal(ready.status, 503);
          assert.match(ready.body, /secret@partial: cannot list: .*403/);
        }, { proc: s.proc });
        await cluster.createServiceAccount({
          namespace: ns,
          name: s.proc.name,
          rules: READ_CONFIGMAPS_AND_SECRETS,
        });
        await eventually(
          async () => assert.equal(await readText(join(s.folder, "creds.json")), "2"),
          {
            proc: s.proc,
            what: "the Secret after the Role was extended, without a restart",
          },
        );
        await eventually(async () => assert.equal((await get(`${url}/readyz`)).status, 200), {
          proc: s.proc,
        });
      } finally {
        await s.proc.stop();
      }
    },
  );

  await t.step(
    "after an API-server restart a change reaches its file at once, not after the backoff",
    async () => {
      const ns = "restart";
      await cluster.createNamespace(ns);
      await cm(cluster, ns, "a", { "a.json": "1" });
      // A backoff far longer than the wait below: only the readiness probe can make it in time.
      const s = await sidecar(cluster, {
        namespaces: [ns],
        env: {
          ERROR_THROTTLE_SLEEP: "120",
          WATCH_CLIENT_TIMEOUT: "600",
          WATCH_SERVER_TIMEOUT: "300",
        },
      });
      try {
        await eventually(async () => assert.equal(await readText(join(s.folder, "a.json")), "1"), {
          proc: s.proc,
        });
        await cluster.stopApiServer();
        await eventually(() => assert.match(s.proc.output, /list failed; retrying/), {
          proc: s.proc,
        });
        await cluster.startApiServer();
        await replaceCm(cluster, ns, "a", { "a.json": "2" });
        await eventually(async () => assert.equal(await readText(join(s.folder, "a.json")), "2"), {
          proc: s.proc,
          timeoutMs: 30_000,
          what: "the change, well before the 120 s backoff",
        });
      } finally {
        await s.proc.stop();
      }
    },
  );

  await t.step("Secret content never reaches the logs, in any log format, at DEBUG", async () => {
    const ns = "leak";
    await cluster.createNamespace(ns);
    await secret(cluster, ns, "bad", {
      "alias.yaml": new TextEncoder().encode("a: 1\nb: *s3cret-alias\n"),
      "token.yaml": new TextEncoder().encode("a: 1\n] s3cret-token\n"),
      "broken.json": new TextEncoder().encode('{"password": s3cret-json}'),
    });
    const sa = await cluster.createServiceAccount({
      namespace: ns,
      name: "leak",
      rules: READ_CONFIGMAPS_AND_SECRETS,
    });
    const pod = await cluster.podEnvironment(sa);
    for (const format of ["json", "logfmt", "text"]) {
      const folder = await Deno.makeTempDir({ dir: cluster.dataDir });
      const { output } = await runSidecarToEnd(pod, {
        FOLDER: folder,
        LABEL,
        NAMESPACE: ns,
        RESOURCE: "secret",
        WRITERS: "json-file,yaml-file",
        METHOD: "sleep",
        LOG_LEVEL: "DEBUG",
        LOG_FORMAT: format,
      });
      assert.match(output, /not valid YAML at line 2, column 4/, output);
      assert.match(output, /not valid JSON at line 1/, output);
      assert.ok(!output.includes("s3cret"), `${format} log leaks:\n${output}`);
    }
  });
});
