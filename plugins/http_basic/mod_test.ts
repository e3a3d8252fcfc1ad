import assert from "node:assert/strict";
import type { ChangeSet, WriteResult } from "../../src/model.ts";
import { NotifyDispatcher } from "../../src/notifiers/dispatcher.ts";
import { type Notifier, NotifyError } from "../../src/plugin/contract.ts";
import type { Logger } from "../../src/plugin/logger.ts";
import { validate } from "../../src/plugin/standard_schema.ts";
import { type LogRecord, recordingLogger } from "../../src/testing/logger.ts";
import { closedPort, receiver } from "../../src/testing/http.ts";
import httpBasic, { type HttpBasicOptions, type HttpBasicPluginOptions } from "./mod.ts";

const PASSWORD = "hunter2-Sup3r-s3cret";

function assertNoPassword(records: LogRecord[], password = PASSWORD): void {
  for (const line of records) {
    assert.ok(!JSON.stringify(line).includes(password), `password logged: ${line.message}`);
  }
}

async function create(
  input: HttpBasicPluginOptions,
  logger = recordingLogger().logger,
  signal = new AbortController().signal,
): Promise<Notifier> {
  const parsed = await validate(httpBasic.options!, input);
  if ("issues" in parsed) throw new Error(parsed.issues.join("; "));
  return await httpBasic.create(parsed.value, { instance: "http-basic#0", logger, signal });
}

const changeSet: ChangeSet = { seq: 7, initial: false, changes: [] };
const result: WriteResult = { written: ["/data/a.json"], removed: ["/data/b.json"], rejected: [] };

function basic(user: string, password: string): string {
  return `Basic ${btoa(`${user}:${password}`)}`;
}

async function notifyError(notifier: Notifier): Promise<NotifyError> {
  try {
    await notifier.notify(changeSet, result);
  } catch (e) {
    assert.ok(e instanceof NotifyError, `expected NotifyError, got ${e}`);
    return e;
  }
  assert.fail("notify() succeeded");
}

/** A dispatcher around one http-basic instance whose backoff sleeps do not wait. */
function dispatch(notifier: Notifier, logger: Logger, sleep = () => Promise.resolve()) {
  return new NotifyDispatcher([{
    plugin: "http-basic",
    instance: "http-basic#0",
    retry: notifier.retry,
    skipInitial: notifier.skipInitial,
    logger,
    notify: (set, written) => notifier.notify(set, written),
  }], { signal: new AbortController().signal, logger, sleep });
}

Deno.test("http-basic options apply defaults and reject conflicting or unknown settings", async () => {
  const ok = await validate(httpBasic.options!, { url: "http://127.0.0.1:1/reload" });
  assert.ok("value" in ok);
  const expected: HttpBasicOptions = {
    url: "http://127.0.0.1:1/reload",
    method: "GET",
    authEncoding: "utf-8",
    skipInit: false,
    timeoutMs: 10_000,
    retryTotal: 5,
    backoffFactor: 1.1,
    enable5xx: false,
    skipTlsVerify: false,
  };
  assert.deepEqual(ok.value, expected);
  const notifier = await create({ url: "http://127.0.0.1:1/", retryTotal: 3, skipInit: true });
  assert.deepEqual(notifier.retry, { retries: 3, backoffMs: 1100, maxDelayMs: 120_000 });
  assert.equal(notifier.skipInitial, true);

  for (
    const [input, pattern] of [
      [{ url: "ftp://127.0.0.1/x" }, /url/],
      [{ url: "http://h/", method: "PUT" }, /method/],
      [{ url: "http://h/", password: "x", passwordFile: "/p" }, /passwordFile: give password/],
      [{ url: "http://h/", username: "x", usernameFile: "/u" }, /usernameFile: give username/],
      [{ url: "http://h/", retries: 3 }, /retries/],
      [{ url: "http://h/", authEncoding: "utf-16" }, /authEncoding/],
      [{ url: "http://h/", retryStatuses: [99] }, /retryStatuses/],
    ] as const
  ) {
    const bad = await validate(httpBasic.options!, input);
    assert.ok("issues" in bad, JSON.stringify(input));
    assert.match(bad.issues.join("; "), pattern);
  }
});

Deno.test("http-basic sends GET without a body", async () => {
  const { server, received, url } = receiver();
  try {
    const notifier = await create({ url: `${url}/reload?x=1` });
    await notifier.notify(changeSet, result);
    assert.equal(received.length, 1);
    assert.equal(received[0]!.method, "GET");
    assert.equal(received[0]!.url, `${url}/reload?x=1`);
    assert.equal(received[0]!.body, "");
    assert.equal(received[0]!.contentType, null);
    assert.equal(received[0]!.authorization, null);
  } finally {
    await server.shutdown();
  }
});

Deno.test("http-basic POSTs a JSON summary of the change set when no payload is set", async () => {
  const { server, received, url } = receiver();
  try {
    const notifier = await create({ url, method: "POST" });
    await notifier.notify(changeSet, result);
    assert.equal(received[0]!.method, "POST");
    assert.equal(received[0]!.contentType, "application/json");
    assert.deepEqual(JSON.parse(received[0]!.body), {
      seq: 7,
      initial: false,
      written: ["/data/a.json"],
      removed: ["/data/b.json"],
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("http-basic POSTs the payload as is, typed JSON only when it parses", async () => {
  const { server, received, url } = receiver();
  try {
    await (await create({ url, method: "POST", payload: '{"event":"config-updated"}' }))
      .notify(changeSet, result);
    await (await create({ url, method: "POST", payload: "reload please" }))
      .notify(changeSet, result);
    assert.deepEqual(received.map((r) => [r.body, r.contentType]), [
      ['{"event":"config-updated"}', "application/json"],
      ["reload please", "text/plain; charset=utf-8"],
    ]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("http-basic sends basic auth from username and password", async () => {
  const { server, received, url } = receiver();
  const { logger, records } = recordingLogger();
  try {
    const notifier = await create({ url, username: "admin", password: PASSWORD }, logger);
    await notifier.notify(changeSet, result);
    assert.equal(received[0]!.authorization, basic("admin", PASSWORD));
    // Userinfo in the URL works too, and is not sent in the request line.
    const fromUrl = await create({ url: url.replace("//", "//bob:pa%24s@") }, logger);
    await fromUrl.notify(changeSet, result);
    assert.equal(received[1]!.authorization, basic("bob", "pa$s"));
    assert.equal(received[1]!.url, `${url}/`);
    assertNoPassword(records);
  } finally {
    await server.shutdown();
  }
});

Deno.test("http-basic re-reads credential files on every call", async () => {
  const { server, received, url } = receiver();
  const dir = await Deno.makeTempDir();
  try {
    const usernameFile = `${dir}/username`;
    const passwordFile = `${dir}/password`;
    await Deno.writeTextFile(usernameFile, "admin\n");
    await Deno.writeTextFile(passwordFile, `${PASSWORD}\n`);
    const notifier = await create({ url, usernameFile, passwordFile });
    await notifier.notify(changeSet, result);
    await Deno.writeTextFile(passwordFile, "rotated\r\n");
    await notifier.notify(changeSet, result);
    assert.deepEqual(received.map((r) => r.authorization), [
      basic("admin", PASSWORD),
      basic("admin", "rotated"),
    ]);
    await Deno.remove(passwordFile);
    const error = await notifyError(notifier);
    assert.equal(error.retryable, true);
    assert.match(error.message, /cannot read password file .*password: NotFound/);
    assert.equal(received.length, 2);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("http-basic does not retry a 401", async () => {
  const { server, received, url } = receiver(() => new Response("no", { status: 401 }));
  const { logger, records } = recordingLogger();
  try {
    const notifier = await create({ url, username: "admin", password: PASSWORD }, logger);
    const error = await notifyError(notifier);
    assert.equal(error.retryable, false);
    assert.equal(error.message, `GET ${url}/ answered 401: no`);
    const dispatcher = dispatch(notifier, logger);
    dispatcher.submit(changeSet, result);
    await dispatcher.idle();
    assert.equal(received.length, 2, "one direct call, one dispatched call, no retry");
    assert.equal(dispatcher.stats()["http-basic#0"]!.failed, 1);
    const logged = records.find((l) => l.level === "error");
    assert.equal(logged?.fields.plugin, "http-basic");
    assert.match(String(logged?.fields.reason), /answered 401/);
    assertNoPassword(records);
    await dispatcher.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("http-basic retries a 503 only with enable5xx", async () => {
  let answers: number[] = [];
  const { server, received, url } = receiver(() =>
    new Response("busy", { status: answers.shift() ?? 503 })
  );
  const { logger } = recordingLogger();
  try {
    const plain = await create({ url, retryTotal: 2 }, logger);
    assert.equal((await notifyError(plain)).retryable, false);
    const retrying = await create({ url, retryTotal: 2, enable5xx: true }, logger);
    assert.equal((await notifyError(retrying)).retryable, true);
    received.length = 0;

    // Two 503s, then the endpoint recovers: 1 call without enable5xx, 3 with it.
    answers = [503, 503, 200];
    for (const [notifier, calls] of [[plain, 1], [retrying, 3]] as const) {
      answers = [503, 503, 200];
      const dispatcher = dispatch(notifier, logger);
      dispatcher.submit(changeSet, result);
      await dispatcher.idle();
      assert.equal(received.length, calls);
      received.length = 0;
      await dispatcher.close();
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("http-basic delivers through dispatcher retries once a refusing endpoint comes up", async () => {
  const port = await closedPort();
  const { logger, records } = recordingLogger();
  const received: string[] = [];
  let server: Deno.HttpServer | undefined;
  try {
    const notifier = await create({
      url: `http://127.0.0.1:${port}/reload`,
      method: "POST",
      username: "admin",
      password: PASSWORD,
    }, logger);
    const error = await notifyError(notifier);
    assert.equal(error.retryable, true);
    assert.ok(!error.message.includes(PASSWORD));
    const dispatcher = dispatch(notifier, logger, () => {
      // The application comes up while the dispatcher waits to retry.
      server ??= Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (req) => {
        received.push(await req.text());
        return new Response("ok");
      });
      return Promise.resolve();
    });
    dispatcher.submit(changeSet, result);
    await dispatcher.idle();
    assert.equal(received.length, 1);
    assert.equal(JSON.parse(received[0]!).seq, 7);
    assert.deepEqual(
      { ...dispatcher.stats()["http-basic#0"], lastError: undefined },
      { sent: 1, failed: 0, retries: 1, coalesced: 0, skipped: 0, lastError: undefined },
    );
    assert.ok(records.some((l) => l.level === "warn" && /will retry/.test(l.message)));
    assertNoPassword(records);
    await dispatcher.close();
  } finally {
    await server?.shutdown();
  }
});

Deno.test("http-basic follows a redirect to another origin without the Authorization header", async () => {
  const other = receiver();
  const first = receiver((n) =>
    // A same-origin hop keeps the credentials; the cross-origin one must not get them. 307
    // keeps method and body.
    n === 0
      ? Response.redirect(`${first.url}/hop`, 307)
      : Response.redirect(`${other.url}/landed`, 307)
  );
  const { logger, records } = recordingLogger();
  try {
    const notifier = await create({
      url: `${first.url}/start`,
      method: "POST",
      payload: "ping",
      username: "admin",
      password: PASSWORD,
    }, logger);
    await notifier.notify(changeSet, result);
    assert.deepEqual(
      first.received.map((r) => [r.method, new URL(r.url).pathname, r.authorization, r.body]),
      [["POST", "/start", basic("admin", PASSWORD), "ping"], [
        "POST",
        "/hop",
        basic("admin", PASSWORD),
        "ping",
      ]],
    );
    assert.deepEqual(
      other.received.map((r) => [r.method, new URL(r.url).pathname, r.authorization, r.body]),
      [["POST", "/landed", null, "ping"]],
    );
    assertNoPassword(records);
  } finally {
    await first.server.shutdown();
    await other.server.shutdown();
  }
});

Deno.test("http-basic turns POST into GET on a 302 and stops after 5 redirects", async () => {
  const loop = receiver((n) =>
    Response.redirect(`http://127.0.0.1:${loop.server.addr.port}/${n}`, 302)
  );
  try {
    const notifier = await create({ url: loop.url, method: "POST", payload: "x" });
    const error = await notifyError(notifier);
    assert.equal(error.retryable, false);
    assert.match(error.message, /more than 5 redirects/);
    assert.equal(loop.received.length, 6);
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

Deno.test("http-basic error messages never contain the password", async () => {
  const { server, received, url } = receiver(() => new Response("oops", { status: 500 }));
  const { logger, records } = recordingLogger();
  try {
    const withUserinfo = url.replace("//", `//admin:${PASSWORD}@`);
    const notifier = await create({ url: `${withUserinfo}/reload`, enable5xx: true }, logger);
    const error = await notifyError(notifier);
    assert.equal(error.message, `GET ${url}/reload answered 500: oops`);
    assert.equal(received[0]!.authorization, basic("admin", PASSWORD));
    const down = await create({
      url: `http://admin:${PASSWORD}@127.0.0.1:${await closedPort()}/`,
      retryTotal: 1,
    }, logger);
    // Past its retries the dispatcher keeps trying: wait for the error it logs then, not for idle.
    let sleeps = 0;
    let exhausted = () => {};
    const logged = new Promise<void>((r) => exhausted = r);
    const dispatcher = dispatch(down, logger, () => {
      if (++sleeps >= 2) exhausted();
      return sleeps > 2 ? new Promise(() => {}) : Promise.resolve();
    });
    dispatcher.submit(changeSet, result);
    await logged;
    await waitFor(() => records.some((l) => l.level === "error"));
    const lastError = dispatcher.stats()["http-basic#0"]!.lastError ?? "";
    assert.match(lastError, /failed/);
    assert.ok(!lastError.includes(PASSWORD));
    assert.ok(!String(error.cause ?? "").includes(PASSWORD));
    assert.ok(records.some((l) => l.level === "error"));
    assertNoPassword(records);
    await dispatcher.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("http-basic reports a request that exceeds timeoutMs as retryable", async () => {
  let release = () => {};
  const hanging = new Promise<void>((r) => release = r);
  const { server, url } = receiver(async () => {
    await hanging;
    return new Response("late");
  });
  try {
    const notifier = await create({ url, timeoutMs: 50 });
    const error = await notifyError(notifier);
    assert.equal(error.retryable, true);
    assert.match(error.message, /timed out after 50 ms/);
  } finally {
    release();
    await server.shutdown();
  }
});

const hasOpenssl = await new Deno.Command("openssl", { args: ["version"], stdout: "null" })
  .output().then((o) => o.success, () => false);

Deno.test({
  name: "http-basic skipTlsVerify accepts a self-signed certificate that is otherwise refused",
  ignore: !hasOpenssl,
  async fn() {
    const dir = await Deno.makeTempDir();
    const seen: (string | null)[] = [];
    let server: Deno.HttpServer<Deno.NetAddr> | undefined;
    try {
      const out = await new Deno.Command("openssl", {
        args: [
          ...[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
          ],
          ...["-addext", "subjectAltName=IP:127.0.0.1"],
          ...["-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`],
        ],
        stdout: "null",
        stderr: "null",
      }).output();
      assert.ok(out.success, "openssl could not make a certificate");
      server = Deno.serve({
        hostname: "127.0.0.1",
        port: 0,
        onListen() {},
        cert: await Deno.readTextFile(`${dir}/cert.pem`),
        key: await Deno.readTextFile(`${dir}/key.pem`),
      }, async (req) => {
        seen.push(req.headers.get("authorization"));
        await req.body?.cancel();
        return new Response("ok");
      });
      const url = `https://127.0.0.1:${server.addr.port}/reload`;
      const strict = await create({ url });
      const error = await notifyError(strict);
      assert.equal(error.retryable, true);
      const lax = await create({
        url,
        method: "POST",
        skipTlsVerify: true,
        username: "admin",
        password: PASSWORD,
      });
      await lax.notify(changeSet, result);
      assert.deepEqual(seen, [basic("admin", PASSWORD)]);
    } finally {
      await server?.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("http-basic puts the first 512 bytes of a refusing answer's body in the error, credentials redacted", async () => {
  const reason = `reload failed: bad config for user admin password ${PASSWORD} `;
  await using r = receiver((_n, req) =>
    new Response(`${reason}${req.headers.get("authorization")} ${"x".repeat(2000)}`, {
      status: 500,
    })
  );
  const { logger, records } = recordingLogger();
  const notifier = await create({ url: `${r.url}/reload`, username: "admin", password: PASSWORD });
  const error = await notifyError(notifier);
  const prefix = `GET ${r.url}/reload answered 500: `;
  assert.ok(error.message.startsWith(prefix), error.message);
  const excerpt = error.message.slice(prefix.length);
  assert.ok(excerpt.startsWith("reload failed: bad config for user admin password [redacted] "));
  assert.ok(!error.message.includes(PASSWORD));
  assert.ok(
    !error.message.includes(btoa(`admin:${PASSWORD}`)),
    "the Authorization echo is redacted",
  );
  // 512 bytes of body, in which the password and the header became "[redacted]".
  const body = `${reason}${basic("admin", PASSWORD)} ${"x".repeat(2000)}`.slice(0, 512);
  const expected = body.replace(PASSWORD, "[redacted]").replace(
    basic("admin", PASSWORD),
    "[redacted]",
  );
  assert.equal(excerpt, expected.trim());
  const dispatcher = dispatch(notifier, logger);
  dispatcher.submit(changeSet, result);
  await dispatcher.idle();
  assert.ok(records.some((l) => JSON.stringify(l).includes("reload failed: bad config")));
  assertNoPassword(records);
  await dispatcher.close();
});

Deno.test("http-basic retries exactly retryStatuses when given, whatever enable5xx says", async () => {
  await using r = receiver((n) => new Response("busy", { status: n === 0 ? 501 : 503 }));
  const kiwigrid = await create({ url: r.url, retryStatuses: [500, 502, 503, 504] });
  assert.equal((await notifyError(kiwigrid)).retryable, false, "501 is not in the list");
  assert.equal((await notifyError(kiwigrid)).retryable, true, "503 is");
  const none = await create({ url: r.url, enable5xx: true, retryStatuses: [] });
  assert.equal((await notifyError(none)).retryable, false);
});

Deno.test("http-basic POSTs no body and no content type for an empty payload", async () => {
  await using r = receiver();
  const notifier = await create({ url: r.url, method: "POST", payload: "" });
  await notifier.notify(changeSet, result);
  assert.equal(r.received[0]!.body, "");
  assert.equal(r.received[0]!.contentType, null);
});

Deno.test("http-basic encodes credentials as authEncoding says and refuses what it cannot encode", async () => {
  await using r = receiver();
  for (const authEncoding of ["utf-8", "latin1"] as const) {
    const notifier = await create({
      url: r.url,
      username: "admin",
      password: "pässword",
      authEncoding,
    });
    await notifier.notify(changeSet, result);
  }
  const utf8 = btoa(String.fromCharCode(...new TextEncoder().encode("admin:pässword")));
  const latin1 = btoa("admin:pässword");
  assert.deepEqual(r.received.map((q) => q.authorization), [`Basic ${utf8}`, `Basic ${latin1}`]);
  const ascii = await create({
    url: r.url,
    username: "admin",
    password: "pässword",
    authEncoding: "ascii",
  });
  const error = await notifyError(ascii);
  assert.equal(error.retryable, false);
  assert.match(error.message, /password has a character that ascii cannot encode/);
  assert.ok(!error.message.includes("pässword"));
  assert.equal(r.received.length, 2);
});

/** Polls `check` every 10 ms until it holds (a deadline only bounds a broken build). */
async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail("condition not reached");
    await new Promise((r) => setTimeout(r, 10));
  }
}
