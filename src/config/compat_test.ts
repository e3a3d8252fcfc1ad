import assert from "node:assert/strict";
import { parseEnv, type ParseEnvOptions } from "./env.ts";
import type { Config } from "./types.ts";

const BASE = { FOLDER: "/data", LABEL: "grafana_dashboard" };
const KIWI = { ...BASE, COMPAT: "kiwigrid", NAMESPACE: "grafana" };

function parse(env: Record<string, string | undefined>, opts: ParseEnvOptions = {}) {
  return parseEnv(env, { cwd: "/work", ...opts });
}

function ok(env: Record<string, string | undefined>, opts: ParseEnvOptions = {}): Config {
  const r = parse(env, opts);
  if (!r.ok) assert.fail(`expected success, got:\n${r.errors.join("\n")}`);
  return r.config;
}

function warnings(env: Record<string, string | undefined>, opts: ParseEnvOptions = {}): string[] {
  const r = parse(env, opts);
  if (!r.ok) assert.fail(`expected success, got:\n${r.errors.join("\n")}`);
  return r.warnings;
}

function errors(env: Record<string, string | undefined>, opts: ParseEnvOptions = {}): string[] {
  const r = parse(env, opts);
  if (r.ok) assert.fail("expected errors, got a config");
  return r.errors;
}

Deno.test("parseEnv() accepts COMPAT=kiwigrid in any case and refuses other values", () => {
  assert.equal(ok({ ...KIWI, COMPAT: "KiwiGrid" }).compat, "kiwigrid");
  assert.equal(ok(BASE).compat, undefined);
  assert.deepEqual(errors({ ...BASE, COMPAT: "grafana" }), [
    'COMPAT="grafana" is not one of kiwigrid',
  ]);
});

Deno.test("parseEnv() without COMPAT warns that METHOD LIST and SLEEP are not kiwigrid's", () => {
  for (const value of ["LIST", "list", "List"]) {
    const c = ok({ ...BASE, METHOD: value });
    assert.equal(c.method, "list");
    const w = warnings({ ...BASE, METHOD: value });
    assert.equal(w.length, 1);
    assert.match(w[0]!, new RegExp(`^METHOD=${value} relists every SLEEP_TIME seconds here`));
    assert.match(w[0]!, /kiwigrid\/k8s-sidecar LIST syncs once and exits/);
    assert.match(w[0]!, /COMPAT=kiwigrid/);
  }
  assert.equal(ok({ ...BASE, METHOD: "SLEEP" }).method, "sleep");
  const w = warnings({ ...BASE, METHOD: "SLEEP" });
  assert.equal(w.length, 1);
  assert.match(w[0]!, /^METHOD=SLEEP syncs once, notifies and exits here/);
  assert.match(w[0]!, /SLEEP relists every SLEEP_TIME/);
  for (const quiet of ["watch", "WATCH", "once", "poll"]) {
    assert.deepEqual(warnings({ ...BASE, METHOD: quiet }), [], quiet);
  }
});

Deno.test("parseEnv() under COMPAT reads METHOD as kiwigrid does", () => {
  assert.equal(ok({ ...KIWI, METHOD: "LIST" }).method, "sleep");
  assert.equal(ok({ ...KIWI, METHOD: "SLEEP" }).method, "list");
  assert.equal(ok({ ...KIWI, METHOD: "WATCH" }).method, "watch");
  assert.equal(ok({ ...KIWI }).method, "watch");
  assert.deepEqual(warnings({ ...KIWI, METHOD: "LIST" }), []);
  assert.deepEqual(warnings({ ...KIWI, METHOD: "SLEEP" }), []);
  // kiwigrid compares case-sensitively: "list" watches there, and here under COMPAT, with a word.
  assert.equal(ok({ ...KIWI, METHOD: "list" }).method, "watch");
  const w = warnings({ ...KIWI, METHOD: "list" });
  assert.equal(w.length, 1);
  assert.match(w[0]!, /METHOD=list watches under COMPAT=kiwigrid.*write LIST/);
  assert.equal(ok({ ...KIWI, METHOD: "once" }).method, "sleep");
  assert.equal(ok({ ...KIWI, METHOD: "poll" }).method, "list");
  const [e] = errors({ ...KIWI, METHOD: "WACTH" });
  assert.match(e!, /^METHOD="WACTH" is not one of LIST \(one sync, then exit\), SLEEP/);
});

Deno.test("parseEnv() under COMPAT takes an unset NAMESPACE as the pod's own namespace", () => {
  const read: string[] = [];
  const readFile = (path: string) => {
    read.push(path);
    return "monitoring\n";
  };
  const c = ok({ ...BASE, COMPAT: "kiwigrid" }, { readFile });
  assert.deepEqual(c.namespaces, ["monitoring"]);
  assert.deepEqual(read, ["/var/run/secrets/kubernetes.io/serviceaccount/namespace"]);
  ok({ ...BASE, COMPAT: "kiwigrid", GSIDECAR_SERVICE_ACCOUNT_DIR: "/sa" }, { readFile });
  assert.equal(read[1], "/sa/namespace");
  // Set, it is read as always, and the file is not needed.
  read.length = 0;
  assert.equal(
    ok({ ...BASE, COMPAT: "kiwigrid", NAMESPACE: "ALL" }, { readFile }).namespaces,
    "ALL",
  );
  assert.deepEqual(read, []);
  // Without COMPAT, unset is ALL.
  assert.equal(ok(BASE, { readFile }).namespaces, "ALL");
  assert.deepEqual(read, []);
});

Deno.test("parseEnv() under COMPAT without NAMESPACE or a namespace file is exit-2 material", () => {
  const missing = () => {
    throw new Deno.errors.NotFound("no such file");
  };
  assert.deepEqual(errors({ ...BASE, COMPAT: "kiwigrid" }, { readFile: missing }), [
    "NAMESPACE is unset, which under COMPAT=kiwigrid means the pod's own namespace, but " +
    "/var/run/secrets/kubernetes.io/serviceaccount/namespace cannot be read (NotFound): " +
    "set NAMESPACE (a comma list, or ALL)",
  ]);
  const [e] = errors({ ...BASE, COMPAT: "kiwigrid" }, { readFile: () => "Not A Namespace" });
  assert.match(e!, /namespace does not hold a namespace name/);
});

Deno.test("parseEnv() under COMPAT writes every key unless WRITERS says otherwise", () => {
  assert.deepEqual(ok(KIWI).writers, ["raw-file"]);
  assert.deepEqual(ok({ ...KIWI, WRITERS: "json-file" }).writers, ["json-file"]);
  assert.deepEqual(ok(BASE).writers, ["json-file"]);
});

Deno.test("parseEnv() under COMPAT gives Secret files the umask unless DEFAULT_FILE_MODE is set", () => {
  assert.equal(ok(KIWI).secretFileMode, undefined);
  assert.equal(ok(BASE).secretFileMode, 0o600);
  assert.equal(ok({ ...KIWI, DEFAULT_FILE_MODE: "640" }).defaultFileMode, 0o640);
});

Deno.test("parseEnv() under COMPAT makes /healthz wait for the initial sync", () => {
  assert.equal(ok(KIWI).healthzUntilReady, true);
  assert.equal(ok(BASE).healthzUntilReady, false);
});

Deno.test("parseEnv() under COMPAT retries 500, 502, 503, 504 unless ENABLE_5XX=true", () => {
  const url = { REQ_URL: "http://127.0.0.1:3000/reload" };
  const kiwi = ok({ ...KIWI, ...url });
  assert.deepEqual(kiwi.http?.retryStatuses, [500, 502, 503, 504]);
  assert.deepEqual(kiwi.downloads.retryStatuses, [500, 502, 503, 504]);
  const enabled = ok({ ...KIWI, ...url, ENABLE_5XX: "true" });
  assert.deepEqual(enabled.http?.retryStatuses, []);
  assert.deepEqual(enabled.downloads.retryStatuses, []);
  // This project's meaning: ENABLE_5XX turns retries of every 5xx on.
  const own = ok({ ...BASE, ...url, ENABLE_5XX: "true" });
  assert.equal(own.http?.retryStatuses, undefined);
  assert.equal(own.http?.enable5xx, true);
  assert.equal(own.downloads.retryStatuses.length, 100);
  assert.deepEqual(ok({ ...BASE, ...url }).downloads.retryStatuses, []);
});

Deno.test("parseEnv() under COMPAT lets a *_FILE credential win over the plain variable", () => {
  const env = {
    REQ_URL: "http://127.0.0.1:3000/reload",
    REQ_USERNAME: "admin",
    REQ_PASSWORD: "plain-s3cret",
    REQ_USERNAME_FILE: "/creds/user",
    REQ_PASSWORD_FILE: "/creds/password",
  };
  const c = ok({ ...KIWI, ...env });
  assert.equal(c.http?.username, undefined);
  assert.equal(c.http?.password, undefined);
  assert.equal(c.http?.usernameFile, "/creds/user");
  assert.equal(c.http?.passwordFile, "/creds/password");
  const w = warnings({ ...KIWI, ...env });
  assert.deepEqual(w, [
    "REQ_USERNAME and REQ_USERNAME_FILE are both set: the file wins (COMPAT=kiwigrid, as kiwigrid does)",
    "REQ_PASSWORD and REQ_PASSWORD_FILE are both set: the file wins (COMPAT=kiwigrid, as kiwigrid does)",
  ]);
  // Without COMPAT both set stays an error.
  const errs = errors({ ...BASE, ...env });
  assert.equal(errs.length, 2);
  assert.ok(errs.every((e) => e.endsWith("are both set: set only one")));
  assert.ok(![...w, ...errs].some((m) => m.includes("plain-s3cret")));
});

Deno.test("parseEnv() under COMPAT sends no credentials when only one half is set", () => {
  const env = { ...KIWI, REQ_URL: "http://h/", REQ_PASSWORD: "only-s3cret" };
  const c = ok(env);
  assert.equal(c.http?.password, undefined);
  assert.equal(c.downloads.auth, undefined);
  const [w] = warnings(env);
  assert.match(w!, /REQ_PASSWORD\(_FILE\) is set without REQ_USERNAME\(_FILE\): no credentials/);
  assert.match(
    errors({ ...BASE, REQ_URL: "http://h/", REQ_PASSWORD: "x" })[0]!,
    /basic auth needs both/,
  );
});

Deno.test("parseEnv() under COMPAT shapes REQ_PAYLOAD as kiwigrid's json= does", () => {
  const post = { ...KIWI, REQ_URL: "http://h/", REQ_METHOD: "POST" };
  assert.equal(ok(post).http?.payload, "", "no payload: no body");
  assert.equal(ok({ ...post, REQ_PAYLOAD: '{"a": 1}' }).http?.payload, '{"a": 1}');
  assert.equal(ok({ ...post, REQ_PAYLOAD: "reload now" }).http?.payload, '"reload now"');
  assert.equal(ok({ ...BASE, REQ_URL: "http://h/", REQ_METHOD: "POST" }).http?.payload, undefined);
});

Deno.test("parseEnv() under COMPAT notifies after METHOD=LIST whatever REQ_SKIP_INIT says", () => {
  const env = { ...KIWI, METHOD: "LIST", REQ_URL: "http://h/", REQ_SKIP_INIT: "true" };
  assert.equal(ok(env).http?.skipInit, false);
  assert.match(
    warnings(env)[0]!,
    /REQ_SKIP_INIT is ignored with METHOD=LIST under COMPAT=kiwigrid/,
  );
  assert.equal(ok({ ...KIWI, REQ_URL: "http://h/", REQ_SKIP_INIT: "true" }).http?.skipInit, true);
});

Deno.test("parseEnv() under COMPAT encodes credentials as latin1 unless REQ_BASIC_AUTH_ENCODING says", () => {
  const env = { REQ_URL: "http://h/", REQ_USERNAME: "u", REQ_PASSWORD: "p" };
  assert.equal(ok({ ...KIWI, ...env }).http?.authEncoding, "latin1");
  assert.equal(ok({ ...BASE, ...env }).http?.authEncoding, "utf-8");
  assert.equal(
    ok({ ...KIWI, ...env, REQ_BASIC_AUTH_ENCODING: "ascii" }).http?.authEncoding,
    "ascii",
  );
  assert.equal(
    ok({ ...BASE, ...env, REQ_BASIC_AUTH_ENCODING: "UTF8" }).http?.authEncoding,
    "utf-8",
  );
  assert.match(
    errors({ ...BASE, ...env, REQ_BASIC_AUTH_ENCODING: "utf-16" })[0]!,
    /REQ_BASIC_AUTH_ENCODING="utf-16" is not one of utf-8, latin1, ascii/,
  );
});

Deno.test("parseEnv() under COMPAT uses the REQ_* settings for .url downloads even without REQ_URL", () => {
  const env = {
    REQ_TIMEOUT: "3",
    REQ_RETRY_TOTAL: "2",
    REQ_USERNAME: "u",
    REQ_PASSWORD: "p",
    REQ_AUTH_ORIGINS: "https://files.example.com",
    REQ_SKIP_TLS_VERIFY: "true",
  };
  const kiwi = ok({ ...KIWI, ...env });
  assert.equal(kiwi.http, undefined);
  assert.deepEqual(kiwi.downloads, {
    timeoutMs: 3000,
    retries: 2,
    backoffMs: 1100,
    retryStatuses: [500, 502, 503, 504],
    skipTlsVerify: true,
    auth: {
      origins: ["https://files.example.com"],
      username: "u",
      password: "p",
      usernameFile: undefined,
      passwordFile: undefined,
      encoding: "latin1",
    },
  });
  // This project's meaning: without REQ_URL they are ignored, and a warning names them.
  const own = ok({ ...BASE, ...env });
  assert.equal(own.downloads.timeoutMs, 10_000);
  assert.equal(own.downloads.auth, undefined);
  assert.match(
    warnings({ ...BASE, ...env })[0]!,
    /REQ_AUTH_ORIGINS, REQ_TIMEOUT.*without REQ_URL: ignored/,
  );
});

Deno.test("parseEnv() gives .url credentials to REQ_URL's origin and REQ_AUTH_ORIGINS only", () => {
  const c = ok({
    ...BASE,
    REQ_URL: "http://grafana:3000/api/reload",
    REQ_USERNAME: "u",
    REQ_PASSWORD: "p",
    REQ_AUTH_ORIGINS: "https://Files.Example.com:443, http://10.0.0.1:8080/",
  });
  assert.deepEqual(c.downloads.auth?.origins, [
    "http://grafana:3000",
    "https://files.example.com",
    "http://10.0.0.1:8080",
  ]);
  assert.equal(c.downloads.skipTlsVerify, false, "REQ_SKIP_TLS_VERIFY is for REQ_URL here");
  const errs = errors({
    ...BASE,
    REQ_URL: "http://h/",
    REQ_AUTH_ORIGINS: "https://a.example.com/path,ftp://b,https://u:pw-s3cret@c,",
  });
  assert.equal(errs.length, 4, errs.join("\n"));
  assert.match(errs[0]!, /REQ_AUTH_ORIGINS=".*" has an empty entry \(entry 4 of 4\)/);
  assert.match(errs[1]!, /entry "https:\/\/a.example.com\/path" has a path/);
  assert.match(errs[2]!, /entry "ftp:\/\/b" is not an http/);
  assert.match(errs[3]!, /has credentials in it/);
  assert.ok(!errs.join("\n").includes("pw-s3cret"));
});

Deno.test("parseEnv() under COMPAT reads RESOURCE_NAME in a namespace as names whatever the label", () => {
  const c = ok({ ...KIWI, RESOURCE: "both", RESOURCE_NAME: "configmap/a,secret/b" });
  assert.equal(c.resourceNamesIgnoreLabel, true);
  assert.equal(c.resourceNames.length, 2);
  assert.equal(ok({ ...BASE, RESOURCE_NAME: "a" }).resourceNamesIgnoreLabel, false);
  // kiwigrid skips an entry of a kind RESOURCE does not select; here that is said.
  const w = warnings({ ...KIWI, RESOURCE_NAME: "secret/b,a" });
  assert.match(
    w[0]!,
    /RESOURCE_NAME entry "secret\/b" names a secret but RESOURCE selects only configmap: it never matches/,
  );
  assert.deepEqual(ok({ ...KIWI, RESOURCE_NAME: "secret/b,a" }).resourceNames, [
    { namespace: undefined, kind: undefined, name: "a" },
  ]);
});

Deno.test("parseEnv() under COMPAT ignores RESOURCE_NAME with NAMESPACE=ALL, as kiwigrid", () => {
  const env = { ...KIWI, NAMESPACE: "ALL", RESOURCE_NAME: "a" };
  const c = ok(env);
  assert.deepEqual(c.resourceNames, []);
  assert.equal(c.resourceNamesIgnoreLabel, false);
  assert.match(
    warnings(env)[0]!,
    /RESOURCE_NAME is ignored with NAMESPACE=ALL under COMPAT=kiwigrid/,
  );
});

Deno.test("parseEnv() accepts kiwigrid's other variables, checks them and says they are ignored", () => {
  const env = {
    ...BASE,
    REQ_RETRY_CONNECT: "10",
    REQ_RETRY_READ: "5",
    LOG_TZ: "LOCAL",
    LOG_CONFIG: "/etc/log.yaml",
    DISABLE_X509_STRICT_VERIFICATION: "true",
  };
  const c = ok(env);
  assert.equal(c.disableX509Strict, true);
  const w = warnings(env);
  assert.equal(w.length, 4, w.join("\n"));
  assert.match(w.join("\n"), /REQ_RETRY_CONNECT is ignored/);
  assert.match(w.join("\n"), /LOG_TZ="LOCAL" is ignored: times are UTC/);
  assert.match(w.join("\n"), /LOG_CONFIG is ignored/);
  assert.deepEqual(warnings({ ...BASE, LOG_TZ: "utc" }), []);
  assert.match(errors({ ...BASE, REQ_RETRY_READ: "many" })[0]!, /REQ_RETRY_READ="many"/);
});
