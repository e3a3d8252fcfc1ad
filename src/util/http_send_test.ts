import assert from "node:assert/strict";
import { closedPort, type ReceivedRequest, receiver } from "../testing/http.ts";
import { HttpSendError, sendHttp } from "./http_send.ts";

function redirect(to: string, status: number): Response {
  return new Response(null, { status, headers: { location: to } });
}

async function sendError(promise: Promise<unknown>): Promise<HttpSendError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof HttpSendError, `expected HttpSendError, got ${e}`);
    return e;
  }
  assert.fail("sendHttp() succeeded");
}

Deno.test("sendHttp() sends method, headers and body, and reads the body of a 2xx only when asked", async () => {
  await using r = receiver((n) =>
    n === 2 ? new Response("missing", { status: 404 }) : new Response("hello", {
      headers: { "x-answer": "42" },
    })
  );
  const answer = await sendHttp(new URL(`${r.url}/a?q=1`), {
    method: "PUT",
    headers: { "content-type": "text/plain", "user-agent": "k8s-gsidecar" },
    body: "payload",
    timeoutMs: 5_000,
  });
  assert.equal(answer.status, 200);
  assert.equal(answer.headers.get("x-answer"), "42");
  assert.equal(answer.body, undefined);
  assert.deepEqual(
    [answer.method, answer.url.href, answer.redirects],
    ["PUT", `${r.url}/a?q=1`, 0],
  );
  assert.deepEqual(
    [r.received[0]!.method, r.received[0]!.path, r.received[0]!.body],
    ["PUT", "/a?q=1", "payload"],
  );
  assert.equal(r.received[0]!.headers.get("content-type"), "text/plain");
  assert.equal(r.received[0]!.headers.get("user-agent"), "k8s-gsidecar");

  const read = await sendHttp(new URL(r.url), { timeoutMs: 5_000, readBody: true });
  assert.equal(r.received[1]!.method, "GET");
  assert.equal(new TextDecoder().decode(read.body), "hello");
  const missing = await sendHttp(new URL(r.url), { timeoutMs: 5_000, readBody: true });
  assert.deepEqual([missing.status, missing.body], [404, undefined]);
});

Deno.test("sendHttp() turns 303, and 301/302 after POST, into GET without body; 307/308 keep both", async () => {
  const cases: [method: string, status: number, expected: string][] = [
    ["POST", 303, "GET"],
    ["PUT", 303, "GET"],
    ["POST", 301, "GET"],
    ["POST", 302, "GET"],
    ["PUT", 302, "PUT"],
    ["POST", 307, "POST"],
    ["PATCH", 308, "PATCH"],
  ];
  for (const [method, status, expected] of cases) {
    // A relative Location resolves against the URL that answered.
    await using r = receiver((n) => n === 0 ? redirect("../landed?x=1", status) : new Response());
    const answer = await sendHttp(new URL(`${r.url}/dir/start`), {
      method,
      headers: { "content-type": "application/json" },
      body: "{}",
      timeoutMs: 5_000,
    });
    const label = `${method} ${status}`;
    assert.deepEqual([answer.status, answer.method, answer.redirects], [200, expected, 1], label);
    assert.equal(answer.url.href, `${r.url}/landed?x=1`, label);
    const landed = r.received[1]!;
    assert.deepEqual([landed.method, landed.path], [expected, "/landed?x=1"], label);
    const kept = expected === method;
    assert.equal(landed.body, kept ? "{}" : "", label);
    assert.equal(landed.headers.get("content-type"), kept ? "application/json" : null, label);
  }
});

Deno.test("sendHttp() sends credentials and Authorization only to their origin", async () => {
  await using other = receiver((n) => n === 0 ? redirect(`${home.url}/back`, 307) : new Response());
  await using home = receiver((n) => n === 0 ? redirect(`${other.url}/away`, 307) : new Response());
  const hops: string[] = [];
  const answer = await sendHttp(new URL(`${home.url}/start`), {
    headers: { "x-plain": "p", authorization: "Basic in-headers" },
    credentials: { authorization: "Bearer t0ken", "x-api-key": "k3y" },
    timeoutMs: 5_000,
    onRedirect: (from, to, status) => hops.push(`${status} ${from.pathname} -> ${to.pathname}`),
  });
  assert.deepEqual([answer.status, answer.redirects, answer.url.pathname], [200, 2, "/back"]);
  assert.deepEqual(hops, ["307 /start -> /away", "307 /away -> /back"]);
  const seen = (r: ReceivedRequest) => [
    r.path,
    r.headers.get("authorization"),
    r.headers.get("x-api-key"),
    r.headers.get("x-plain"),
  ];
  assert.deepEqual(home.received.map(seen), [
    ["/start", "Bearer t0ken", "k3y", "p"],
    ["/back", "Bearer t0ken", "k3y", "p"],
  ]);
  assert.deepEqual(other.received.map(seen), [["/away", null, null, "p"]]);
});

Deno.test("sendHttp() asks a credentials function only for hops to credentialsOrigin", async () => {
  await using home = receiver();
  await using elsewhere = receiver((n) =>
    n === 0 ? redirect(`${home.url}/h`, 302) : new Response()
  );
  let asked = 0;
  const credentials = () => {
    asked++;
    return Promise.resolve({ authorization: "Basic dTpw" });
  };
  await sendHttp(new URL(`${elsewhere.url}/x`), {
    credentials,
    credentialsOrigin: home.url,
    timeoutMs: 5_000,
  });
  await sendHttp(new URL(`${elsewhere.url}/y`), {
    credentials,
    credentialsOrigin: home.url,
    timeoutMs: 5_000,
  });
  assert.equal(asked, 1);
  assert.deepEqual(elsewhere.received.map((r) => r.headers.get("authorization")), [null, null]);
  assert.equal(home.received[0]!.headers.get("authorization"), "Basic dTpw");

  // The caller's own error (a Secret file gone, say) passes through as it is.
  const gone = new Error("cannot read the password file");
  await assert.rejects(
    sendHttp(new URL(home.url), { credentials: () => Promise.reject(gone), timeoutMs: 5_000 }),
    (e) => e === gone,
  );
});

Deno.test("sendHttp() stops after maxRedirects and refuses invalid or non-HTTP locations", async () => {
  await using loop = receiver((n) => redirect(`/${n}?k=s3cret`, 302));
  const error = await sendError(
    sendHttp(new URL(`${loop.url}/start`), { method: "POST", body: "x", timeoutMs: 5_000 }),
  );
  assert.equal(error.kind, "too-many-redirects");
  assert.equal(error.message, "more than 5 redirects");
  assert.equal(error.transient, false);
  assert.deepEqual([error.method, error.url.pathname], ["GET", "/4"]);
  assert.equal(loop.received.length, 6);
  const two = await sendError(
    sendHttp(new URL(loop.url), { maxRedirects: 2, timeoutMs: 5_000 }),
  );
  assert.equal(two.message, "more than 2 redirects");
  assert.equal(loop.received.length, 9);

  for (
    const [location, message] of [
      ["file:///etc/hostname", "redirect to a non-HTTP URL"],
      ["http://[", "redirect to an invalid URL"],
    ]
  ) {
    await using bad = receiver(() => redirect(location!, 302));
    const e = await sendError(
      sendHttp(new URL(`${bad.url}/p`), { method: "POST", body: "x", timeoutMs: 5_000 }),
    );
    assert.deepEqual([e.kind, e.message, e.method, e.url.pathname], [
      "bad-redirect",
      message,
      "POST",
      "/p",
    ]);
  }
});

Deno.test("sendHttp() reports a refused connection without userinfo or query", async () => {
  const port = await closedPort();
  const error = await sendError(
    sendHttp(new URL(`http://user:pw-s3cret@127.0.0.1:${port}/r?apikey=q-s3cret`), {
      timeoutMs: 5_000,
    }),
  );
  assert.equal(error.kind, "network");
  assert.equal(error.transient, true);
  assert.equal(error.url.href, `http://127.0.0.1:${port}/r?apikey=q-s3cret`);
  assert.match(error.message, /refused/i);
  for (const secret of ["pw-s3cret", "q-s3cret", "user"]) {
    assert.ok(!error.message.includes(secret), `${secret} in: ${error.message}`);
  }
  assert.equal(error.cause, undefined);
});

Deno.test("sendHttp() times out waiting for the answer or for the body", async () => {
  let release = () => {};
  const released = new Promise<void>((r) => release = r);
  await using r = receiver(async (n) => {
    if (n === 0) {
      await released;
      return new Response("late");
    }
    // Headers now, the body never (until released).
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(new TextEncoder().encode("partial"));
        await released;
        controller.close();
      },
    });
    return new Response(body);
  });
  try {
    const waiting = await sendError(sendHttp(new URL(r.url), { timeoutMs: 50 }));
    assert.deepEqual([waiting.kind, waiting.message], ["timeout", "timed out after 50 ms"]);
    assert.equal(waiting.transient, true);
    const reading = await sendError(
      sendHttp(new URL(r.url), { timeoutMs: 200, readBody: true }),
    );
    assert.deepEqual([reading.kind, reading.message], [
      "timeout",
      "reading the body failed: timed out after 200 ms",
    ]);
  } finally {
    release();
  }
});

Deno.test("sendHttp() reports the caller's abort with its reason", async () => {
  let release = () => {};
  const released = new Promise<void>((r) => release = r);
  await using r = receiver(async () => {
    await released;
    return new Response("late");
  });
  try {
    const controller = new AbortController();
    const pending = sendHttp(new URL(r.url), { timeoutMs: 60_000, signal: controller.signal });
    setTimeout(() => controller.abort(new Error("shutting down")), 20);
    const error = await sendError(pending);
    assert.deepEqual([error.kind, error.message], ["aborted", "shutting down"]);
    const already = await sendError(
      sendHttp(new URL(r.url), { timeoutMs: 60_000, signal: AbortSignal.abort("no Error") }),
    );
    assert.deepEqual([already.kind, already.message], ["aborted", "aborted"]);
  } finally {
    release();
  }
});

Deno.test("sendHttp() with skipTlsVerify follows redirects, keeps credentials home and reads bodies over node:http", async () => {
  await using other = receiver(() => new Response("landed"));
  await using home = receiver((n) =>
    n === 0 ? redirect("/hop", 303) : redirect(`${other.url}/x`, 307)
  );
  const answer = await sendHttp(new URL(`${home.url}/start`), {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: "ping",
    credentials: { authorization: "Bearer t0ken" },
    timeoutMs: 5_000,
    skipTlsVerify: true,
    readBody: true,
  });
  assert.deepEqual([answer.status, answer.method, answer.redirects], [200, "GET", 2]);
  assert.equal(new TextDecoder().decode(answer.body), "landed");
  assert.deepEqual(
    home.received.map((r) => [r.method, r.path, r.body, r.headers.get("authorization")]),
    [["POST", "/start", "ping", "Bearer t0ken"], ["GET", "/hop", "", "Bearer t0ken"]],
  );
  assert.equal(home.received[1]!.headers.get("content-type"), null);
  assert.deepEqual(
    other.received.map((r) => [r.method, r.headers.get("authorization")]),
    [["GET", null]],
  );

  const port = await closedPort();
  const refused = await sendError(
    sendHttp(new URL(`http://127.0.0.1:${port}/?k=q-s3cret`), {
      timeoutMs: 5_000,
      skipTlsVerify: true,
    }),
  );
  assert.equal(refused.kind, "network");
  assert.ok(!refused.message.includes("q-s3cret"));
});

Deno.test("sendHttp() clears its timeout timer however the call ends", async () => {
  // Deno's test sanitizer does not report a pending timer, so watch setTimeout itself. An odd
  // delay tells our timer from any other.
  const timeoutMs = 4_321;
  const pending = new Set<unknown>();
  const { setTimeout: realSet, clearTimeout: realClear } = globalThis;
  globalThis.setTimeout = ((fn: () => void, ms?: number) => {
    const id = realSet(() => {
      pending.delete(id);
      fn();
    }, ms);
    if (ms === timeoutMs) pending.add(id);
    return id;
  }) as typeof setTimeout;
  globalThis.clearTimeout = (id: Parameters<typeof clearTimeout>[0]) => {
    pending.delete(id);
    realClear(id);
  };
  try {
    await using r = receiver((_, req) => {
      const path = new URL(req.url).pathname;
      return path === "/loop"
        ? redirect("/loop", 302)
        : path === "/bad"
        ? redirect("file:///x", 302)
        : new Response("ok");
    });
    const url = new URL(r.url);
    await sendHttp(url, { timeoutMs, readBody: true });
    await sendError(sendHttp(new URL("/loop", url), { timeoutMs, maxRedirects: 0 }));
    await sendError(sendHttp(new URL("/bad", url), { timeoutMs }));
    await sendError(sendHttp(new URL(`http://127.0.0.1:${await closedPort()}/`), { timeoutMs }));
    await assert.rejects(sendHttp(url, { timeoutMs, credentials: () => Promise.reject(9) }));
    await sendHttp(url, { timeoutMs, skipTlsVerify: true });
    assert.equal(pending.size, 0, `${pending.size} timer(s) left running`);
  } finally {
    globalThis.setTimeout = realSet;
    globalThis.clearTimeout = realClear;
  }
});

const hasOpenssl = await new Deno.Command("openssl", { args: ["version"], stdout: "null" })
  .output().then((o) => o.success, () => false);

Deno.test({
  name: "sendHttp() with skipTlsVerify accepts a self-signed certificate fetch refuses",
  ignore: !hasOpenssl,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const made = await new Deno.Command("openssl", {
        args: [
          ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"],
          ...["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
          ...["-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`],
        ],
        stdout: "null",
        stderr: "null",
      }).output();
      assert.ok(made.success, "openssl could not make a certificate");
      await using server = Deno.serve({
        hostname: "127.0.0.1",
        port: 0,
        onListen() {},
        cert: await Deno.readTextFile(`${dir}/cert.pem`),
        key: await Deno.readTextFile(`${dir}/key.pem`),
      }, () => new Response("secure"));
      const url = new URL(`https://127.0.0.1:${server.addr.port}/`);
      const strict = await sendError(sendHttp(url, { timeoutMs: 5_000 }));
      assert.equal(strict.kind, "network");
      const lax = await sendHttp(url, { timeoutMs: 5_000, skipTlsVerify: true, readBody: true });
      assert.equal(new TextDecoder().decode(lax.body), "secure");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("sendHttp() reads at most excerptBytes of a refusing answer, never of a redirect", async () => {
  await using r = receiver((_n, req) =>
    new URL(req.url).pathname === "/moved"
      ? redirect("/gone", 302)
      : new Response(`nope ${"z".repeat(100_000)}`, { status: 503 })
  );
  const answer = await sendHttp(new URL(`${r.url}/moved`), { timeoutMs: 5_000, excerptBytes: 16 });
  assert.equal(answer.status, 503);
  assert.equal(answer.excerpt, `nope ${"z".repeat(11)}`);
  assert.equal(answer.body, undefined);
  const silent = await sendHttp(new URL(`${r.url}/x`), { timeoutMs: 5_000 });
  assert.equal(silent.excerpt, undefined, "no excerpt unless asked");
  const ok = await sendHttp(new URL(r.url), { timeoutMs: 5_000, excerptBytes: 16 });
  assert.equal(ok.excerpt, `nope ${"z".repeat(11)}`);
});

Deno.test("sendHttp() sends credentials to every origin of a credentialsOrigin list, and only there", async () => {
  await using a = receiver((_n, req) => new Response(req.headers.get("authorization")));
  await using b = receiver((_n, req) => new Response(req.headers.get("authorization")));
  const send = (url: string, origins: string[]) =>
    sendHttp(new URL(url), {
      credentials: { authorization: "Bearer t" },
      credentialsOrigin: origins,
      timeoutMs: 5_000,
      readBody: true,
    }).then((x) => new TextDecoder().decode(x.body));
  assert.equal(await send(a.url, [a.origin, b.origin]), "Bearer t");
  assert.equal(await send(b.url, [a.origin, b.origin]), "Bearer t");
  assert.equal(await send(b.url, [a.origin]), "");
  assert.equal(await send(a.url, []), "");
});
