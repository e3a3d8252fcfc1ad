/**
 * The sidecar's resolved configuration, as built from the environment (see `env.ts`).
 *
 * @module
 */
import type { AuthEncoding, HttpBasicOptions } from "../../plugins/http_basic/options.ts";
import type { NameFilter, ResourceKind } from "../model.ts";

/** Sync mode: `watch` (list then watch), `list` (relist every `sleepTime`), `sleep` (one sync, exit). */
export type Method = "watch" | "list" | "sleep";

/** Log levels, lowest first. */
export type LogLevel = "DEBUG" | "INFO" | "WARN" | "ERROR";

/** Log line formats. */
export type LogFormat = "json" | "logfmt" | "text";

/** `COMPAT` values: whose defaults and meanings the variables take. */
export type Compat = "kiwigrid";

/** One `RESOURCE_NAME` entry: `name`, `kind/name` or `namespace/kind/name`. */
export type ResourceNameFilter = NameFilter;

/** Basic-auth credentials for `.url` downloads, and the origins they may be sent to. */
export interface DownloadAuth {
  /** `REQ_URL`'s origin and those of `REQ_AUTH_ORIGINS`, as `URL.origin` spells them. */
  origins: string[];
  username?: string | undefined;
  password?: string | undefined;
  /** Re-read on every download. */
  usernameFile?: string | undefined;
  passwordFile?: string | undefined;
  encoding: AuthEncoding;
}

/** How keys ending in `.url` are downloaded. */
export interface DownloadOptions {
  /** For one attempt, redirects and body included. */
  timeoutMs: number;
  /** Retries after the first attempt. */
  retries: number;
  /** Delay before retry n is `backoffMs * 2^(n-1)` (capped). */
  backoffMs: number;
  /** Answers with these statuses are retried (connection errors and timeouts always are). */
  retryStatuses: number[];
  /** Accept any server certificate (`REQ_SKIP_TLS_VERIFY` under `COMPAT=kiwigrid`). */
  skipTlsVerify: boolean;
  auth?: DownloadAuth | undefined;
}

/** Everything the sidecar needs to run. */
export interface Config {
  /** `COMPAT`: kiwigrid/k8s-sidecar's defaults and meanings; undefined for this project's own. */
  compat: Compat | undefined;
  method: Method;
  /** `"ALL"` for one cluster-wide scope. */
  namespaces: string[] | "ALL";
  /** Absolute target folder. */
  folder: string;
  label: string;
  labelValue?: string | undefined;
  /** `label` or `label=value`, as sent to the API server. */
  labelSelector: string;
  resources: ResourceKind[];
  /** Built-in writer names used without a config file. */
  writers: string[];
  /** The http-basic notifier; absent without `REQ_URL`. */
  http?: HttpBasicOptions | undefined;
  /** `.url` keys. */
  downloads: DownloadOptions;
  uniqueFilenames: boolean;
  folderAnnotation: string;
  /** Absolute roots outside `folder` that annotation values may point into. */
  folderAnnotationRoots: string[];
  resourceNames: ResourceNameFilter[];
  /**
   * kiwigrid's `RESOURCE_NAME`: in a namespace, the named objects are read by name whatever
   * their labels (and a kind no entry names falls back to the label). Otherwise the names narrow
   * the label selection.
   */
  resourceNamesIgnoreLabel: boolean;
  script?: string | undefined;
  /** Mode for every written file (`DEFAULT_FILE_MODE`). */
  defaultFileMode?: number | undefined;
  /** Mode for Secret files when `defaultFileMode` is unset: 0o600, or undefined (umask). */
  secretFileMode: number | undefined;
  /** Label selector on Namespace objects (`NAMESPACE_SELECTOR`): namespaces watched live. */
  namespaceSelector?: string | undefined;
  /** Absolute folder for the ownership record (`STATE_DIR`); undefined: inside `folder`. */
  stateDir?: string | undefined;
  /**
   * `ATOMIC_SET`: each folder's files live in a versioned directory behind a `..data` symlink that
   * is swapped once per change set.
   */
  atomicSet: boolean;
  /** Decompress `.gz` keys (`GUNZIP`), to at most `maxDecompressedSize` bytes. */
  gunzip: boolean;
  /** `MAX_DECOMPRESSED_SIZE`: bytes a `.gz` key may decompress to. */
  maxDecompressedSize: number;
  ignoreAlreadyProcessed: boolean;
  /** Seconds. */
  sleepTime: number;
  watchServerTimeout: number;
  watchClientTimeout: number;
  errorThrottleSleep: number;
  kubeconfig?: string | undefined;
  skipTlsVerify: boolean;
  /** `DISABLE_X509_STRICT_VERIFICATION`: accepted; see the README for what it does here. */
  disableX509Strict: boolean;
  /** Where the service-account token, CA and namespace are mounted. */
  serviceAccountDir: string;
  /** Undefined: dual-stack `::`, or `0.0.0.0` where IPv6 is unavailable. */
  healthHost?: string | undefined;
  healthPort: number;
  /** `/healthz` answers 503 until the initial sync is written (kiwigrid's meaning). */
  healthzUntilReady: boolean;
  logLevel: LogLevel;
  logFormat: LogFormat;
}
