/**
 * Builds the sidecar's {@linkcode Config} from environment variables, with the names used by the
 * seed and by kiwigrid/k8s-sidecar so existing Pod specs keep working.
 *
 * Every problem is reported at once, because a Pod that fails on one variable per restart costs
 * the user one `CrashLoopBackOff` cycle per typo. Each message names the variable, the rejected
 * value (never a password) and what would have been accepted.
 *
 * An empty value counts as unset: Pod specs and Helm charts often render `value: ""` for options
 * the user left alone.
 *
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import type { ResourceKind } from "../model.ts";
import { redactUrl } from "../log.ts";
import type {
  Config,
  HttpBasicOptions,
  LogFormat,
  LogLevel,
  Method,
  ResourceNameFilter,
} from "./types.ts";

/** Result of {@linkcode parseEnv}: a config plus warnings, or every error found. */
export type EnvParseResult =
  | { ok: true; config: Config; warnings: string[] }
  | { ok: false; errors: string[] };

/** Options of {@linkcode parseEnv}. */
export interface ParseEnvOptions {
  /** Directory relative paths are resolved against; defaults to `Deno.cwd()`. */
  cwd?: string | undefined;
  /** Writer names `WRITERS` may list; defaults to {@linkcode BUILTIN_WRITERS}. */
  knownWriters?: readonly string[] | undefined;
}

/** Documentation of one environment variable. */
export interface EnvVarDoc {
  readonly name: string;
  /** Default as a user would write it; `""` when there is none. */
  readonly default: string;
  readonly description: string;
}

/**
 * The built-in writers `WRITERS` accepts by default.
 *
 * @example
 * ```ts
 * import { BUILTIN_WRITERS } from "./env.ts";
 * console.assert(BUILTIN_WRITERS.includes("json-file"));
 * ```
 */
export const BUILTIN_WRITERS: readonly string[] = [
  "json-file",
  "yaml-file",
  "txt-file",
  "raw-file",
];

/**
 * Every variable {@linkcode parseEnv} reads, in the order it reads them, for the README and
 * `--help`.
 *
 * @example
 * ```ts
 * import { ENV_VARS } from "./env.ts";
 * for (const v of ENV_VARS) console.log(`${v.name}\t${v.default}\t${v.description}`);
 * ```
 */
export const ENV_VARS: readonly EnvVarDoc[] = [
  {
    name: "METHOD",
    default: "watch",
    description:
      "watch (list then watch), list (relist every SLEEP_TIME s), sleep (one sync, then exit); aliases once = sleep, poll = list",
  },
  { name: "NAMESPACE", default: "ALL", description: "Comma list of namespaces, or ALL" },
  { name: "FOLDER", default: "", description: "Target folder (required)" },
  { name: "LABEL", default: "", description: "Label key selecting objects (required)" },
  {
    name: "LABEL_VALUE",
    default: "",
    description: "Label value; unset selects every object with the label",
  },
  { name: "RESOURCE", default: "configmap", description: "configmap, secret or both" },
  {
    name: "WRITERS",
    default: "json-file",
    description: "Comma list of built-in writers used without a config file",
  },
  { name: "REQ_URL", default: "", description: "URL notified after files changed (http/https)" },
  { name: "REQ_METHOD", default: "GET", description: "GET or POST" },
  { name: "REQ_PAYLOAD", default: "", description: "Body sent with POST" },
  { name: "REQ_USERNAME", default: "", description: "Basic auth user name" },
  { name: "REQ_PASSWORD", default: "", description: "Basic auth password" },
  {
    name: "REQ_USERNAME_FILE",
    default: "",
    description: "File holding the basic auth user name, re-read on every call",
  },
  {
    name: "REQ_PASSWORD_FILE",
    default: "",
    description: "File holding the basic auth password, re-read on every call",
  },
  {
    name: "REQ_SKIP_INIT",
    default: "false",
    description: "Do not notify after the initial sync",
  },
  { name: "REQ_TIMEOUT", default: "10", description: "Per-request timeout (s)" },
  {
    name: "REQ_RETRY_TOTAL",
    default: "5",
    description: "Retries after the first attempt",
  },
  {
    name: "REQ_RETRY_BACKOFF_FACTOR",
    default: "1.1",
    description: "Backoff factor (s): retry n waits factor * 2^(n-1)",
  },
  {
    name: "ENABLE_5XX",
    default: "false",
    description: "Also retry notifications answered with a 5xx status",
  },
  {
    name: "REQ_SKIP_TLS_VERIFY",
    default: "false",
    description: "Do not verify the TLS certificate of REQ_URL",
  },
  {
    name: "UNIQUE_FILENAMES",
    default: "false",
    description: "Name files namespace_{ns}.{kind}_{name}.{key}",
  },
  {
    name: "FOLDER_ANNOTATION",
    default: "k8s-sidecar-target-directory",
    description: "Annotation whose value picks a subfolder",
  },
  {
    name: "FOLDER_ANNOTATION_ROOTS",
    default: "",
    description: "Comma list of absolute folders outside FOLDER that the annotation may point into",
  },
  {
    name: "RESOURCE_NAME",
    default: "",
    description: "Comma list of object names (name, kind/name, namespace/kind/name)",
  },
  { name: "SCRIPT", default: "", description: "Executable run after files changed" },
  {
    name: "IGNORE_ALREADY_PROCESSED",
    default: "false",
    description: "Accepted for compatibility; already-seen versions are never re-applied",
  },
  {
    name: "DEFAULT_FILE_MODE",
    default: "",
    description: "Octal mode of written files (e.g. 644); unset: umask, Secrets owner-only",
  },
  { name: "SLEEP_TIME", default: "60", description: "Relist interval of METHOD=list (s)" },
  {
    name: "WATCH_SERVER_TIMEOUT",
    default: "60",
    description: "Watch duration asked of the API server (s)",
  },
  {
    name: "WATCH_CLIENT_TIMEOUT",
    default: "66",
    description: "Silence after which a watch is considered stalled (s)",
  },
  {
    name: "ERROR_THROTTLE_SLEEP",
    default: "5",
    description: "Pause after an API error before retrying (s)",
  },
  {
    name: "KUBECONFIG",
    default: "",
    description: "Kubeconfig for out-of-cluster use; in-cluster is detected",
  },
  {
    name: "SKIP_TLS_VERIFY",
    default: "false",
    description: "Do not verify the API server's certificate",
  },
  {
    name: "HEALTH_HOST",
    default: "0.0.0.0",
    description: "Address of the /healthz, /readyz and /metrics server",
  },
  { name: "HEALTH_PORT", default: "8080", description: "Port of that server; 0 picks a free one" },
  { name: "LOG_LEVEL", default: "INFO", description: "DEBUG, INFO, WARN or ERROR" },
  { name: "LOG_FORMAT", default: "json", description: "json, logfmt or text" },
];

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DECIMAL = /^(\d+(\.\d*)?|\.\d+)$/;
const INTEGER = /^\d+$/;

const DNS_LABEL_RULE =
  "lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";
const DNS_SUBDOMAIN_RULE =
  "lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters";
const LABEL_KEY_RULE =
  "an optional DNS subdomain prefix and '/', then a name of at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
const LABEL_VALUE_RULE =
  "at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";

/** Variables that configure the http-basic notifier and mean nothing without `REQ_URL`. */
const HTTP_VARS = [
  "REQ_METHOD",
  "REQ_PAYLOAD",
  "REQ_USERNAME",
  "REQ_PASSWORD",
  "REQ_USERNAME_FILE",
  "REQ_PASSWORD_FILE",
  "REQ_SKIP_INIT",
  "REQ_TIMEOUT",
  "REQ_RETRY_TOTAL",
  "REQ_RETRY_BACKOFF_FACTOR",
  "ENABLE_5XX",
  "REQ_SKIP_TLS_VERIFY",
] as const;

const METHODS: Readonly<Record<string, Method>> = {
  watch: "watch",
  list: "list",
  sleep: "sleep",
  once: "sleep",
  poll: "list",
};

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

const LOG_FORMATS: Readonly<Record<string, LogFormat>> = {
  json: "json",
  logfmt: "logfmt",
  text: "text",
};

const TRUE_WORDS = new Set(["true", "1", "yes", "on"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off"]);

/** Collects errors and warnings while reading one environment. */
class Reader {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  readonly #env: Record<string, string | undefined>;

  constructor(env: Record<string, string | undefined>) {
    this.#env = env;
  }

  /** The raw value, or `undefined` when unset or empty (surrounding blanks kept). */
  raw(name: string): string | undefined {
    const v = this.#env[name];
    return v === undefined || v.trim() === "" ? undefined : v;
  }

  /** The trimmed value, or `undefined` when unset or blank. */
  str(name: string): string | undefined {
    return this.raw(name)?.trim();
  }

  /** Records an error about `name` whose value is `value`. */
  bad(name: string, value: string, problem: string): void {
    this.errors.push(`${name}=${JSON.stringify(value)} ${problem}`);
  }

  enumOf<T>(name: string, table: Readonly<Record<string, T>>, fallback: T, accepted: string): T {
    const v = this.str(name);
    if (v === undefined) return fallback;
    const hit = Object.hasOwn(table, v.toLowerCase()) ? table[v.toLowerCase()] : undefined;
    if (hit === undefined) {
      this.bad(name, v, `is not one of ${accepted}`);
      return fallback;
    }
    return hit;
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.str(name);
    if (v === undefined) return fallback;
    const lower = v.toLowerCase();
    if (TRUE_WORDS.has(lower)) return true;
    if (FALSE_WORDS.has(lower)) return false;
    this.bad(name, v, "is not a boolean (true/false, 1/0, yes/no, on/off)");
    return fallback;
  }

  /** A decimal number of seconds (or count) with bounds; no exponents, signs or units. */
  num(
    name: string,
    fallback: number,
    rule: { integer?: boolean; allowZero?: boolean; max?: number },
  ): number {
    const v = this.str(name);
    if (v === undefined) return fallback;
    const syntax = rule.integer ? INTEGER : DECIMAL;
    const n = Number(v);
    const what = rule.integer
      ? `an integer ${rule.allowZero ? ">= 0" : "> 0"}`
      : `a ${rule.allowZero ? "non-negative" : "positive"} number (e.g. 5 or 0.5)`;
    const tooBig = rule.max !== undefined && n > rule.max;
    if (!syntax.test(v) || !Number.isFinite(n) || (!rule.allowZero && n === 0) || tooBig) {
      this.bad(name, v, `is not ${what}${rule.max !== undefined ? ` <= ${rule.max}` : ""}`);
      return fallback;
    }
    return n;
  }

  /** A comma list, entries trimmed, empty entries dropped. */
  list(name: string): string[] {
    return (this.str(name) ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  }
}

function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && !(prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix))) return false;
  return name.length <= 63 && QUALIFIED_NAME.test(name);
}

function isLabelValue(value: string): boolean {
  return value.length <= 63 && QUALIFIED_NAME.test(value);
}

function isNamespace(name: string): boolean {
  return name.length <= 63 && DNS_LABEL.test(name);
}

function isObjectName(name: string): boolean {
  return name.length <= 253 && DNS_SUBDOMAIN.test(name);
}

/**
 * Reads the sidecar's configuration from `env`. Pure: files named by `*_FILE` variables are
 * only recorded (they are read at each use, since mounted Secrets rotate), and `Deno.cwd()` is
 * consulted only when a relative path needs it and `opts.cwd` is not given.
 *
 * @example
 * ```ts
 * import { parseEnv } from "./env.ts";
 * const r = parseEnv({ FOLDER: "/tmp/out", LABEL: "grafana_dashboard", METHOD: "poll" });
 * if (r.ok) console.assert(r.config.method === "list");
 * else console.error(r.errors.join("\n"));
 * ```
 */
export function parseEnv(
  env: Record<string, string | undefined>,
  opts: ParseEnvOptions = {},
): EnvParseResult {
  const r = new Reader(env);
  let cwd = opts.cwd;
  const abs = (path: string): string =>
    isAbsolute(path) ? resolve(path) : resolve(cwd ??= Deno.cwd(), path);

  const method = r.enumOf(
    "METHOD",
    METHODS,
    "watch",
    "watch, list, sleep (aliases: once = sleep, poll = list)",
  );

  let namespaces: string[] | "ALL" = "ALL";
  const nsList = r.list("NAMESPACE");
  if (nsList.some((n) => n.toUpperCase() === "ALL")) {
    if (nsList.length > 1) {
      r.warnings.push(
        `NAMESPACE=${
          JSON.stringify(r.str("NAMESPACE"))
        } lists ALL with other namespaces: watching all namespaces`,
      );
    }
  } else if (nsList.length > 0) {
    for (const n of nsList) {
      if (!isNamespace(n)) {
        r.errors.push(
          `NAMESPACE entry ${JSON.stringify(n)} is not a namespace name (${DNS_LABEL_RULE})`,
        );
      }
    }
    namespaces = [...new Set(nsList)];
  }

  const folderRaw = r.raw("FOLDER");
  if (folderRaw === undefined) r.errors.push("FOLDER is required: the folder files are written to");

  const label = r.str("LABEL");
  if (label === undefined) {
    r.errors.push("LABEL is required: the label key that selects ConfigMaps and Secrets");
  } else if (!isLabelKey(label)) {
    r.bad("LABEL", label, `is not a label key (${LABEL_KEY_RULE})`);
  }
  const labelValue = r.str("LABEL_VALUE");
  if (labelValue !== undefined && !isLabelValue(labelValue)) {
    r.bad("LABEL_VALUE", labelValue, `is not a label value (${LABEL_VALUE_RULE})`);
  }

  // Copied: the table's arrays are shared between calls.
  const resources: ResourceKind[] = [
    ...r.enumOf<readonly ResourceKind[]>(
      "RESOURCE",
      RESOURCES,
      ["configmap"],
      "configmap, secret, both (plurals configmaps, secrets accepted)",
    ),
  ];

  const knownWriters = opts.knownWriters ?? BUILTIN_WRITERS;
  const writers: string[] = [];
  for (const w of r.list("WRITERS").map((w) => w.toLowerCase())) {
    if (!knownWriters.includes(w)) {
      r.errors.push(`WRITERS entry ${JSON.stringify(w)} is not one of ${knownWriters.join(", ")}`);
    } else if (writers.includes(w)) {
      r.warnings.push(`WRITERS lists ${JSON.stringify(w)} more than once: using it once`);
    } else {
      writers.push(w);
    }
  }
  if (r.list("WRITERS").length === 0) writers.push("json-file");

  const http = readHttp(r, abs);

  const uniqueFilenames = r.bool("UNIQUE_FILENAMES", false);
  const folderAnnotation = r.str("FOLDER_ANNOTATION") ?? "k8s-sidecar-target-directory";
  if (!isLabelKey(folderAnnotation)) {
    r.bad("FOLDER_ANNOTATION", folderAnnotation, `is not an annotation key (${LABEL_KEY_RULE})`);
  }
  const folderAnnotationRoots: string[] = [];
  for (const root of r.list("FOLDER_ANNOTATION_ROOTS")) {
    if (!isAbsolute(root)) {
      r.errors.push(
        `FOLDER_ANNOTATION_ROOTS entry ${
          JSON.stringify(root)
        } is not an absolute path (e.g. /var/lib/rules)`,
      );
    } else {
      folderAnnotationRoots.push(resolve(root));
    }
  }

  const resourceNames = readResourceNames(r, resources);
  if (namespaces !== "ALL") {
    for (const f of resourceNames) {
      if (f.namespace !== undefined && !namespaces.includes(f.namespace)) {
        r.warnings.push(
          `RESOURCE_NAME names namespace ${
            JSON.stringify(f.namespace)
          }, which NAMESPACE does not include: it never matches`,
        );
      }
    }
  }

  const script = r.raw("SCRIPT");
  const ignoreAlreadyProcessed = r.bool("IGNORE_ALREADY_PROCESSED", false);
  const defaultFileMode = readFileMode(r);

  const sleepTime = r.num("SLEEP_TIME", 60, {});
  const watchServerTimeout = r.num("WATCH_SERVER_TIMEOUT", 60, {});
  const watchClientTimeout = r.num("WATCH_CLIENT_TIMEOUT", 66, {});
  const errorThrottleSleep = r.num("ERROR_THROTTLE_SLEEP", 5, {});
  if (watchClientTimeout <= watchServerTimeout) {
    r.warnings.push(
      `WATCH_CLIENT_TIMEOUT=${watchClientTimeout} is not above WATCH_SERVER_TIMEOUT=${watchServerTimeout}: ` +
        "healthy watches that the server ends on time may be reported as stalled",
    );
  }

  const kubeconfig = r.raw("KUBECONFIG");
  const skipTlsVerify = r.bool("SKIP_TLS_VERIFY", false);
  const healthHost = r.str("HEALTH_HOST") ?? "0.0.0.0";
  const healthPort = r.num("HEALTH_PORT", 8080, { integer: true, allowZero: true, max: 65535 });

  const logLevel = r.enumOf(
    "LOG_LEVEL",
    LOG_LEVELS,
    "INFO",
    "DEBUG, INFO, WARN, ERROR (aliases: WARNING = WARN, CRITICAL = ERROR)",
  );
  const logFormat = r.enumOf("LOG_FORMAT", LOG_FORMATS, "json", "json, logfmt, text");

  if (method === "sleep" && http?.skipInit) {
    r.warnings.push(
      "REQ_SKIP_INIT is true with METHOD=sleep: the only sync is the initial one, so nothing is notified",
    );
  }

  if (r.errors.length > 0 || folderRaw === undefined || label === undefined) {
    return { ok: false, errors: r.errors };
  }
  const config: Config = {
    method,
    namespaces,
    folder: abs(folderRaw),
    label,
    labelValue,
    labelSelector: labelValue === undefined ? label : `${label}=${labelValue}`,
    resources,
    writers,
    http,
    uniqueFilenames,
    folderAnnotation,
    folderAnnotationRoots,
    resourceNames,
    script,
    defaultFileMode,
    ignoreAlreadyProcessed,
    sleepTime,
    watchServerTimeout,
    watchClientTimeout,
    errorThrottleSleep,
    kubeconfig,
    skipTlsVerify,
    healthHost,
    healthPort,
    logLevel,
    logFormat,
  };
  return { ok: true, config, warnings: r.warnings };
}

function readHttp(r: Reader, abs: (path: string) => string): HttpBasicOptions | undefined {
  const url = r.str("REQ_URL");
  if (url === undefined) {
    const ignored = HTTP_VARS.filter((name) => r.raw(name) !== undefined);
    if (ignored.length > 0) {
      r.warnings.push(`${ignored.join(", ")} set without REQ_URL: ignored (no HTTP notification)`);
    }
    return undefined;
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // reported below
  }
  if (parsed === undefined || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
    // The URL may carry a password in its userinfo.
    r.bad("REQ_URL", redactUrl(url), "is not an http:// or https:// URL");
  }

  const method = r.enumOf<"GET" | "POST">(
    "REQ_METHOD",
    { get: "GET", post: "POST" },
    "GET",
    "GET, POST",
  );
  const payload = r.raw("REQ_PAYLOAD");
  if (payload !== undefined && method === "GET") {
    r.warnings.push("REQ_PAYLOAD is set but REQ_METHOD is GET: the payload is only sent with POST");
  }

  // Values of credential variables are never echoed, not even the user name.
  const username = r.raw("REQ_USERNAME");
  const password = r.raw("REQ_PASSWORD");
  const usernameFile = r.raw("REQ_USERNAME_FILE");
  const passwordFile = r.raw("REQ_PASSWORD_FILE");
  if (username !== undefined && usernameFile !== undefined) {
    r.errors.push("REQ_USERNAME and REQ_USERNAME_FILE are both set: set only one");
  }
  if (password !== undefined && passwordFile !== undefined) {
    r.errors.push("REQ_PASSWORD and REQ_PASSWORD_FILE are both set: set only one");
  }
  const hasUser = username !== undefined || usernameFile !== undefined;
  const hasPassword = password !== undefined || passwordFile !== undefined;
  if (hasUser && !hasPassword) {
    r.errors.push(
      "REQ_USERNAME(_FILE) is set without REQ_PASSWORD(_FILE): basic auth needs both",
    );
  } else if (hasPassword && !hasUser) {
    r.errors.push(
      "REQ_PASSWORD(_FILE) is set without REQ_USERNAME(_FILE): basic auth needs both",
    );
  }

  const skipInit = r.bool("REQ_SKIP_INIT", false);
  const timeout = r.num("REQ_TIMEOUT", 10, {});
  const retryTotal = r.num("REQ_RETRY_TOTAL", 5, { integer: true, allowZero: true });
  const backoffFactor = r.num("REQ_RETRY_BACKOFF_FACTOR", 1.1, { allowZero: true });
  const enable5xx = r.bool("ENABLE_5XX", false);
  const skipTlsVerify = r.bool("REQ_SKIP_TLS_VERIFY", false);

  return {
    url,
    method,
    payload,
    username,
    password,
    usernameFile: usernameFile === undefined ? undefined : abs(usernameFile),
    passwordFile: passwordFile === undefined ? undefined : abs(passwordFile),
    skipInit,
    timeoutMs: Math.round(timeout * 1000),
    retryTotal,
    backoffFactor,
    enable5xx,
    skipTlsVerify,
  };
}

function readResourceNames(r: Reader, resources: readonly ResourceKind[]): ResourceNameFilter[] {
  const out: ResourceNameFilter[] = [];
  for (const entry of r.list("RESOURCE_NAME")) {
    const parts = entry.split("/").map((p) => p.trim());
    const shown = `RESOURCE_NAME entry ${JSON.stringify(entry)}`;
    if (parts.length > 3 || parts.some((p) => p === "")) {
      r.errors.push(`${shown} is not name, kind/name or namespace/kind/name`);
      continue;
    }
    const name = parts[parts.length - 1] ?? "";
    const kindWord = parts.length >= 2 ? parts[parts.length - 2] : undefined;
    const namespace = parts.length === 3 ? parts[0] : undefined;
    let ok = true;
    let kind: ResourceKind | undefined;
    if (kindWord !== undefined) {
      const lower = kindWord.toLowerCase();
      kind = Object.hasOwn(KINDS, lower) ? KINDS[lower] : undefined;
      if (kind === undefined) {
        r.errors.push(
          `${shown} has kind ${JSON.stringify(kindWord)}, not one of configmap, secret (alias: cm)`,
        );
        ok = false;
      } else if (!resources.includes(kind)) {
        r.errors.push(
          `${shown} names a ${kind} but RESOURCE selects only ${
            resources.join(", ")
          }: set RESOURCE=both or ${kind}`,
        );
        ok = false;
      }
    }
    if (namespace !== undefined && !isNamespace(namespace)) {
      r.errors.push(
        `${shown} has namespace ${
          JSON.stringify(namespace)
        }, not a namespace name (${DNS_LABEL_RULE})`,
      );
      ok = false;
    }
    if (!isObjectName(name)) {
      r.errors.push(
        `${shown} has name ${JSON.stringify(name)}, not an object name (${DNS_SUBDOMAIN_RULE})`,
      );
      ok = false;
    }
    if (ok) out.push({ namespace, kind, name });
  }
  return out;
}

function readFileMode(r: Reader): number | undefined {
  const v = r.str("DEFAULT_FILE_MODE");
  if (v === undefined) return undefined;
  const m = /^(?:0o)?([0-7]+)$/i.exec(v);
  const mode = m?.[1] === undefined ? NaN : parseInt(m[1], 8);
  if (!(mode <= 0o777)) {
    r.bad("DEFAULT_FILE_MODE", v, "is not an octal file mode up to 777 (e.g. 644, 0644 or 0o644)");
    return undefined;
  }
  if ((mode & 0o400) === 0) {
    r.warnings.push(
      `DEFAULT_FILE_MODE=${JSON.stringify(v)} leaves files unreadable by their owner`,
    );
  }
  return mode;
}
