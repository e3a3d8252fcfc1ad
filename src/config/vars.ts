/**
 * Every environment variable the sidecar reads, declared once: name, default, description and
 * parser, in the order `--help` and the README list them. Rules that join several variables
 * (basic auth needs both halves, `RESOURCE_NAME` kinds must be selected…) are in `env.ts`.
 *
 * @module
 */
import { type AuthEncoding, HTTP_BASIC_DEFAULTS } from "../../plugins/http_basic/options.ts";
import type { ResourceKind } from "../model.ts";
import { declare, type VarDecl } from "./declare.ts";
import { parseKiwigridMethod, parseMethod } from "./method.ts";
import {
  absolutePath,
  bool,
  choice,
  DNS_LABEL_RULE,
  DNS_SUBDOMAIN_RULE,
  fileMode,
  Invalid,
  isLabelKey,
  isLabelValue,
  isNamespace,
  isObjectName,
  LABEL_KEY_RULE,
  LABEL_VALUE_RULE,
  list,
  listenHost,
  MAX_TIMER_SECONDS,
  number,
  origin,
  path,
} from "./parsers.ts";
import type { Compat, LogFormat, LogLevel, Method, ResourceNameFilter } from "./types.ts";

/**
 * Where the kubelet mounts the service-account token, CA and namespace.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SERVICE_ACCOUNT_DIR } from "./vars.ts";
 * assert(SERVICE_ACCOUNT_DIR.endsWith("/serviceaccount"));
 * ```
 */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * The default of `MAX_DECOMPRESSED_SIZE`: 64 MiB.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MAX_DECOMPRESSED_SIZE } from "./vars.ts";
 * assert(DEFAULT_MAX_DECOMPRESSED_SIZE === 64 * 1024 * 1024);
 * ```
 */
export const DEFAULT_MAX_DECOMPRESSED_SIZE = 64 * 1024 * 1024;

const BYTE_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  B: 1,
  Ki: 1024,
  KiB: 1024,
  Mi: 1024 ** 2,
  MiB: 1024 ** 2,
  Gi: 1024 ** 3,
  GiB: 1024 ** 3,
  k: 1000,
  K: 1000,
  KB: 1000,
  M: 1000 ** 2,
  MB: 1000 ** 2,
  G: 1000 ** 3,
  GB: 1000 ** 3,
};

/**
 * A size in bytes: a whole number, optionally followed by a unit as Kubernetes quantities write
 * them (`Ki`, `Mi`, `Gi` are powers of 1024; `k`, `M`, `G` of 1000; a trailing `B` is accepted).
 * A bare number below `min` is refused with a hint, since `64` is more likely to mean 64Mi than 64
 * bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { byteSize } from "./vars.ts";
 * assert(byteSize("64Mi", { min: 1, max: 2 ** 30 }) === 64 * 1024 * 1024);
 * assert(byteSize("1500000", { min: 1, max: 2 ** 30 }) === 1_500_000);
 * ```
 */
export function byteSize(value: string, rule: { min: number; max: number }): number {
  const range = `from ${formatBytes(rule.min)} up to ${formatBytes(rule.max)}`;
  const m = /^(\d+)\s*([A-Za-z]*)$/.exec(value);
  const unit = m === null ? undefined : BYTE_UNITS[m[2]!];
  if (m === null || unit === undefined || !Object.hasOwn(BYTE_UNITS, m[2]!)) {
    throw new Invalid(
      `is not a size (bytes, or a whole number with Ki, Mi, Gi, k, M or G) ${range}`,
    );
  }
  const n = Number(m[1]) * unit;
  if (n < rule.min) {
    const hint = m[2] === "" ? ` (a bare number counts bytes: did you mean ${m[1]}Mi?)` : "";
    throw new Invalid(`is less than ${formatBytes(rule.min)}${hint}`);
  }
  if (n > rule.max) throw new Invalid(`is more than ${formatBytes(rule.max)}`);
  return n;
}

function formatBytes(n: number): string {
  for (const [unit, size] of [["Gi", 1024 ** 3], ["Mi", 1024 ** 2], ["Ki", 1024]] as const) {
    if (n >= size && n % size === 0) return `${n / size}${unit}`;
  }
  return `${n} bytes`;
}

const seconds = (max = MAX_TIMER_SECONDS) => (v: string) => number(v, { max, unit: "s" });

const RESOURCES: Readonly<Record<string, readonly ResourceKind[]>> = {
  configmap: ["configmap"],
  configmaps: ["configmap"],
  secret: ["secret"],
  secrets: ["secret"],
  both: ["configmap", "secret"],
};

const KINDS: Readonly<Record<string, ResourceKind>> = {
  configmap: "configmap",
  configmaps: "configmap",
  cm: "configmap",
  secret: "secret",
  secrets: "secret",
};

const LOG_LEVELS: Readonly<Record<string, LogLevel>> = {
  debug: "DEBUG",
  info: "INFO",
  warn: "WARN",
  warning: "WARN",
  error: "ERROR",
  // kiwigrid's Python levels include CRITICAL; mapping it keeps migrated Pod specs valid.
  critical: "ERROR",
};

const ENCODINGS: Readonly<Record<string, AuthEncoding>> = {
  "utf-8": "utf-8",
  "utf8": "utf-8",
  "latin1": "latin1",
  "latin-1": "latin1",
  "iso-8859-1": "latin1",
  "ascii": "ascii",
  "us-ascii": "ascii",
};

function resourceName(entry: string): ResourceNameFilter {
  const parts = entry.split("/").map((p) => p.trim());
  if (parts.length > 3 || parts.some((p) => p === "")) {
    throw new Invalid("is not name, kind/name or namespace/kind/name");
  }
  const problems: string[] = [];
  const name = parts[parts.length - 1]!;
  const kindWord = parts.length >= 2 ? parts[parts.length - 2] : undefined;
  const namespace = parts.length === 3 ? parts[0] : undefined;
  let kind: ResourceKind | undefined;
  if (kindWord !== undefined) {
    const lower = kindWord.toLowerCase();
    kind = Object.hasOwn(KINDS, lower) ? KINDS[lower] : undefined;
    if (kind === undefined) {
      problems.push(
        `has kind ${JSON.stringify(kindWord)}, not one of configmap, secret (alias: cm)`,
      );
    }
  }
  if (namespace !== undefined && !isNamespace(namespace)) {
    problems.push(
      `has namespace ${JSON.stringify(namespace)}, not a namespace name (${DNS_LABEL_RULE})`,
    );
  }
  if (!isObjectName(name)) {
    problems.push(`has name ${JSON.stringify(name)}, not an object name (${DNS_SUBDOMAIN_RULE})`);
  }
  if (problems.length > 0) throw new Invalid(problems);
  return { namespace, kind, name };
}

/** Accepted for kiwigrid Pod specs, validated, and otherwise ignored with a warning. */
function ignoredCount(name: string, why: string): VarDecl<undefined> {
  return declare<undefined>({
    name,
    shown: "",
    description: `accepted from kiwigrid Pod specs and ignored: ${why}`,
    default: undefined,
    parse: (v, ctx) => {
      number(v, { integer: true, min: 0, max: 1000 });
      ctx.warn(`${name} is ignored: ${why}`);
      return undefined;
    },
  });
}

/**
 * The declarations, by name, in documentation order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VARS } from "./vars.ts";
 * assert(VARS.SLEEP_TIME.shown === "60");
 * ```
 */
export const VARS = {
  COMPAT: declare<Compat | undefined>({
    name: "COMPAT",
    shown: "",
    description:
      "`kiwigrid`: every default and meaning as in kiwigrid/k8s-sidecar (see COMPAT=kiwigrid below)",
    default: undefined,
    parse: (v) => choice<Compat>(v, { kiwigrid: "kiwigrid" }, "kiwigrid"),
  }),
  METHOD: declare<Method>({
    name: "METHOD",
    shown: "watch",
    description:
      "`watch` (list then watch), `list` (relist every `SLEEP_TIME` s), `sleep` (one sync, then exit); any case; aliases `once` = sleep, `poll` = list",
    compat: "LIST = one sync then exit, SLEEP = relist every SLEEP_TIME, WATCH = watch",
    default: "watch",
    parse: (v, ctx) => ctx.compat ? parseKiwigridMethod(v, ctx.warn) : parseMethod(v, ctx.warn),
  }),
  NAMESPACE: declare<string[] | "ALL">({
    name: "NAMESPACE",
    shown: "ALL",
    description: "comma list of namespaces, or `ALL` for all namespaces",
    compat: "unset = the pod's own namespace (the service account's namespace file)",
    default: (ctx) => {
      if (!ctx.compat) return "ALL";
      const own = ctx.ownNamespace();
      return own === undefined ? "ALL" : [own];
    },
    parse: (v, ctx) => {
      const names = list("NAMESPACE", v, (n) => {
        if (n.toUpperCase() !== "ALL" && !isNamespace(n)) {
          throw new Invalid(`is not a namespace name (${DNS_LABEL_RULE})`);
        }
        return n;
      });
      if (names.some((n) => n.toUpperCase() === "ALL")) {
        if (names.length > 1) {
          ctx.warn(
            `NAMESPACE=${
              JSON.stringify(v)
            } lists ALL with other namespaces: watching all namespaces`,
          );
        }
        return "ALL";
      }
      return [...new Set(names)];
    },
  }),
  NAMESPACE_SELECTOR: declare<string | undefined>({
    name: "NAMESPACE_SELECTOR",
    shown: "",
    description:
      "label selector on Namespace objects (`team=grafana`); the watched namespaces follow it live, within `NAMESPACE` when that is set (needs list and watch on namespaces)",
    default: undefined,
    parse: (v) => {
      if ([...v].some((c) => c.charCodeAt(0) < 0x20)) throw new Invalid("is not a label selector");
      return v;
    },
  }),
  FOLDER: declare<string | undefined>({
    name: "FOLDER",
    shown: "",
    description: "folder the files are written to (required)",
    required: "the folder files are written to",
    raw: true,
    default: undefined,
    parse: (v, ctx) => path(v, ctx.cwd),
  }),
  LABEL: declare<string | undefined>({
    name: "LABEL",
    shown: "",
    description:
      "label key selecting ConfigMaps and Secrets, evaluated by the API server (required)",
    required: "the label key that selects ConfigMaps and Secrets",
    default: undefined,
    parse: (v) => {
      if (!isLabelKey(v)) throw new Invalid(`is not a label key (${LABEL_KEY_RULE})`);
      return v;
    },
  }),
  LABEL_VALUE: declare<string | undefined>({
    name: "LABEL_VALUE",
    shown: "",
    description: "label value; unset selects every object with the label",
    default: undefined,
    parse: (v) => {
      if (!isLabelValue(v)) throw new Invalid(`is not a label value (${LABEL_VALUE_RULE})`);
      return v;
    },
  }),
  RESOURCE: declare<readonly ResourceKind[]>({
    name: "RESOURCE",
    shown: "configmap",
    description: "`configmap`, `secret` or `both`",
    default: ["configmap"],
    parse: (v) =>
      choice(v, RESOURCES, "configmap, secret, both (plurals configmaps, secrets accepted)"),
  }),
  RESOURCE_NAME: declare<ResourceNameFilter[]>({
    name: "RESOURCE_NAME",
    shown: "",
    description:
      "comma list of `name`, `kind/name`, `namespace/kind/name`; narrows the label selection, never replaces it",
    compat: "in a namespace, the named objects are read by name whatever their labels",
    default: () => [],
    parse: (v) => list("RESOURCE_NAME", v, resourceName),
  }),
  WRITERS: declare<string[]>({
    name: "WRITERS",
    shown: "json-file",
    description:
      "comma list of built-in writers used without a config file (`json-file`, `yaml-file`, `txt-file`, `raw-file`)",
    compat: "unset = raw-file (every key written as it is)",
    default: (ctx) => [ctx.compat ? "raw-file" : "json-file"],
    parse: (v, ctx) => {
      const out: string[] = [];
      for (const w of list("WRITERS", v.toLowerCase(), (w) => w)) {
        if (!ctx.knownWriters.includes(w)) {
          ctx.error(
            `WRITERS entry ${JSON.stringify(w)} is not one of ${ctx.knownWriters.join(", ")}`,
          );
        } else if (out.includes(w)) {
          ctx.warn(`WRITERS lists ${JSON.stringify(w)} more than once: using it once`);
        } else {
          out.push(w);
        }
      }
      return out;
    },
  }),
  CONFIG: declare<string | undefined>({
    name: "CONFIG",
    shown: "",
    description:
      "config file (YAML or JSON) declaring writer and notifier instances; `--config PATH` wins",
    default: undefined,
    parse: (v) => v,
  }),
  UNIQUE_FILENAMES: declare<boolean>({
    name: "UNIQUE_FILENAMES",
    shown: "false",
    description: "name files `namespace_{ns}.{configmap|secret}_{name}.{key}`",
    default: false,
    parse: bool,
  }),
  FOLDER_ANNOTATION: declare<string>({
    name: "FOLDER_ANNOTATION",
    shown: "k8s-sidecar-target-directory",
    description:
      "annotation whose value picks a subfolder (relative to `FOLDER`, or absolute inside `FOLDER` or a root of `FOLDER_ANNOTATION_ROOTS`); anything else is refused",
    default: "k8s-sidecar-target-directory",
    parse: (v) => {
      if (!isLabelKey(v)) throw new Invalid(`is not an annotation key (${LABEL_KEY_RULE})`);
      return v;
    },
  }),
  FOLDER_ANNOTATION_ROOTS: declare<string[]>({
    name: "FOLDER_ANNOTATION_ROOTS",
    shown: "",
    description:
      "comma list of absolute folders outside `FOLDER` that the annotation may point into",
    default: () => [],
    parse: (v) => list("FOLDER_ANNOTATION_ROOTS", v, (e) => absolutePath(e, "/var/lib/rules")),
  }),
  DEFAULT_FILE_MODE: declare<number | undefined>({
    name: "DEFAULT_FILE_MODE",
    shown: "",
    description:
      "octal mode of written files (`644`, `0644`, `0o644`); unset: umask, Secrets `0600`",
    compat: "unset = umask for Secrets too",
    default: undefined,
    parse: fileMode,
  }),
  STATE_DIR: declare<string | undefined>({
    name: "STATE_DIR",
    shown: "",
    description:
      "folder for the ownership record, for applications that load every file of `FOLDER`; unset: inside `FOLDER`",
    raw: true,
    default: undefined,
    parse: (v, ctx) => path(v, ctx.cwd),
  }),
  ATOMIC_SET: declare<boolean>({
    name: "ATOMIC_SET",
    shown: "false",
    description:
      "publish each change set of a folder at once: a `..data` symlink to a versioned directory, swapped in one rename",
    default: false,
    parse: bool,
  }),
  GUNZIP: declare<boolean>({
    name: "GUNZIP",
    shown: "true",
    description:
      "keys ending in `.gz` (in `binaryData` or a Secret) are decompressed and written without the suffix; `false`: as they are",
    default: true,
    parse: bool,
  }),
  MAX_DECOMPRESSED_SIZE: declare<number>({
    name: "MAX_DECOMPRESSED_SIZE",
    shown: "64Mi",
    description:
      "largest file a `.gz` key may decompress to: bytes, or with a unit (`Ki`, `Mi`, `Gi`, `k`, `M`, `G`), 1Ki to 1Gi",
    default: DEFAULT_MAX_DECOMPRESSED_SIZE,
    parse: (v) => byteSize(v, { min: 1024, max: 1024 ** 3 }),
  }),
  SCRIPT: declare<string | undefined>({
    name: "SCRIPT",
    shown: "",
    description:
      "executable run after files changed (60 s timeout, change summary in its environment)",
    raw: true,
    default: undefined,
    parse: (v) => v,
  }),
  IGNORE_ALREADY_PROCESSED: declare<boolean>({
    name: "IGNORE_ALREADY_PROCESSED",
    shown: "false",
    description: "accepted; an already-seen resourceVersion is never re-applied anyway",
    default: false,
    parse: bool,
  }),
  REQ_URL: declare<string | undefined>({
    name: "REQ_URL",
    shown: "",
    description: "URL notified after files changed (http/https); no HTTP notification without it",
    default: undefined,
    parse: (v) => {
      let u: URL | undefined;
      try {
        u = new URL(v);
      } catch {
        // reported below
      }
      if (u === undefined || (u.protocol !== "http:" && u.protocol !== "https:")) {
        throw new Invalid("is not an http:// or https:// URL");
      }
      return v;
    },
  }),
  REQ_METHOD: declare<"GET" | "POST">({
    name: "REQ_METHOD",
    shown: HTTP_BASIC_DEFAULTS.method,
    description: "`GET` or `POST`",
    default: HTTP_BASIC_DEFAULTS.method,
    parse: (v) => choice<"GET" | "POST">(v, { get: "GET", post: "POST" }, "GET, POST"),
  }),
  REQ_PAYLOAD: declare<string | undefined>({
    name: "REQ_PAYLOAD",
    shown: "",
    description:
      "body of a POST, sent as JSON when it parses as JSON; unset: a JSON summary `{seq, initial, written, removed}`",
    compat: "unset = no body; text that is not JSON is sent as a JSON string",
    raw: true,
    default: undefined,
    parse: (v) => v,
  }),
  REQ_USERNAME: declare<string | undefined>({
    name: "REQ_USERNAME",
    shown: "",
    description: "basic-auth user name for `REQ_URL` (with `REQ_PASSWORD`)",
    secret: true,
    raw: true,
    default: undefined,
    parse: (v) => v,
  }),
  REQ_PASSWORD: declare<string | undefined>({
    name: "REQ_PASSWORD",
    shown: "",
    description: "basic-auth password for `REQ_URL`",
    secret: true,
    raw: true,
    default: undefined,
    parse: (v) => v,
  }),
  REQ_USERNAME_FILE: declare<string | undefined>({
    name: "REQ_USERNAME_FILE",
    shown: "",
    description:
      "file holding the user name, re-read on every call (not together with `REQ_USERNAME`)",
    compat: "wins over REQ_USERNAME (with a warning); --req-username-file wins over both",
    raw: true,
    default: undefined,
    parse: (v, ctx) => path(v, ctx.cwd),
  }),
  REQ_PASSWORD_FILE: declare<string | undefined>({
    name: "REQ_PASSWORD_FILE",
    shown: "",
    description:
      "file holding the password, re-read on every call (not together with `REQ_PASSWORD`)",
    compat: "wins over REQ_PASSWORD (with a warning); --req-password-file wins over both",
    raw: true,
    default: undefined,
    parse: (v, ctx) => path(v, ctx.cwd),
  }),
  REQ_BASIC_AUTH_ENCODING: declare<AuthEncoding>({
    name: "REQ_BASIC_AUTH_ENCODING",
    shown: HTTP_BASIC_DEFAULTS.authEncoding,
    description: "encoding of the basic-auth user name and password: `utf-8`, `latin1` or `ascii`",
    compat: "unset = latin1",
    default: (ctx) => ctx.compat ? "latin1" : HTTP_BASIC_DEFAULTS.authEncoding,
    parse: (v) => choice(v, ENCODINGS, "utf-8, latin1, ascii"),
  }),
  REQ_AUTH_ORIGINS: declare<string[]>({
    name: "REQ_AUTH_ORIGINS",
    shown: "",
    description:
      "comma list of origins (`https://host[:port]`) that `.url` downloads send the basic-auth credentials to, besides `REQ_URL`'s",
    default: () => [],
    parse: (v) => list("REQ_AUTH_ORIGINS", v, origin),
  }),
  REQ_SKIP_INIT: declare<boolean>({
    name: "REQ_SKIP_INIT",
    shown: String(HTTP_BASIC_DEFAULTS.skipInit),
    description: "do not notify after the initial sync",
    compat: "ignored with METHOD=LIST (kiwigrid notifies after its one sync)",
    default: HTTP_BASIC_DEFAULTS.skipInit,
    parse: bool,
  }),
  REQ_TIMEOUT: declare<number>({
    name: "REQ_TIMEOUT",
    shown: String(HTTP_BASIC_DEFAULTS.timeoutMs / 1000),
    description: "timeout of one notification or `.url` download attempt (s)",
    default: HTTP_BASIC_DEFAULTS.timeoutMs / 1000,
    parse: seconds(),
  }),
  REQ_RETRY_TOTAL: declare<number>({
    name: "REQ_RETRY_TOTAL",
    shown: String(HTTP_BASIC_DEFAULTS.retryTotal),
    description: "retries after the first attempt",
    default: HTTP_BASIC_DEFAULTS.retryTotal,
    parse: (v) => number(v, { integer: true, min: 0, max: 1000 }),
  }),
  REQ_RETRY_BACKOFF_FACTOR: declare<number>({
    name: "REQ_RETRY_BACKOFF_FACTOR",
    shown: String(HTTP_BASIC_DEFAULTS.backoffFactor),
    description: "retry n waits factor × 2^(n-1) s, at most 120 s",
    default: HTTP_BASIC_DEFAULTS.backoffFactor,
    parse: (v) => number(v, { min: 0, max: MAX_TIMER_SECONDS, unit: "s" }),
  }),
  ENABLE_5XX: declare<boolean>({
    name: "ENABLE_5XX",
    shown: String(HTTP_BASIC_DEFAULTS.enable5xx),
    description:
      "also retry answers with a 5xx status (connection errors and timeouts always are retried)",
    compat: "500, 502, 503 and 504 are retried unless ENABLE_5XX=true",
    default: HTTP_BASIC_DEFAULTS.enable5xx,
    parse: bool,
  }),
  REQ_SKIP_TLS_VERIFY: declare<boolean>({
    name: "REQ_SKIP_TLS_VERIFY",
    shown: String(HTTP_BASIC_DEFAULTS.skipTlsVerify),
    description: "do not verify `REQ_URL`'s certificate",
    compat: "applies to .url downloads too",
    default: HTTP_BASIC_DEFAULTS.skipTlsVerify,
    parse: bool,
  }),
  REQ_RETRY_CONNECT: ignoredCount(
    "REQ_RETRY_CONNECT",
    "connection errors count against REQ_RETRY_TOTAL",
  ),
  REQ_RETRY_READ: ignoredCount("REQ_RETRY_READ", "read errors count against REQ_RETRY_TOTAL"),
  SLEEP_TIME: declare<number>({
    name: "SLEEP_TIME",
    shown: "60",
    description: "relist interval of `METHOD=list` (s)",
    default: 60,
    parse: seconds(),
  }),
  WATCH_SERVER_TIMEOUT: declare<number>({
    name: "WATCH_SERVER_TIMEOUT",
    shown: "60",
    description: "watch duration asked of the API server (s)",
    default: 60,
    parse: seconds(),
  }),
  WATCH_CLIENT_TIMEOUT: declare<number>({
    name: "WATCH_CLIENT_TIMEOUT",
    shown: "66",
    description: "silence after which a watch or list counts as stalled (s)",
    default: 66,
    parse: seconds(),
  }),
  ERROR_THROTTLE_SLEEP: declare<number>({
    name: "ERROR_THROTTLE_SLEEP",
    shown: "5",
    description: "first backoff after an API error (s)",
    default: 5,
    parse: seconds(),
  }),
  KUBECONFIG: declare<string | undefined>({
    name: "KUBECONFIG",
    shown: "~/.kube/config",
    description:
      "kubeconfig files (`:`-separated) for out-of-cluster use; in a pod the service account is used",
    raw: true,
    default: undefined,
    parse: (v) => v,
  }),
  SKIP_TLS_VERIFY: declare<boolean>({
    name: "SKIP_TLS_VERIFY",
    shown: "false",
    description: "do not verify the API server's certificate",
    default: false,
    parse: bool,
  }),
  DISABLE_X509_STRICT_VERIFICATION: declare<boolean>({
    name: "DISABLE_X509_STRICT_VERIFICATION",
    shown: "false",
    description:
      "accepted from kiwigrid; certificates it lets through (no key identifiers) are accepted here anyway",
    default: false,
    parse: bool,
  }),
  GSIDECAR_SERVICE_ACCOUNT_DIR: declare<string>({
    name: "GSIDECAR_SERVICE_ACCOUNT_DIR",
    shown: SERVICE_ACCOUNT_DIR,
    description: "where the service account's `token`, `ca.crt` and `namespace` are mounted",
    default: SERVICE_ACCOUNT_DIR,
    parse: (v) => absolutePath(v, SERVICE_ACCOUNT_DIR),
  }),
  HEALTH_HOST: declare<string | undefined>({
    name: "HEALTH_HOST",
    shown: "::",
    description:
      "address of `/healthz`, `/readyz`, `/metrics`; unset: IPv6 and IPv4 (`0.0.0.0` where IPv6 is off)",
    default: undefined,
    parse: listenHost,
  }),
  HEALTH_PORT: declare<number>({
    name: "HEALTH_PORT",
    shown: "8080",
    description: "port of that server; `0` picks a free one; in use: logged, syncing goes on",
    default: 8080,
    parse: (v) => number(v, { integer: true, min: 0, max: 65535 }),
  }),
  LOG_LEVEL: declare<LogLevel>({
    name: "LOG_LEVEL",
    shown: "INFO",
    description: "`DEBUG`, `INFO`, `WARN` (`WARNING`), `ERROR` (`CRITICAL`)",
    default: "INFO",
    parse: (v) =>
      choice(v, LOG_LEVELS, "DEBUG, INFO, WARN, ERROR (aliases: WARNING = WARN, CRITICAL = ERROR)"),
  }),
  LOG_FORMAT: declare<LogFormat>({
    name: "LOG_FORMAT",
    shown: "json",
    description: "`json`, `logfmt` or `text`, one line per event on stdout",
    default: "json",
    parse: (v) =>
      choice<LogFormat>(v, { json: "json", logfmt: "logfmt", text: "text" }, "json, logfmt, text"),
  }),
  LOG_TZ: declare<undefined>({
    name: "LOG_TZ",
    shown: "",
    description: "accepted from kiwigrid Pod specs; times are always UTC",
    default: undefined,
    parse: (v, ctx) => {
      if (v.toUpperCase() !== "UTC") {
        ctx.warn(`LOG_TZ=${JSON.stringify(v)} is ignored: times are UTC`);
      }
      return undefined;
    },
  }),
  LOG_CONFIG: declare<undefined>({
    name: "LOG_CONFIG",
    shown: "",
    description: "accepted from kiwigrid Pod specs and ignored (a Python logging configuration)",
    raw: true,
    default: undefined,
    parse: (_v, ctx) => {
      ctx.warn("LOG_CONFIG is ignored: it configures Python logging; use LOG_LEVEL and LOG_FORMAT");
      return undefined;
    },
  }),
} as const;

/**
 * Every declaration, in documentation order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ALL_VARS } from "./vars.ts";
 * assert(ALL_VARS[0]?.name === "COMPAT");
 * ```
 */
export const ALL_VARS: readonly VarDecl<unknown>[] = Object.values(VARS);
