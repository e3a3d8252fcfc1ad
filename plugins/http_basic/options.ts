/**
 * The `http-basic` notifier's options and their defaults, in one place: the plugin's schema
 * applies these defaults, and the `REQ_*` environment mapping (`src/config/req_env.ts`) shows
 * and uses the same constants. No imports, so configuration code may read it without loading
 * the plugin.
 *
 * @module
 */

/** Character encodings basic-auth credentials may be sent in (`REQ_BASIC_AUTH_ENCODING`). */
export type AuthEncoding = "utf-8" | "latin1" | "ascii";

/**
 * Options of the `http-basic` notifier after defaults are applied.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HTTP_BASIC_DEFAULTS, type HttpBasicOptions } from "./options.ts";
 * const options: HttpBasicOptions = { ...HTTP_BASIC_DEFAULTS, url: "http://127.0.0.1:3000/reload" };
 * assert(options.method === "GET");
 * ```
 */
export interface HttpBasicOptions {
  url: string;
  method: "GET" | "POST";
  /**
   * Body for POST (`REQ_PAYLOAD`); sent as is, with a JSON content type when it parses as JSON.
   * `""` sends no body at all. Unset: a JSON summary of the change set.
   */
  payload?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  /** Files re-read on every call (`REQ_USERNAME_FILE`, `REQ_PASSWORD_FILE`). */
  usernameFile?: string | undefined;
  passwordFile?: string | undefined;
  /** How user name and password are turned into bytes (`REQ_BASIC_AUTH_ENCODING`). */
  authEncoding: AuthEncoding;
  skipInit: boolean;
  /** Per-request timeout (`REQ_TIMEOUT`, seconds in the environment). */
  timeoutMs: number;
  /** Retries after the first attempt (`REQ_RETRY_TOTAL`). */
  retryTotal: number;
  /** Backoff factor in seconds (`REQ_RETRY_BACKOFF_FACTOR`): delay n = factor * 2^(n-1). */
  backoffFactor: number;
  /** Also retry 5xx answers (`ENABLE_5XX`). Ignored when `retryStatuses` is given. */
  enable5xx: boolean;
  /** Exactly the statuses that are retried; overrides `enable5xx` (kiwigrid: 500, 502, 503, 504). */
  retryStatuses?: number[] | undefined;
  /** `REQ_SKIP_TLS_VERIFY`. */
  skipTlsVerify: boolean;
}

/**
 * Defaults of every `http-basic` option that has one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HTTP_BASIC_DEFAULTS } from "./options.ts";
 * assert(HTTP_BASIC_DEFAULTS.timeoutMs === 10_000);
 * ```
 */
export const HTTP_BASIC_DEFAULTS = {
  method: "GET",
  authEncoding: "utf-8",
  skipInit: false,
  timeoutMs: 10_000,
  retryTotal: 5,
  backoffFactor: 1.1,
  enable5xx: false,
  skipTlsVerify: false,
} as const satisfies Partial<HttpBasicOptions>;

/**
 * The statuses kiwigrid/k8s-sidecar retries unless `ENABLE_5XX=true` (its urllib3
 * `status_forcelist`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KIWIGRID_RETRY_STATUSES } from "./options.ts";
 * assert(KIWIGRID_RETRY_STATUSES.includes(503));
 * ```
 */
export const KIWIGRID_RETRY_STATUSES: readonly number[] = [500, 502, 503, 504];

/**
 * Longest wait between two retries, whatever the backoff factor.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_RETRY_DELAY_MS } from "./options.ts";
 * assert(MAX_RETRY_DELAY_MS === 120_000);
 * ```
 */
export const MAX_RETRY_DELAY_MS = 120_000;

/**
 * Whether an answer with `status` is retried under `options`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isRetryStatus } from "./options.ts";
 * assert(isRetryStatus(503, { enable5xx: true }));
 * assert(!isRetryStatus(501, { enable5xx: false, retryStatuses: [500, 502, 503, 504] }));
 * ```
 */
export function isRetryStatus(
  status: number,
  options: { enable5xx: boolean; retryStatuses?: readonly number[] | undefined },
): boolean {
  if (options.retryStatuses !== undefined) return options.retryStatuses.includes(status);
  return options.enable5xx && status >= 500 && status <= 599;
}
