/**
 * The `REQ_*` variables, turned into the `http-basic` notifier's options and into the settings
 * of `.url` downloads. Defaults come from the plugin (`plugins/http_basic/options.ts`), so they
 * exist once.
 *
 * - Without `REQ_URL` there is no notifier, and (this project's meaning) `.url` downloads use the
 *   defaults and no credentials; the `REQ_*` variables that were set are named in a warning.
 *   Under `COMPAT=kiwigrid` downloads use the `REQ_*` timings and credentials anyway, as
 *   kiwigrid does.
 * - Credentials only ever go to `REQ_URL`'s origin and the origins of `REQ_AUTH_ORIGINS`.
 *
 * @module
 */
import {
  HTTP_BASIC_DEFAULTS,
  type HttpBasicOptions,
  KIWIGRID_RETRY_STATUSES,
} from "../../plugins/http_basic/options.ts";
import type { EnvReader } from "./declare.ts";
import type { DownloadAuth, DownloadOptions, Method } from "./types.ts";
import { VARS } from "./vars.ts";

/** Only the notifier uses these. */
const NOTIFY_ONLY = [VARS.REQ_METHOD, VARS.REQ_PAYLOAD, VARS.REQ_SKIP_INIT];
/** The notifier and `.url` downloads use these. */
const SHARED = [
  VARS.REQ_USERNAME,
  VARS.REQ_PASSWORD,
  VARS.REQ_USERNAME_FILE,
  VARS.REQ_PASSWORD_FILE,
  VARS.REQ_BASIC_AUTH_ENCODING,
  VARS.REQ_AUTH_ORIGINS,
  VARS.REQ_TIMEOUT,
  VARS.REQ_RETRY_TOTAL,
  VARS.REQ_RETRY_BACKOFF_FACTOR,
  VARS.ENABLE_5XX,
  VARS.REQ_SKIP_TLS_VERIFY,
];

const ALL_5XX = Array.from({ length: 100 }, (_, i) => 500 + i);

/** What {@linkcode readRequestVars} returns. */
export interface RequestSettings {
  http: HttpBasicOptions | undefined;
  downloads: DownloadOptions;
}

/**
 * Reads every `REQ_*` variable (and `ENABLE_5XX`) with `r`; `method` is the sync method already
 * read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EnvReader } from "./declare.ts";
 * import { readRequestVars } from "./req_env.ts";
 * const r = new EnvReader({ REQ_URL: "http://127.0.0.1:3000/reload", REQ_TIMEOUT: "2" }, {});
 * const { http, downloads } = readRequestVars(r, "watch");
 * assert(http?.timeoutMs === 2000 && downloads.timeoutMs === 2000);
 * ```
 */
export function readRequestVars(r: EnvReader, method: Method): RequestSettings {
  const compat = r.ctx.compat;
  const url = r.get(VARS.REQ_URL);
  const reqMethod = r.get(VARS.REQ_METHOD);
  const payload = r.get(VARS.REQ_PAYLOAD);
  const skipInitSet = r.get(VARS.REQ_SKIP_INIT);
  const timeout = r.get(VARS.REQ_TIMEOUT);
  const retryTotal = r.get(VARS.REQ_RETRY_TOTAL);
  const backoffFactor = r.get(VARS.REQ_RETRY_BACKOFF_FACTOR);
  const enable5xx = r.get(VARS.ENABLE_5XX);
  const skipTlsVerify = r.get(VARS.REQ_SKIP_TLS_VERIFY);
  const encoding = r.get(VARS.REQ_BASIC_AUTH_ENCODING);
  const authOrigins = r.get(VARS.REQ_AUTH_ORIGINS);
  r.get(VARS.REQ_RETRY_CONNECT);
  r.get(VARS.REQ_RETRY_READ);
  // Without REQ_URL, this project's downloads keep their defaults (as before COMPAT existed);
  // the variables are still checked one by one, but not as a pair.
  const applies = url !== undefined || compat;
  const creds = applies ? readCredentials(r) : undefined;
  if (url === undefined) {
    const ignored = (compat ? NOTIFY_ONLY : [...NOTIFY_ONLY, ...SHARED]).filter((d) => r.isSet(d));
    if (ignored.length > 0) {
      r.ctx.warn(
        `${
          ignored.map((d) => d.name).join(", ")
        } set without REQ_URL: ignored (no HTTP notification)`,
      );
    }
  }

  const retryStatuses = compat
    ? (enable5xx ? [] : [...KIWIGRID_RETRY_STATUSES])
    : (enable5xx ? ALL_5XX : []);
  const origins = [...new Set([...(url ? [new URL(url).origin] : []), ...authOrigins])];
  const downloads: DownloadOptions = applies
    ? {
      timeoutMs: Math.round(timeout * 1000),
      retries: retryTotal,
      backoffMs: backoffFactor * 1000,
      retryStatuses,
      skipTlsVerify: compat && skipTlsVerify,
      auth: creds ? { origins, ...creds, encoding } : undefined,
    }
    : {
      timeoutMs: HTTP_BASIC_DEFAULTS.timeoutMs,
      retries: HTTP_BASIC_DEFAULTS.retryTotal,
      backoffMs: HTTP_BASIC_DEFAULTS.backoffFactor * 1000,
      retryStatuses: [],
      skipTlsVerify: false,
      auth: undefined,
    };
  if (url === undefined) return { http: undefined, downloads };

  let skipInit = skipInitSet;
  if (method === "sleep" && skipInit) {
    if (compat) {
      skipInit = false;
      r.ctx.warn(
        "REQ_SKIP_INIT is ignored with METHOD=LIST under COMPAT=kiwigrid: kiwigrid notifies after its one sync",
      );
    } else {
      r.ctx.warn(
        "REQ_SKIP_INIT is true with METHOD=sleep: the only sync is the initial one, so nothing is notified",
      );
    }
  }
  if (payload !== undefined && reqMethod === "GET") {
    r.ctx.warn("REQ_PAYLOAD is set but REQ_METHOD is GET: the payload is only sent with POST");
  }
  const http: HttpBasicOptions = {
    url,
    method: reqMethod,
    payload: compat ? kiwigridPayload(payload) : payload,
    username: creds?.username,
    password: creds?.password,
    usernameFile: creds?.usernameFile,
    passwordFile: creds?.passwordFile,
    authEncoding: encoding,
    skipInit,
    timeoutMs: Math.round(timeout * 1000),
    retryTotal,
    backoffFactor,
    enable5xx,
    ...(compat ? { retryStatuses } : {}),
    skipTlsVerify,
  };
  return { http, downloads };
}

/**
 * kiwigrid posts `json=payload`: a payload that parses is sent as that JSON, one that does not as
 * a JSON string, and none as no body at all.
 */
function kiwigridPayload(payload: string | undefined): string {
  if (payload === undefined) return "";
  try {
    JSON.parse(payload);
    return payload;
  } catch {
    return JSON.stringify(payload);
  }
}

/**
 * The basic-auth credentials, or undefined. Values are never echoed, not even the user name.
 * This project refuses a variable together with its `_FILE` form, and one half of the pair;
 * under `COMPAT=kiwigrid` the file wins and one half sends no credentials, as kiwigrid does.
 */
function readCredentials(r: EnvReader): Omit<DownloadAuth, "origins" | "encoding"> | undefined {
  const compat = r.ctx.compat;
  let username = r.get(VARS.REQ_USERNAME);
  let password = r.get(VARS.REQ_PASSWORD);
  const usernameFile = r.get(VARS.REQ_USERNAME_FILE);
  const passwordFile = r.get(VARS.REQ_PASSWORD_FILE);
  for (
    const [plain, file, drop] of [
      [VARS.REQ_USERNAME, VARS.REQ_USERNAME_FILE, () => (username = undefined)],
      [VARS.REQ_PASSWORD, VARS.REQ_PASSWORD_FILE, () => (password = undefined)],
    ] as const
  ) {
    if (!r.isSet(plain) || !r.isSet(file)) continue;
    if (compat) {
      drop();
      r.ctx.warn(
        `${plain.name} and ${file.name} are both set: the file wins (COMPAT=kiwigrid, as kiwigrid does)`,
      );
    } else {
      r.ctx.error(`${plain.name} and ${file.name} are both set: set only one`);
    }
  }
  const hasUser = username !== undefined || usernameFile !== undefined;
  const hasPassword = password !== undefined || passwordFile !== undefined;
  if (hasUser !== hasPassword) {
    const [given, missing] = hasUser
      ? ["REQ_USERNAME(_FILE)", "REQ_PASSWORD(_FILE)"]
      : ["REQ_PASSWORD(_FILE)", "REQ_USERNAME(_FILE)"];
    if (!compat) {
      r.ctx.error(`${given} is set without ${missing}: basic auth needs both`);
    } else {
      r.ctx.warn(
        `${given} is set without ${missing}: no credentials are sent (COMPAT=kiwigrid, as kiwigrid does)`,
      );
    }
    return undefined;
  }
  if (!hasUser) return undefined;
  return { username, password, usernameFile, passwordFile };
}
