/**
 * The sidecar's resolved configuration, as built from the environment (see `env.ts`).
 *
 * @module
 */
import type { ResourceKind } from "../model.ts";

/** Sync mode: `watch` (list then watch), `list` (relist every `sleepTime`), `sleep` (one sync, exit). */
export type Method = "watch" | "list" | "sleep";

/** Log levels, lowest first. */
export type LogLevel = "DEBUG" | "INFO" | "WARN" | "ERROR";

/** Log line formats. */
export type LogFormat = "json" | "logfmt" | "text";

/** One `RESOURCE_NAME` entry: `name`, `kind/name` or `namespace/kind/name`. */
export interface ResourceNameFilter {
  namespace?: string | undefined;
  kind?: ResourceKind | undefined;
  name: string;
}

/** Options of the `http-basic` notifier, from the `REQ_*` variables. */
export interface HttpBasicOptions {
  url: string;
  method: "GET" | "POST";
  /** Body for POST (`REQ_PAYLOAD`); sent as is, with a JSON content type when it parses as JSON. */
  payload?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  /** Files re-read on every call (`REQ_USERNAME_FILE`, `REQ_PASSWORD_FILE`). */
  usernameFile?: string | undefined;
  passwordFile?: string | undefined;
  skipInit: boolean;
  /** Per-request timeout (`REQ_TIMEOUT`, seconds in the environment). */
  timeoutMs: number;
  /** Retries after the first attempt (`REQ_RETRY_TOTAL`). */
  retryTotal: number;
  /** Backoff factor in seconds (`REQ_RETRY_BACKOFF_FACTOR`): delay n = factor * 2^(n-1). */
  backoffFactor: number;
  /** Also retry 5xx answers (`ENABLE_5XX`). */
  enable5xx: boolean;
  /** `REQ_SKIP_TLS_VERIFY`. */
  skipTlsVerify: boolean;
}

/** Everything the sidecar needs to run. */
export interface Config {
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
  uniqueFilenames: boolean;
  folderAnnotation: string;
  /** Absolute roots outside `folder` that annotation values may point into. */
  folderAnnotationRoots: string[];
  resourceNames: ResourceNameFilter[];
  script?: string | undefined;
  /** Mode for written files; Secrets default to 0o600 when unset. */
  defaultFileMode?: number | undefined;
  ignoreAlreadyProcessed: boolean;
  /** Seconds. */
  sleepTime: number;
  watchServerTimeout: number;
  watchClientTimeout: number;
  errorThrottleSleep: number;
  kubeconfig?: string | undefined;
  skipTlsVerify: boolean;
  healthHost: string;
  healthPort: number;
  logLevel: LogLevel;
  logFormat: LogFormat;
}
