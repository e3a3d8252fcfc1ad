import assert from "node:assert/strict";
import { BUILTIN_WRITERS, parseEnv } from "./env.ts";
import type { Config } from "./types.ts";

const BASE = { FOLDER: "/data", LABEL: "grafana_dashboard" };

function ok(env: Record<string, string | undefined>, cwd = "/work"): Config {
  const r = parseEnv({ ...BASE, ...env }, { cwd });
  if (!r.ok) assert.fail(`expected success, got:\n${r.errors.join("\n")}`);
  return r.config;
}

function warnings(env: Record<string, string | undefined>): string[] {
  const r = parseEnv({ ...BASE, ...env }, { cwd: "/work" });
  if (!r.ok) assert.fail(`expected success, got:\n${r.errors.join("\n")}`);
  return r.warnings;
}

function errors(env: Record<string, string | undefined>): string[] {
  const r = parseEnv({ ...BASE, ...env }, { cwd: "/work" });
  if (r.ok) assert.fail("expected errors, got a config");
  return r.errors;
}

/** Asserts exactly one error, mentioning every fragment. */
function oneError(env: Record<string, string | undefined>, ...fragments: string[]): string {
  const errs = errors(env);
  assert.equal(errs.length, 1, errs.join("\n"));
  for (const f of fragments) assert.ok(errs[0]!.includes(f), `${JSON.stringify(f)} in ${errs[0]}`);
  return errs[0]!;
}

Deno.test("parseEnv() builds the documented defaults from FOLDER and LABEL alone", () => {
  const r = parseEnv(BASE, { cwd: "/work" });
  assert.ok(r.ok);
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(
    r.config,
    {
      compat: undefined,
      method: "watch",
      namespaces: "ALL",
      folder: "/data",
      label: "grafana_dashboard",
      labelValue: undefined,
      labelSelector: "grafana_dashboard",
      resources: ["configmap"],
      writers: ["json-file"],
      http: undefined,
      downloads: {
        timeoutMs: 10_000,
        retries: 5,
        backoffMs: 1100,
        retryStatuses: [],
        skipTlsVerify: false,
        auth: undefined,
      },
      uniqueFilenames: false,
      folderAnnotation: "k8s-sidecar-target-directory",
      folderAnnotationRoots: [],
      resourceNames: [],
      resourceNamesIgnoreLabel: false,
      script: undefined,
      defaultFileMode: undefined,
      secretFileMode: 0o600,
      stateDir: undefined,
      namespaceSelector: undefined,
      atomicSet: false,
      gunzip: true,
      maxDecompressedSize: 64 * 1024 * 1024,
      ignoreAlreadyProcessed: false,
      sleepTime: 60,
      watchServerTimeout: 60,
      watchClientTimeout: 66,
      errorThrottleSleep: 5,
      kubeconfig: undefined,
      skipTlsVerify: false,
      disableX509Strict: false,
      serviceAccountDir: "/var/run/secrets/kubernetes.io/serviceaccount",
      healthHost: undefined,
      healthPort: 8080,
      healthzUntilReady: false,
      logLevel: "INFO",
      logFormat: "json",
    } satisfies Config,
  );
});

Deno.test("parseEnv() reports every bad variable at once", () => {
  const r = parseEnv({
    METHOD: "wtach",
    NAMESPACE: "Bad_NS",
    LABEL_VALUE: "-x",
    RESOURCE: "pods",
    WRITERS: "json-file,xml-file",
    SLEEP_TIME: "soon",
    HEALTH_PORT: "99999",
    LOG_LEVEL: "loud",
    LOG_FORMAT: "xml",
    UNIQUE_FILENAMES: "maybe",
  }, { cwd: "/work" });
  assert.ok(!r.ok);
  const named = [
    "METHOD",
    "NAMESPACE",
    "FOLDER",
    "LABEL is required",
    "LABEL_VALUE",
    "RESOURCE",
    "WRITERS",
    "SLEEP_TIME",
    "HEALTH_PORT",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "UNIQUE_FILENAMES",
  ];
  assert.equal(r.errors.length, named.length, r.errors.join("\n"));
  for (const name of named) {
    assert.ok(r.errors.some((e) => e.startsWith(name)), `${name} in\n${r.errors.join("\n")}`);
  }
});

Deno.test("parseEnv() treats empty and blank values as unset", () => {
  const c = ok({ METHOD: "", NAMESPACE: " ", RESOURCE: "", LOG_LEVEL: "", HEALTH_PORT: "" });
  assert.equal(c.method, "watch");
  assert.equal(c.namespaces, "ALL");
  assert.deepEqual(c.resources, ["configmap"]);
  assert.equal(c.logLevel, "INFO");
  assert.equal(c.healthPort, 8080);
});

Deno.test("parseEnv() reads METHOD case-insensitively with its aliases", () => {
  assert.equal(ok({ METHOD: "WATCH" }).method, "watch");
  assert.equal(ok({ METHOD: "List" }).method, "list");
  assert.equal(ok({ METHOD: "sleep" }).method, "sleep");
  assert.equal(ok({ METHOD: "once" }).method, "sleep");
  assert.equal(ok({ METHOD: "POLL" }).method, "list");
  assert.equal(
    oneError({ METHOD: "wtach" }),
    'METHOD="wtach" is not one of watch, list, sleep (aliases: once = sleep, poll = list)',
  );
});

Deno.test("parseEnv() reads NAMESPACE as a trimmed comma list or ALL", () => {
  assert.deepEqual(ok({ NAMESPACE: " monitoring , default,monitoring" }).namespaces, [
    "monitoring",
    "default",
  ]);
  assert.equal(ok({ NAMESPACE: "all" }).namespaces, "ALL");
  assert.equal(ok({ NAMESPACE: "ALL" }).namespaces, "ALL");
  assert.equal(
    oneError({ NAMESPACE: ",," }),
    'NAMESPACE=",," has an empty entry (entries 1, 2, 3 of 3)',
  );
  oneError({ NAMESPACE: "a, ,b" }, 'NAMESPACE="a, ,b"', "empty entry (entry 2 of 3)");
  const w = warnings({ NAMESPACE: "ALL,default" });
  assert.equal(w.length, 1);
  assert.match(w[0]!, /NAMESPACE.*ALL/);
  assert.equal(ok({ NAMESPACE: "ALL,default" }).namespaces, "ALL");
});

Deno.test("parseEnv() rejects namespaces that are not DNS-1123 labels", () => {
  const errs = errors({ NAMESPACE: "ok,Upper,under_score,-dash,a.b," + "x".repeat(64) });
  assert.equal(errs.length, 5, errs.join("\n"));
  assert.ok(errs[0]!.includes('"Upper"') && errs[0]!.includes("lowercase letters"));
  assert.deepEqual(ok({ NAMESPACE: "x".repeat(63) }).namespaces, ["x".repeat(63)]);
});

Deno.test("parseEnv() requires FOLDER and resolves it against cwd", () => {
  assert.equal(ok({ FOLDER: "out/dash" }, "/srv").folder, "/srv/out/dash");
  assert.equal(ok({ FOLDER: "/a/b/../c/" }).folder, "/a/c");
  assert.match(oneError({ FOLDER: undefined }), /^FOLDER is required/);
  assert.match(oneError({ FOLDER: "" }), /^FOLDER is required/);
});

Deno.test("parseEnv() requires LABEL and validates it as a label key", () => {
  assert.equal(ok({ LABEL: "app.kubernetes.io/part-of" }).label, "app.kubernetes.io/part-of");
  assert.equal(ok({ LABEL: "A.b_c-D" }).label, "A.b_c-D");
  assert.match(oneError({ LABEL: undefined }), /^LABEL is required/);
  oneError({ LABEL: "has space" }, 'LABEL="has space"', "label key");
  oneError({ LABEL: "Example.com/x" }, 'LABEL="Example.com/x"');
  oneError({ LABEL: "example.com/" }, "LABEL=");
  oneError({ LABEL: "a/b/c" }, "LABEL=");
  oneError({ LABEL: "x".repeat(64) }, "LABEL=");
  oneError({ LABEL: "_x" }, "LABEL=");
});

Deno.test("parseEnv() builds labelSelector from LABEL and LABEL_VALUE", () => {
  const c = ok({ LABEL: "grafana_dashboard", LABEL_VALUE: "1" });
  assert.equal(c.labelValue, "1");
  assert.equal(c.labelSelector, "grafana_dashboard=1");
  assert.equal(ok({ LABEL_VALUE: "" }).labelSelector, "grafana_dashboard");
  oneError({ LABEL_VALUE: "a b" }, 'LABEL_VALUE="a b"', "label value");
  oneError({ LABEL_VALUE: "v".repeat(64) }, "LABEL_VALUE=");
});

Deno.test("parseEnv() maps RESOURCE to resource kinds", () => {
  assert.deepEqual(ok({ RESOURCE: "configmap" }).resources, ["configmap"]);
  assert.deepEqual(ok({ RESOURCE: "ConfigMaps" }).resources, ["configmap"]);
  assert.deepEqual(ok({ RESOURCE: "SECRET" }).resources, ["secret"]);
  assert.deepEqual(ok({ RESOURCE: "secrets" }).resources, ["secret"]);
  assert.deepEqual(ok({ RESOURCE: "Both" }).resources, ["configmap", "secret"]);
  oneError({ RESOURCE: "pods" }, 'RESOURCE="pods"', "configmap, secret, both");
});

Deno.test("parseEnv() validates WRITERS against the known writers", () => {
  assert.deepEqual(ok({ WRITERS: " JSON-file, raw-file " }).writers, ["json-file", "raw-file"]);
  oneError({ WRITERS: "json-file," }, 'WRITERS="json-file,"', "empty entry (entry 2 of 2)");
  assert.equal(
    oneError({ WRITERS: "json-file,xml-file" }),
    `WRITERS entry "xml-file" is not one of ${BUILTIN_WRITERS.join(", ")}`,
  );
  const r = parseEnv({ ...BASE, WRITERS: "custom" }, { cwd: "/", knownWriters: ["custom"] });
  assert.ok(r.ok);
  assert.deepEqual(r.config.writers, ["custom"]);
  assert.equal(warnings({ WRITERS: "txt-file,txt-file" }).length, 1);
});

Deno.test("parseEnv() leaves http undefined without REQ_URL and warns about ignored REQ_* vars", () => {
  assert.equal(ok({}).http, undefined);
  const env = { REQ_METHOD: "post", REQ_PASSWORD: "hunter2", ENABLE_5XX: "yes" };
  assert.equal(ok(env).http, undefined);
  const w = warnings(env);
  assert.equal(w.length, 1);
  assert.ok(w[0]!.includes("REQ_METHOD") && w[0]!.includes("REQ_PASSWORD"));
  assert.ok(w[0]!.includes("ENABLE_5XX") && w[0]!.includes("REQ_URL"));
  assert.ok(!w[0]!.includes("hunter2"));
  // Ignored, but still checked: a typo is reported rather than discovered later.
  oneError({ REQ_METHOD: "bogus" }, 'REQ_METHOD="bogus"');
  assert.deepEqual(ok(env).downloads.auth, undefined, "no credentials for downloads either");
});

Deno.test("parseEnv() builds the http-basic options from REQ_* with their defaults", () => {
  assert.deepEqual(ok({ REQ_URL: "http://localhost:3000/api/admin/provisioning/reload" }).http, {
    url: "http://localhost:3000/api/admin/provisioning/reload",
    method: "GET",
    payload: undefined,
    username: undefined,
    password: undefined,
    usernameFile: undefined,
    passwordFile: undefined,
    authEncoding: "utf-8",
    skipInit: false,
    timeoutMs: 10_000,
    retryTotal: 5,
    backoffFactor: 1.1,
    enable5xx: false,
    skipTlsVerify: false,
  });
  const h = ok({
    REQ_URL: "https://grafana/reload",
    REQ_METHOD: "post",
    REQ_PAYLOAD: '{"a":1}',
    REQ_USERNAME: "admin",
    REQ_PASSWORD: " s3cret ",
    REQ_SKIP_INIT: "TRUE",
    REQ_TIMEOUT: "2.5",
    REQ_RETRY_TOTAL: "0",
    REQ_RETRY_BACKOFF_FACTOR: "0",
    ENABLE_5XX: "on",
    REQ_SKIP_TLS_VERIFY: "1",
  }).http;
  assert.deepEqual(h, {
    url: "https://grafana/reload",
    method: "POST",
    payload: '{"a":1}',
    username: "admin",
    password: " s3cret ",
    usernameFile: undefined,
    passwordFile: undefined,
    authEncoding: "utf-8",
    skipInit: true,
    timeoutMs: 2500,
    retryTotal: 0,
    backoffFactor: 0,
    enable5xx: true,
    skipTlsVerify: true,
  });
});

Deno.test("parseEnv() rejects a REQ_URL that is not http(s), without echoing its password", () => {
  oneError({ REQ_URL: "ftp://host/x" }, 'REQ_URL="ftp://host/x"', "http:// or https://");
  oneError({ REQ_URL: "not a url" }, "REQ_URL=");
  const e = oneError({ REQ_URL: "gopher://me:topsecret@host/" }, "me:***@host");
  assert.ok(!e.includes("topsecret"));
});

Deno.test("parseEnv() validates REQ_METHOD, REQ_TIMEOUT and the retry settings", () => {
  oneError({ REQ_URL: "http://h", REQ_METHOD: "PUT" }, 'REQ_METHOD="PUT"', "GET, POST");
  oneError({ REQ_URL: "http://h", REQ_TIMEOUT: "0" }, 'REQ_TIMEOUT="0"', "above 0");
  oneError(
    { REQ_URL: "http://h", REQ_TIMEOUT: "2073601" },
    'REQ_TIMEOUT="2073601" is more than 2073600 s (timers longer than 24 days cannot be kept)',
  );
  oneError({ REQ_URL: "http://h", REQ_RETRY_TOTAL: "1001" }, "REQ_RETRY_TOTAL=", "1000");
  oneError({ REQ_URL: "http://h", REQ_TIMEOUT: "10s" }, 'REQ_TIMEOUT="10s"');
  oneError(
    { REQ_URL: "http://h", REQ_RETRY_TOTAL: "1.5" },
    'REQ_RETRY_TOTAL="1.5"',
    "whole number",
  );
  oneError({ REQ_URL: "http://h", REQ_RETRY_TOTAL: "-1" }, 'REQ_RETRY_TOTAL="-1"');
  oneError({ REQ_URL: "http://h", REQ_RETRY_BACKOFF_FACTOR: "-0.1" }, "REQ_RETRY_BACKOFF_FACTOR=");
  oneError({ REQ_URL: "http://h", ENABLE_5XX: "sometimes" }, 'ENABLE_5XX="sometimes"', "boolean");
  oneError({ REQ_URL: "http://h", REQ_SKIP_INIT: "y" }, 'REQ_SKIP_INIT="y"');
  oneError({ REQ_URL: "http://h", REQ_SKIP_TLS_VERIFY: "2" }, 'REQ_SKIP_TLS_VERIFY="2"');
});

Deno.test("parseEnv() warns when REQ_PAYLOAD is set for a GET", () => {
  const w = warnings({ REQ_URL: "http://h", REQ_PAYLOAD: "{}" });
  assert.equal(w.length, 1);
  assert.match(w[0]!, /REQ_PAYLOAD.*GET/);
  assert.deepEqual(warnings({ REQ_URL: "http://h", REQ_PAYLOAD: "{}", REQ_METHOD: "POST" }), []);
});

Deno.test("parseEnv() records REQ_*_FILE paths without reading them", () => {
  const h = ok({
    REQ_URL: "http://h",
    REQ_USERNAME_FILE: "/does/not/exist/user",
    REQ_PASSWORD_FILE: "secrets/pass",
  }, "/etc").http;
  assert.equal(h?.usernameFile, "/does/not/exist/user");
  assert.equal(h?.passwordFile, "/etc/secrets/pass");
  assert.equal(h?.username, undefined);
  assert.equal(h?.password, undefined);
  // Mixed forms are fine: the user name inline, the password from a mounted Secret.
  assert.ok(ok({ REQ_URL: "http://h", REQ_USERNAME: "u", REQ_PASSWORD_FILE: "/p" }).http);
});

Deno.test("parseEnv() rejects half-configured basic auth and never echoes the password", () => {
  const secret = "Tr0ub4dor&3";
  const cases: Record<string, string>[] = [
    { REQ_PASSWORD: secret },
    { REQ_USERNAME: "admin" },
    { REQ_PASSWORD_FILE: "/p" },
    { REQ_USERNAME_FILE: "/u" },
    { REQ_USERNAME: "admin", REQ_PASSWORD: secret, REQ_PASSWORD_FILE: "/p" },
    { REQ_USERNAME: "admin", REQ_USERNAME_FILE: "/u", REQ_PASSWORD: secret },
  ];
  for (const env of cases) {
    const e = oneError({ REQ_URL: "http://h", ...env });
    assert.match(e, /REQ_(USERNAME|PASSWORD)/);
    assert.ok(!e.includes(secret), e);
  }
});

Deno.test("parseEnv() never puts REQ_PASSWORD into any error or warning", () => {
  const secret = "pa55-w0rd";
  const all = [
    ...errors({ REQ_URL: "http://h", REQ_PASSWORD: secret, METHOD: "x", REQ_TIMEOUT: "x" }),
    ...errors({ REQ_URL: "x", REQ_PASSWORD: secret, REQ_PASSWORD_FILE: secret }),
    ...warnings({ REQ_PASSWORD: secret, REQ_USERNAME: secret }),
  ];
  assert.ok(all.length >= 5);
  for (const m of all) assert.ok(!m.includes(secret), m);
});

Deno.test("parseEnv() accepts every boolean spelling case-insensitively", () => {
  for (const v of ["true", "TRUE", "1", "yes", "Yes", "on", "ON"]) {
    assert.equal(ok({ UNIQUE_FILENAMES: v }).uniqueFilenames, true, v);
  }
  for (const v of ["false", "False", "0", "no", "NO", "off", "Off"]) {
    assert.equal(ok({ UNIQUE_FILENAMES: v }).uniqueFilenames, false, v);
  }
  oneError(
    { SKIP_TLS_VERIFY: "truee" },
    'SKIP_TLS_VERIFY="truee"',
    "true/false, 1/0, yes/no, on/off",
  );
  assert.equal(ok({ IGNORE_ALREADY_PROCESSED: "true" }).ignoreAlreadyProcessed, true);
  oneError({ IGNORE_ALREADY_PROCESSED: "2" }, "IGNORE_ALREADY_PROCESSED=");
  assert.equal(ok({ SKIP_TLS_VERIFY: "yes" }).skipTlsVerify, true);
});

Deno.test("parseEnv() validates FOLDER_ANNOTATION as an annotation key", () => {
  assert.equal(ok({ FOLDER_ANNOTATION: "example.com/dir" }).folderAnnotation, "example.com/dir");
  oneError({ FOLDER_ANNOTATION: "a dir" }, 'FOLDER_ANNOTATION="a dir"');
});

Deno.test("parseEnv() requires FOLDER_ANNOTATION_ROOTS to be absolute", () => {
  assert.deepEqual(
    ok({ FOLDER_ANNOTATION_ROOTS: " /etc/rules/ , /var/x/../y" }).folderAnnotationRoots,
    [
      "/etc/rules",
      "/var/y",
    ],
  );
  const errs = errors({ FOLDER_ANNOTATION_ROOTS: "/ok,rel/path,./x" });
  assert.equal(errs.length, 2);
  assert.ok(errs[0]!.includes('"rel/path"') && errs[0]!.includes("absolute"));
});

Deno.test("parseEnv() parses RESOURCE_NAME entries of one, two and three parts", () => {
  assert.deepEqual(
    ok({
      RESOURCE: "both",
      RESOURCE_NAME: "dash-a, configmap/dash-b,CM/dash.c, monitoring/Secret/db ,secrets/x",
    }).resourceNames,
    [
      { namespace: undefined, kind: undefined, name: "dash-a" },
      { namespace: undefined, kind: "configmap", name: "dash-b" },
      { namespace: undefined, kind: "configmap", name: "dash.c" },
      { namespace: "monitoring", kind: "secret", name: "db" },
      { namespace: undefined, kind: "secret", name: "x" },
    ],
  );
});

Deno.test("parseEnv() rejects malformed RESOURCE_NAME entries", () => {
  oneError({ RESOURCE_NAME: "a/b/c/d" }, '"a/b/c/d"', "namespace/kind/name");
  oneError({ RESOURCE_NAME: "configmap/" }, '"configmap/"');
  oneError({ RESOURCE_NAME: "pod/x" }, '"pod"', "configmap, secret");
  oneError({ RESOURCE_NAME: "Bad_NS/cm/x" }, '"Bad_NS"', "namespace");
  oneError({ RESOURCE_NAME: "cm/Not_A_Name" }, '"Not_A_Name"', "object name");
});

Deno.test("parseEnv() rejects a RESOURCE_NAME kind that RESOURCE does not select", () => {
  oneError({ RESOURCE_NAME: "secret/db" }, '"secret/db"', "RESOURCE", "secret");
  oneError({ RESOURCE: "secret", RESOURCE_NAME: "ns/configmap/x" }, '"ns/configmap/x"');
  assert.equal(ok({ RESOURCE: "secret", RESOURCE_NAME: "db" }).resourceNames.length, 1);
});

Deno.test("parseEnv() warns about a RESOURCE_NAME namespace outside NAMESPACE", () => {
  const w = warnings({ NAMESPACE: "a,b", RESOURCE_NAME: "c/cm/x,a/cm/y" });
  assert.equal(w.length, 1);
  assert.match(w[0]!, /"c"/);
});

Deno.test("parseEnv() keeps SCRIPT and KUBECONFIG as given", () => {
  const c = ok({ SCRIPT: "/hooks/reload.sh", KUBECONFIG: "/a:/b" });
  assert.equal(c.script, "/hooks/reload.sh");
  assert.equal(c.kubeconfig, "/a:/b");
});

Deno.test("parseEnv() reads DEFAULT_FILE_MODE as octal", () => {
  assert.equal(ok({ DEFAULT_FILE_MODE: "644" }).defaultFileMode, 0o644);
  assert.equal(ok({ DEFAULT_FILE_MODE: "0644" }).defaultFileMode, 0o644);
  assert.equal(ok({ DEFAULT_FILE_MODE: "0o600" }).defaultFileMode, 0o600);
  assert.equal(ok({ DEFAULT_FILE_MODE: "0O777" }).defaultFileMode, 0o777);
  for (const bad of ["1000", "0o1000", "rw-r--r--", "0x1a4", "8", "-644", "64 4"]) {
    oneError({ DEFAULT_FILE_MODE: bad }, `DEFAULT_FILE_MODE=${JSON.stringify(bad)}`, "octal");
  }
  assert.equal(warnings({ DEFAULT_FILE_MODE: "044" }).length, 1);
});

Deno.test("parseEnv() reads ATOMIC_SET as a boolean", () => {
  assert.equal(ok({ ATOMIC_SET: "true" }).atomicSet, true);
  assert.equal(ok({ ATOMIC_SET: "off" }).atomicSet, false);
  assert.equal(ok({ ATOMIC_SET: "" }).atomicSet, false);
  oneError({ ATOMIC_SET: "sometimes" }, 'ATOMIC_SET="sometimes"');
});

Deno.test("parseEnv() reads MAX_DECOMPRESSED_SIZE in bytes or with a unit, within bounds", () => {
  assert.equal(ok({ MAX_DECOMPRESSED_SIZE: "64Mi" }).maxDecompressedSize, 64 * 1024 * 1024);
  assert.equal(ok({ MAX_DECOMPRESSED_SIZE: "1Gi" }).maxDecompressedSize, 1024 ** 3);
  assert.equal(ok({ MAX_DECOMPRESSED_SIZE: "1Ki" }).maxDecompressedSize, 1024);
  assert.equal(ok({ MAX_DECOMPRESSED_SIZE: "200MiB" }).maxDecompressedSize, 200 * 1024 ** 2);
  assert.equal(ok({ MAX_DECOMPRESSED_SIZE: "10M" }).maxDecompressedSize, 10_000_000);
  assert.equal(ok({ MAX_DECOMPRESSED_SIZE: "500k" }).maxDecompressedSize, 500_000);
  assert.equal(ok({ MAX_DECOMPRESSED_SIZE: "1048576" }).maxDecompressedSize, 1048576);
  assert.equal(ok({ MAX_DECOMPRESSED_SIZE: "8 Mi" }).maxDecompressedSize, 8 * 1024 * 1024);
  oneError({ MAX_DECOMPRESSED_SIZE: "64" }, "MAX_DECOMPRESSED_SIZE=", "less than 1Ki", "64Mi?");
  oneError({ MAX_DECOMPRESSED_SIZE: "2Gi" }, "MAX_DECOMPRESSED_SIZE=", "more than 1Gi");
  for (const bad of ["lots", "1.5Mi", "-1Mi", "64mb", "10Ti", "0x100", "toString"]) {
    oneError(
      { MAX_DECOMPRESSED_SIZE: bad },
      `MAX_DECOMPRESSED_SIZE=${JSON.stringify(bad)}`,
      "size",
    );
  }
});

Deno.test("parseEnv() reads timings as positive seconds, decimals allowed", () => {
  const c = ok({
    SLEEP_TIME: "0.5",
    WATCH_SERVER_TIMEOUT: "30",
    WATCH_CLIENT_TIMEOUT: "35.5",
    ERROR_THROTTLE_SLEEP: ".25",
  });
  assert.equal(c.sleepTime, 0.5);
  assert.equal(c.watchServerTimeout, 30);
  assert.equal(c.watchClientTimeout, 35.5);
  assert.equal(c.errorThrottleSleep, 0.25);
  for (const name of ["SLEEP_TIME", "WATCH_SERVER_TIMEOUT", "WATCH_CLIENT_TIMEOUT"]) {
    for (const bad of ["0", "-1", "1e3", "abc", "Infinity", "5m"]) {
      const errs = errors({ [name]: bad });
      assert.ok(errs.some((e) => e.startsWith(`${name}=${JSON.stringify(bad)}`)), errs.join("\n"));
    }
  }
  oneError({ ERROR_THROTTLE_SLEEP: "0" }, 'ERROR_THROTTLE_SLEEP="0"', "above 0");
  // setTimeout fires at once beyond 2^31 ms: a list mode would become a tight loop.
  oneError({ SLEEP_TIME: "3000000" }, 'SLEEP_TIME="3000000" is more than 2073600 s', "24 days");
  assert.equal(ok({ SLEEP_TIME: "2073600" }).sleepTime, 2073600);
});

Deno.test("parseEnv() warns when WATCH_CLIENT_TIMEOUT is not above WATCH_SERVER_TIMEOUT", () => {
  const w = warnings({ WATCH_SERVER_TIMEOUT: "60", WATCH_CLIENT_TIMEOUT: "60" });
  assert.equal(w.length, 1);
  assert.match(w[0]!, /WATCH_CLIENT_TIMEOUT=60.*WATCH_SERVER_TIMEOUT=60/);
  assert.deepEqual(warnings({ WATCH_SERVER_TIMEOUT: "60", WATCH_CLIENT_TIMEOUT: "61" }), []);
});

Deno.test("parseEnv() reads HEALTH_HOST and HEALTH_PORT, keeping port 0", () => {
  const c = ok({ HEALTH_HOST: "127.0.0.1", HEALTH_PORT: "0" });
  assert.equal(c.healthHost, "127.0.0.1");
  assert.equal(c.healthPort, 0);
  assert.equal(ok({ HEALTH_PORT: "65535" }).healthPort, 65535);
  for (const bad of ["65536", "-1", "80.5", "http"]) {
    oneError({ HEALTH_PORT: bad }, `HEALTH_PORT=${JSON.stringify(bad)}`, "65535");
  }
  assert.equal(ok({}).healthHost, undefined, "unset: dual-stack");
  assert.equal(ok({ HEALTH_HOST: "[::1]" }).healthHost, "::1");
  for (const bad of ["not a host", "300.1.1.1", "::g", "http://x"]) {
    oneError({ HEALTH_HOST: bad }, `HEALTH_HOST=${JSON.stringify(bad)}`);
  }
});

Deno.test("parseEnv() reads LOG_LEVEL and LOG_FORMAT case-insensitively", () => {
  assert.equal(ok({ LOG_LEVEL: "debug" }).logLevel, "DEBUG");
  assert.equal(ok({ LOG_LEVEL: "Info" }).logLevel, "INFO");
  assert.equal(ok({ LOG_LEVEL: "WARN" }).logLevel, "WARN");
  assert.equal(ok({ LOG_LEVEL: "warning" }).logLevel, "WARN");
  assert.equal(ok({ LOG_LEVEL: "ERROR" }).logLevel, "ERROR");
  assert.equal(ok({ LOG_LEVEL: "CRITICAL" }).logLevel, "ERROR");
  oneError({ LOG_LEVEL: "trace" }, 'LOG_LEVEL="trace"', "DEBUG, INFO, WARN, ERROR");
  assert.equal(ok({ LOG_FORMAT: "LOGFMT" }).logFormat, "logfmt");
  assert.equal(ok({ LOG_FORMAT: "text" }).logFormat, "text");
  oneError({ LOG_FORMAT: "xml" }, 'LOG_FORMAT="xml"', "json, logfmt, text");
});

Deno.test("parseEnv() warns that REQ_SKIP_INIT silences METHOD=sleep", () => {
  const w = warnings({ METHOD: "once", REQ_URL: "http://h", REQ_SKIP_INIT: "true" });
  assert.equal(w.length, 1);
  assert.match(w[0]!, /REQ_SKIP_INIT.*sleep/);
});

Deno.test("parseEnv() does not share arrays between results", () => {
  const a = ok({ RESOURCE: "both" });
  a.resources.pop();
  assert.deepEqual(ok({ RESOURCE: "both" }).resources, ["configmap", "secret"]);
});
