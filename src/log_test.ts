import assert from "node:assert/strict";
import type { LogFormat, LogLevel } from "./config/types.ts";
import { createLogger, redactSecrets, redactUrl } from "./log.ts";

const NOW = new Date("2026-01-01T00:00:00.000Z");

function capture(format: LogFormat, level: LogLevel = "DEBUG") {
  const lines: string[] = [];
  const log = createLogger({ level, format, write: (l) => lines.push(l), now: () => NOW });
  return { log, lines };
}

function jsonLine(fields: Record<string, unknown>): Record<string, unknown> {
  const { log, lines } = capture("json");
  log.info("m", fields);
  assert.equal(lines.length, 1);
  return JSON.parse(lines[0]!);
}

Deno.test("createLogger() writes one JSON object per line", () => {
  const { log, lines } = capture("json");
  log.child("source", "configmap").warn("watch restarted", { namespace: "default", gap: 2 });
  assert.equal(lines.length, 1);
  assert.ok(!lines[0]!.includes("\n"));
  assert.deepEqual(JSON.parse(lines[0]!), {
    time: "2026-01-01T00:00:00.000Z",
    level: "warn",
    logger: "gsidecar.source.configmap",
    msg: "watch restarted",
    namespace: "default",
    gap: 2,
  });
});

Deno.test("createLogger() writes logfmt with quoting and escaping", () => {
  const { log, lines } = capture("logfmt");
  log.child("source").info("listed objects", {
    count: 3,
    ok: true,
    empty: "",
    plain: "abc",
    quoted: 'say "hi"',
    eq: "a=b",
    back: "c:\\dir",
    nl: "line1\nline2",
    nothing: null,
    skipped: undefined,
    obj: { a: 1 },
    "bad key": 1,
  });
  assert.equal(
    lines[0],
    'time=2026-01-01T00:00:00.000Z level=info logger=gsidecar.source msg="listed objects" ' +
      'count=3 ok=true empty="" plain=abc quoted="say \\"hi\\"" eq="a=b" back="c:\\\\dir" ' +
      'nl="line1\\nline2" nothing=null obj="{\\"a\\":1}" bad_key=1',
  );
});

Deno.test("createLogger() writes text lines with a padded level", () => {
  const { log, lines } = capture("text");
  log.child("source").info("message", { key: "value", n: 1 });
  log.error("boom\nsecond line");
  assert.deepEqual(lines, [
    "2026-01-01T00:00:00.000Z INFO  gsidecar.source message key=value n=1",
    "2026-01-01T00:00:00.000Z ERROR gsidecar boom\\nsecond line",
  ]);
});

Deno.test("createLogger() drops lines below the level without formatting them", () => {
  const { log, lines } = capture("json", "WARN");
  let touched = false;
  const fields = {
    get costly() {
      touched = true;
      return 1;
    },
  };
  log.debug("d", fields);
  log.info("i", fields);
  log.warn("w");
  log.error("e");
  assert.equal(touched, false);
  assert.deepEqual(lines.map((l) => JSON.parse(l).level), ["warn", "error"]);
  const only = capture("text", "ERROR");
  only.log.child("x").warn("no");
  only.log.child("x").error("yes");
  assert.equal(only.lines.length, 1);
});

Deno.test("createLogger() extends the category with child()", () => {
  const { log } = capture("json");
  assert.deepEqual(log.category, ["gsidecar"]);
  const c = log.child("writer", "json-file#0");
  assert.deepEqual(c.category, ["gsidecar", "writer", "json-file#0"]);
  assert.deepEqual(c.child("sink").category, ["gsidecar", "writer", "json-file#0", "sink"]);
  assert.deepEqual(log.category, ["gsidecar"]);
});

Deno.test("createLogger() renders errors as their message and cause", () => {
  const inner = new Error("connection refused");
  const outer = new Error("notify failed", { cause: inner });
  assert.equal(jsonLine({ err: outer }).err, "notify failed (cause: connection refused)");
  assert.equal(jsonLine({ err: new TypeError("bad") }).err, "bad");
  assert.equal(jsonLine({ err: new Error("x", { cause: "timeout" }) }).err, "x (cause: timeout)");
  const { log, lines } = capture("logfmt");
  log.error("failed", { error: outer });
  assert.ok(lines[0]!.endsWith('error="notify failed (cause: connection refused)"'));
});

Deno.test("createLogger() redacts fields whose key looks like a secret", () => {
  const line = jsonLine({
    password: "hunter2",
    REQ_PASSWORD: "hunter2",
    pass: "x",
    token: "abc",
    bearerToken: "abc",
    secretValue: "abc",
    Authorization: "Basic abc",
    credentials: { user: "u", key: "k" },
    nested: { apiToken: "abc", ok: "visible" },
    list: [{ password: "p" }],
    secrets: 3,
    user: "admin",
  });
  const text = JSON.stringify(line);
  assert.ok(!text.includes("hunter2") && !text.includes("abc") && !text.includes('"p"'));
  assert.equal(line.password, "[redacted]");
  assert.equal(line.REQ_PASSWORD, "[redacted]");
  assert.equal(line.pass, "[redacted]");
  assert.equal(line.Authorization, "[redacted]");
  assert.equal(line.credentials, "[redacted]");
  assert.deepEqual(line.nested, { apiToken: "[redacted]", ok: "visible" });
  assert.deepEqual(line.list, [{ password: "[redacted]" }]);
  // Counts under a secret-looking key cannot leak a credential and stay useful.
  assert.equal(line.secrets, 3);
  assert.equal(line.user, "admin");
});

Deno.test("createLogger() redacts URL passwords in fields and messages", () => {
  const { log, lines } = capture("logfmt");
  log.warn("POST https://admin:hunter2@grafana/api failed", {
    url: "https://admin:hunter2@grafana:3000/api",
    detail: "fetching http://u:p%40ss@h/x: refused",
    parsed: new URL("https://a:b@host/path"),
  });
  assert.ok(!lines[0]!.includes("hunter2") && !lines[0]!.includes("p%40ss"), lines[0]!);
  assert.ok(lines[0]!.includes('msg="POST https://admin:***@grafana/api failed"'));
  assert.ok(lines[0]!.includes("url=https://admin:***@grafana:3000/api"));
  assert.ok(lines[0]!.includes("parsed=https://a:***@host/path"));
});

Deno.test("createLogger() logs bytes as their length, never their content", () => {
  const line = jsonLine({
    value: new TextEncoder().encode("db-password"),
    buf: new ArrayBuffer(4),
  });
  assert.equal(line.value, "[11 bytes]");
  assert.equal(line.buf, "[4 bytes]");
});

Deno.test("createLogger() survives awkward field values", () => {
  const circular: Record<string, unknown> = { name: "loop" };
  circular.self = circular;
  const line = jsonLine({
    circular,
    big: 10n,
    nan: NaN,
    when: new Date("2026-02-03T04:05:06.000Z"),
    map: new Map([["k", 1]]),
    set: new Set(["a"]),
    fn: function named() {},
    msg: "shadowed",
    time: 1,
  });
  assert.deepEqual(line.circular, { name: "loop", self: "[circular]" });
  assert.equal(line.big, "10");
  assert.equal(line.nan, "NaN");
  assert.equal(line.when, "2026-02-03T04:05:06.000Z");
  assert.deepEqual(line.map, { k: 1 });
  assert.deepEqual(line.set, ["a"]);
  assert.equal(line.fn, "[function named]");
  assert.equal(line.msg, "m");
  assert.equal(line._msg, "shadowed");
  assert.equal(line.time, "2026-01-01T00:00:00.000Z");
  assert.equal(line._time, 1);
});

Deno.test("createLogger() ignores a failing writer", () => {
  const log = createLogger({
    level: "INFO",
    format: "json",
    write: () => {
      throw new Error("EPIPE");
    },
  });
  log.error("still fine");
});

Deno.test("createLogger() writes to stdout by default", async () => {
  const code = `
    import { createLogger } from ${JSON.stringify(new URL("./log.ts", import.meta.url).href)};
    const log = createLogger({ level: "INFO", format: "logfmt" });
    log.info("hello", { n: 1 });
    log.info("x".repeat(200000));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(out.code, 0);
  const lines = new TextDecoder().decode(out.stdout).split("\n");
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /^time=\S+ level=info logger=gsidecar msg=hello n=1$/);
  assert.equal(
    lines[1]!.length,
    "time=".length + 24 + " level=info logger=gsidecar msg=".length + 200000,
  );
  assert.equal(lines[2], "");
});

Deno.test("redactUrl() hides only the password of a URL", () => {
  assert.equal(redactUrl("https://user:pw@host/x?y=1"), "https://user:***@host/x?y=1");
  assert.equal(redactUrl("https://user@host/"), "https://user@host/");
  assert.equal(redactUrl("https://host/a@b"), "https://host/a@b");
  assert.equal(redactUrl("http://u:p@ss@host/"), "http://u:***@host/");
  assert.equal(redactUrl("http://u:@host"), "http://u:***@host");
  assert.equal(redactUrl("a http://x:y@h b https://c:d@e/"), "a http://x:***@h b https://c:***@e/");
  assert.equal(redactUrl("no url here"), "no url here");
  assert.equal(redactUrl("mail me@host"), "mail me@host");
});

Deno.test("redactSecrets() hides every given secret, the longest first, and URL passwords", () => {
  assert.equal(
    redactSecrets("token abc and abcdef at https://u:pw@h/x", ["abc", "abcdef", "", undefined]),
    "token [redacted] and [redacted] at https://u:***@h/x",
  );
});
