import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { ChangeSet, WriteResult } from "../../src/model.ts";
import { type Notifier, NotifyError } from "../../src/plugin/contract.ts";
import { changeSetOf, closedPort, receiver, startNotifier } from "../../src/testing/mod.ts";
import webhook, { type WebhookOptions } from "./mod.ts";

const TOKEN = "tok-Sup3r-s3cret-value";

async function make(options: WebhookOptions | Record<string, unknown>) {
  const n = await startNotifier(webhook, options);
  return { notifier: n.notifier, rec: n };
}

const changeSet: ChangeSet = changeSetOf([
  { name: "dash", data: { "a.json": "{}" }, dir: "/config" },
  { kind: "secret", namespace: "ops", name: "old", type: "delete", dir: "/config" },
], { seq: 7 });
const result: WriteResult = {
  written: ["/config/z.json", "/config/a.json"],
  removed: ["/config/old.json"],
  rejected: [{
    ref: { kind: "configmap", namespace: "default", name: "dash" },
    key: "b.json",
    reason: "not valid JSON",
  }],
};

async function notifyError(notifier: Notifier): Promise<NotifyError> {
  try {
    await notifier.notify(changeSet, result);
  } catch (e) {
    assert.ok(e instanceof NotifyError, `expected NotifyError, got ${e}`);
    return e;
  }
  assert.fail("notify() succeeded");
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("webhook notifier POSTs the change set as JSON with a hash receivers can dedupe on", async () => {
  const { server, received, url } = receiver();
  try {
    const { notifier } = await make({ url: `${url}/hook` });
    await notifier.notify(changeSet, result);
    await notifier.notify(changeSet, result);
    assert.equal(received.length, 2);
    const first = received[0]!;
    assert.equal(first.method, "POST");
    assert.equal(first.headers.get("content-type"), "application/json");
    assert.equal(first.headers.get("authorization"), null);
    const body = JSON.parse(first.body);
    const expectedHash = createHash("sha256").update(
      JSON.stringify([7, ["/config/a.json", "/config/z.json"], ["/config/old.json"]]),
    ).digest("hex");
    assert.deepEqual(body, {
      seq: 7,
      initial: false,
      written: ["/config/z.json", "/config/a.json"],
      removed: ["/config/old.json"],
      rejected: [{ object: "configmap/default/dash", key: "b.json", reason: "not valid JSON" }],
      objects: [
        { kind: "configmap", namespace: "default", name: "dash", type: "upsert" },
        { kind: "secret", namespace: "ops", name: "old", type: "delete" },
      ],
      hash: expectedHash,
    });
    assert.equal(JSON.parse(received[1]!.body).hash, expectedHash, "a retry has the same hash");
  } finally {
    await server.shutdown();
  }
});

Deno.test("webhook notifier sends no body with GET and the JSON body with PUT, PATCH and DELETE", async () => {
  const { server, received, url } = receiver();
  try {
    for (const method of ["GET", "PUT", "PATCH", "DELETE"] as const) {
      const { notifier } = await make({ url, method });
      await notifier.notify(changeSet, result);
    }
    assert.deepEqual(received.map((r) => r.method), ["GET", "PUT", "PATCH", "DELETE"]);
    assert.equal(received[0]!.body, "");
    assert.equal(received[0]!.headers.get("content-type"), null);
    for (const r of received.slice(1)) {
      assert.equal(r.headers.get("content-type"), "application/json");
      assert.equal(JSON.parse(r.body).seq, 7);
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("webhook notifier re-reads and trims the bearer token file on every call", async () => {
  const { server, received, url } = receiver();
  try {
    await withTempDir(async (dir) => {
      const file = join(dir, "token");
      await Deno.writeTextFile(file, `${TOKEN}-1\n`);
      const { notifier } = await make({
        url,
        bearerTokenFile: file,
        headers: { "X-Source": "k8s-gsidecar" },
      });
      await notifier.notify(changeSet, result);
      await Deno.writeTextFile(file, `  ${TOKEN}-2  \n`);
      await notifier.notify(changeSet, result);
      assert.deepEqual(received.map((r) => r.headers.get("authorization")), [
        `Bearer ${TOKEN}-1`,
        `Bearer ${TOKEN}-2`,
      ]);
      assert.equal(received[0]!.headers.get("x-source"), "k8s-gsidecar");
      await Deno.remove(file);
      const missing = await notifyError(notifier);
      assert.equal(missing.retryable, true);
      assert.match(missing.message, /cannot read bearerTokenFile .*token: NotFound/);
      await Deno.writeTextFile(file, "\n");
      assert.equal((await notifyError(notifier)).retryable, true);
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("webhook notifier follows redirects but sends credentials only to the configured origin", async () => {
  const other = receiver();
  const first = receiver((n) =>
    n === 0
      ? Response.redirect(`${first.url}/hop`, 307)
      : Response.redirect(`${other.url}/landed?x=1`, 308)
  );
  try {
    await withTempDir(async (dir) => {
      const file = join(dir, "token");
      await Deno.writeTextFile(file, TOKEN);
      const { notifier } = await make({
        url: `${first.url}/start`,
        method: "PUT",
        bearerTokenFile: file,
        headers: { "X-Api-Key": "k3y" },
      });
      await notifier.notify(changeSet, result);
    });
    assert.deepEqual(
      first.received.map((r) => [
        r.method,
        new URL(r.url).pathname,
        r.headers.get("authorization"),
        r.headers.get("x-api-key"),
      ]),
      [["PUT", "/start", `Bearer ${TOKEN}`, "k3y"], ["PUT", "/hop", `Bearer ${TOKEN}`, "k3y"]],
    );
    assert.equal(other.received.length, 1);
    const landed = other.received[0]!;
    assert.equal(landed.method, "PUT");
    assert.equal(new URL(landed.url).pathname, "/landed");
    assert.equal(landed.headers.get("authorization"), null);
    assert.equal(landed.headers.get("x-api-key"), null);
    assert.equal(JSON.parse(landed.body).seq, 7, "307/308 keep method and body");
  } finally {
    await first.server.shutdown();
    await other.server.shutdown();
  }
});

Deno.test("webhook notifier turns POST into GET on a 302 and gives up after 5 redirects", async () => {
  const loop = receiver((n) =>
    Response.redirect(`http://127.0.0.1:${loop.server.addr.port}/${n}`, 302)
  );
  try {
    const { notifier } = await make({ url: loop.url });
    const error = await notifyError(notifier);
    assert.equal(error.retryable, false);
    assert.match(error.message, /more than 5 redirects/);
    assert.deepEqual(loop.received.map((r) => r.method), [
      "POST",
      "GET",
      "GET",
      "GET",
      "GET",
      "GET",
    ]);
    assert.equal(loop.received[1]!.body, "");
  } finally {
    await loop.server.shutdown();
  }
});

Deno.test("webhook notifier retries connection errors, 408, 429 and 5xx but not other 4xx", async () => {
  let status = 500;
  const { server, url } = receiver(() => new Response("no", { status }));
  try {
    const { notifier } = await make({ url });
    const cases: [number, boolean][] = [
      [500, true],
      [503, true],
      [429, true],
      [408, true],
      [
        404,
        false,
      ],
      [400, false],
      [401, false],
    ];
    for (const [s, retryable] of cases) {
      status = s;
      const error = await notifyError(notifier);
      assert.equal(error.retryable, retryable, `status ${s}`);
      assert.equal(error.message, `POST ${url}/ answered ${s}`);
    }
    status = 502;
    const strict = (await make({ url, retry5xx: false })).notifier;
    assert.equal((await notifyError(strict)).retryable, false);
    const down = (await make({ url: `http://127.0.0.1:${await closedPort()}/x` })).notifier;
    const refused = await notifyError(down);
    assert.equal(refused.retryable, true);
    assert.match(refused.message, /^POST http:\/\/127\.0\.0\.1:\d+\/x failed: /);
  } finally {
    await server.shutdown();
  }
});

Deno.test("webhook notifier reports a request that exceeds timeoutMs as retryable", async () => {
  let release = () => {};
  const hanging = new Promise<void>((r) => release = r);
  const { server, url } = receiver(async () => {
    await hanging;
    return new Response("late");
  });
  try {
    const { notifier } = await make({ url, timeoutMs: 50 });
    const error = await notifyError(notifier);
    assert.equal(error.retryable, true);
    assert.match(error.message, /timed out after 50 ms/);
  } finally {
    release();
    await server.shutdown();
  }
});

Deno.test("webhook notifier error messages and logs never contain the token or the query", async () => {
  const { server, url } = receiver(() => new Response("oops", { status: 500 }));
  try {
    await withTempDir(async (dir) => {
      const file = join(dir, "token");
      await Deno.writeTextFile(file, TOKEN);
      const secretQuery = "?apikey=q-s3cret";
      const up = await make({ url: `${url}/reload${secretQuery}`, bearerTokenFile: file });
      const error = await notifyError(up.notifier);
      assert.equal(error.message, `POST ${url}/reload answered 500`);
      const port = await closedPort();
      const down = await make({
        url: `http://user:pw-s3cret@127.0.0.1:${port}/r${secretQuery}`,
        bearerTokenFile: file,
      });
      const refused = await notifyError(down.notifier);
      assert.equal(refused.retryable, true);
      for (const text of [error.message, refused.message, up.rec.text(), down.rec.text()]) {
        for (const secret of [TOKEN, "q-s3cret", "pw-s3cret"]) {
          assert.ok(!text.includes(secret), `${secret} leaked into: ${text}`);
        }
      }
      assert.equal(refused.cause, undefined);
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("webhook notifier options apply defaults and refuse bad fields by name", async () => {
  const { notifier } = await make({ url: "http://127.0.0.1:1/x" });
  assert.deepEqual(notifier.retry, { retries: 5, backoffMs: 1000, maxDelayMs: 120_000 });
  assert.equal(notifier.skipInitial, false);
  const custom = (await make({ url: "http://127.0.0.1:1/x", retries: 0, backoffMs: 10 })).notifier;
  assert.deepEqual(custom.retry, { retries: 0, backoffMs: 10, maxDelayMs: 120_000 });
  await assert.rejects(make({ url: "http://127.0.0.1:1/", method: "HEAD" }), /method: /);
  await assert.rejects(make({ url: "ftp://127.0.0.1/" }), /url: must be an http/);
  await assert.rejects(make({}), /url: /);
  await assert.rejects(make({ url: "http://127.0.0.1:1/", timeoutMs: 0 }), /timeoutMs: /);
  await assert.rejects(
    make({ url: "http://127.0.0.1:1/", headers: { "Content-Type": "text/plain" } }),
    /headers\.Content-Type: set by the notifier itself/,
  );
  await assert.rejects(
    make({ url: "http://127.0.0.1:1/", headers: { "X-A": "a\r\nX-B: b" } }),
    /headers\.X-A: header values are one line/,
  );
  await assert.rejects(
    make({
      url: "http://127.0.0.1:1/",
      bearerTokenFile: "/t",
      headers: { Authorization: "Basic x" },
    }),
    /bearerTokenFile: give bearerTokenFile or an Authorization header, not both/,
  );
  await assert.rejects(
    make({ url: "http://127.0.0.1:1/", retires: 3 }),
    /webhook#0 "webhook": invalid options: .*retires/,
  );
});
