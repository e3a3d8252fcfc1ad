/**
 * Builds the sidecar's {@linkcode Config} from environment variables, with the names used by the
 * seed and by kiwigrid/k8s-sidecar so existing Pod specs keep working. Each variable is declared
 * once in `vars.ts`; this module adds the rules that join several of them, and `COMPAT=kiwigrid`.
 *
 * Every problem is reported at once, because a Pod that fails on one variable per restart costs
 * the user one `CrashLoopBackOff` cycle per typo. Each message names the variable, the rejected
 * value (never a credential) and what would have been accepted.
 *
 * An empty value counts as unset: Pod specs and Helm charts often render `value: ""` for options
 * the user left alone.
 *
 * @module
 */
import { join } from "../util/posix_path.ts";
import { EnvReader } from "./declare.ts";
import { DNS_LABEL_RULE, isNamespace } from "./parsers.ts";
import { readRequestVars } from "./req_env.ts";
import type { Config, ResourceNameFilter } from "./types.ts";
import { VARS } from "./vars.ts";

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
  /**
   * Reads a small file (the service account's `namespace`, needed only under `COMPAT=kiwigrid`
   * without `NAMESPACE`); defaults to `Deno.readTextFileSync`.
   */
  readFile?: ((path: string) => string) | undefined;
}

/**
 * The built-in writers `WRITERS` accepts by default.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BUILTIN_WRITERS } from "./env.ts";
 * assert(BUILTIN_WRITERS.includes("json-file"));
 * ```
 */
export const BUILTIN_WRITERS: readonly string[] = [
  "json-file",
  "yaml-file",
  "txt-file",
  "raw-file",
];

/**
 * Whether `env` sets `COMPAT=kiwigrid` (an invalid `COMPAT` counts as unset here; `parseEnv`
 * reports it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compatFrom } from "./env.ts";
 * assert(compatFrom({ COMPAT: "Kiwigrid" }) && !compatFrom({}));
 * ```
 */
export function compatFrom(env: Record<string, string | undefined>): boolean {
  const probe = new EnvReader(env, {});
  return probe.get(VARS.COMPAT) !== undefined;
}

/**
 * Reads the sidecar's configuration from `env`. Pure apart from `opts.readFile` (the pod's
 * namespace under `COMPAT=kiwigrid`): files named by `*_FILE` variables are only recorded (they
 * are read at each use, since mounted Secrets rotate), and `Deno.cwd()` is consulted only when a
 * relative path needs it and `opts.cwd` is not given.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseEnv } from "./env.ts";
 * const r = parseEnv({ FOLDER: "/tmp/out", LABEL: "grafana_dashboard", METHOD: "poll" });
 * if (r.ok) assert(r.config.method === "list");
 * else console.error(r.errors.join("\n"));
 * ```
 */
export function parseEnv(
  env: Record<string, string | undefined>,
  opts: ParseEnvOptions = {},
): EnvParseResult {
  // COMPAT changes how the others read, so it is read first (and again below, for its errors).
  const compat = compatFrom(env);
  let saDir: string | undefined;
  const r: EnvReader = new EnvReader(env, {
    compat,
    ...(opts.cwd === undefined ? {} : { cwd: () => opts.cwd! }),
    knownWriters: opts.knownWriters ?? BUILTIN_WRITERS,
    ownNamespace: () => ownNamespace(r, saDir ??= r.get(VARS.GSIDECAR_SERVICE_ACCOUNT_DIR), opts),
  });

  const compatValue = r.get(VARS.COMPAT);
  const method = r.get(VARS.METHOD);
  const namespaceSelector = r.get(VARS.NAMESPACE_SELECTOR);
  // With a namespace selector, an unset NAMESPACE means every namespace the selector picks (also
  // under COMPAT, where it would otherwise be the pod's own): the selector is the choice made.
  const namespaces = namespaceSelector !== undefined && r.value(VARS.NAMESPACE) === undefined
    ? "ALL"
    : r.get(VARS.NAMESPACE);
  const folder = r.get(VARS.FOLDER);
  const label = r.get(VARS.LABEL);
  const labelValue = r.get(VARS.LABEL_VALUE);
  // Copied: the declaration's default is shared between calls.
  const resources = [...r.get(VARS.RESOURCE)];
  const writers = r.get(VARS.WRITERS);
  r.get(VARS.CONFIG);
  const { http, downloads } = readRequestVars(r, method);
  const uniqueFilenames = r.get(VARS.UNIQUE_FILENAMES);
  const folderAnnotation = r.get(VARS.FOLDER_ANNOTATION);
  const folderAnnotationRoots = r.get(VARS.FOLDER_ANNOTATION_ROOTS);

  let resourceNames = checkResourceNames(r, r.get(VARS.RESOURCE_NAME), resources, namespaces);
  if (compat && namespaces === "ALL" && resourceNames.length > 0) {
    r.ctx.warn(
      "RESOURCE_NAME is ignored with NAMESPACE=ALL under COMPAT=kiwigrid, as kiwigrid ignores it: " +
        "every labelled object is selected",
    );
    resourceNames = [];
  }
  const resourceNamesIgnoreLabel = compat && resourceNames.length > 0;

  const script = r.get(VARS.SCRIPT);
  const ignoreAlreadyProcessed = r.get(VARS.IGNORE_ALREADY_PROCESSED);
  const defaultFileMode = r.get(VARS.DEFAULT_FILE_MODE);
  if (defaultFileMode !== undefined && (defaultFileMode & 0o400) === 0) {
    r.ctx.warn(
      `DEFAULT_FILE_MODE=${
        JSON.stringify(r.value(VARS.DEFAULT_FILE_MODE))
      } leaves files unreadable by their owner`,
    );
  }
  const stateDir = r.get(VARS.STATE_DIR);
  if (stateDir !== undefined && folder !== undefined && stateDir.startsWith(`${folder}/`)) {
    r.ctx.warn(
      `STATE_DIR=${
        JSON.stringify(stateDir)
      } is inside FOLDER: an application that loads every file below FOLDER still sees the record`,
    );
  }
  const atomicSet = r.get(VARS.ATOMIC_SET);
  const gunzip = r.get(VARS.GUNZIP);
  const maxDecompressedSize = r.get(VARS.MAX_DECOMPRESSED_SIZE);

  const sleepTime = r.get(VARS.SLEEP_TIME);
  const watchServerTimeout = r.get(VARS.WATCH_SERVER_TIMEOUT);
  const watchClientTimeout = r.get(VARS.WATCH_CLIENT_TIMEOUT);
  const errorThrottleSleep = r.get(VARS.ERROR_THROTTLE_SLEEP);
  if (watchClientTimeout <= watchServerTimeout) {
    r.ctx.warn(
      `WATCH_CLIENT_TIMEOUT=${watchClientTimeout} is not above WATCH_SERVER_TIMEOUT=${watchServerTimeout}: ` +
        "healthy watches that the server ends on time may be reported as stalled",
    );
  }

  const kubeconfig = r.get(VARS.KUBECONFIG);
  const skipTlsVerify = r.get(VARS.SKIP_TLS_VERIFY);
  const disableX509Strict = r.get(VARS.DISABLE_X509_STRICT_VERIFICATION);
  const serviceAccountDir = saDir ?? r.get(VARS.GSIDECAR_SERVICE_ACCOUNT_DIR);
  const healthHost = r.get(VARS.HEALTH_HOST);
  const healthPort = r.get(VARS.HEALTH_PORT);
  const logLevel = r.get(VARS.LOG_LEVEL);
  const logFormat = r.get(VARS.LOG_FORMAT);
  r.get(VARS.LOG_TZ);
  r.get(VARS.LOG_CONFIG);

  if (r.errors.length > 0 || folder === undefined || label === undefined) {
    return { ok: false, errors: r.errors };
  }
  const config: Config = {
    compat: compatValue,
    method,
    namespaces,
    folder,
    label,
    labelValue,
    labelSelector: labelValue === undefined ? label : `${label}=${labelValue}`,
    resources,
    writers,
    http,
    downloads,
    uniqueFilenames,
    folderAnnotation,
    folderAnnotationRoots,
    resourceNames,
    resourceNamesIgnoreLabel,
    script,
    defaultFileMode,
    secretFileMode: compat ? undefined : 0o600,
    stateDir,
    namespaceSelector,
    atomicSet,
    gunzip,
    maxDecompressedSize,
    ignoreAlreadyProcessed,
    sleepTime,
    watchServerTimeout,
    watchClientTimeout,
    errorThrottleSleep,
    kubeconfig,
    skipTlsVerify,
    disableX509Strict,
    serviceAccountDir,
    healthHost,
    healthPort,
    healthzUntilReady: compat,
    logLevel,
    logFormat,
  };
  return { ok: true, config, warnings: r.warnings };
}

/** `RESOURCE_NAME` entries checked against `RESOURCE` and `NAMESPACE`. */
function checkResourceNames(
  r: EnvReader,
  filters: ResourceNameFilter[],
  resources: readonly string[],
  namespaces: string[] | "ALL",
): ResourceNameFilter[] {
  const out: ResourceNameFilter[] = [];
  for (const f of filters) {
    const shown = `RESOURCE_NAME entry ${
      JSON.stringify([f.namespace, f.kind, f.name].filter(Boolean).join("/"))
    }`;
    if (f.kind !== undefined && !resources.includes(f.kind)) {
      const why = `names a ${f.kind} but RESOURCE selects only ${resources.join(", ")}`;
      // kiwigrid skips such an entry; this project refuses it as a mistake.
      if (r.ctx.compat) r.ctx.warn(`${shown} ${why}: it never matches`);
      else r.ctx.error(`${shown} ${why}: set RESOURCE=both or ${f.kind}`);
      continue;
    }
    if (namespaces !== "ALL" && f.namespace !== undefined && !namespaces.includes(f.namespace)) {
      r.ctx.warn(
        `${shown} names namespace ${
          JSON.stringify(f.namespace)
        }, which NAMESPACE does not include: it never matches`,
      );
    }
    out.push(f);
  }
  return out;
}

function ownNamespace(
  r: EnvReader,
  saDir: string,
  opts: ParseEnvOptions,
): string | undefined {
  const file = join(saDir, "namespace");
  const fail = (why: string) => {
    r.ctx.error(
      `NAMESPACE is unset, which under COMPAT=kiwigrid means the pod's own namespace, but ${file} ${why}: ` +
        "set NAMESPACE (a comma list, or ALL)",
    );
    return undefined;
  };
  let text: string;
  try {
    text = (opts.readFile ?? Deno.readTextFileSync)(file);
  } catch (e) {
    return fail(`cannot be read (${e instanceof Error ? e.name : String(e)})`);
  }
  const ns = text.trim();
  if (!isNamespace(ns)) {
    return fail(`does not hold a namespace name (${DNS_LABEL_RULE})`);
  }
  return ns;
}
