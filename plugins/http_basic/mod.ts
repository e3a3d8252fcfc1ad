/**
 * The built-in `http-basic` notifier: tells the application over HTTP that files changed
 * (`REQ_URL`, `REQ_METHOD`, `REQ_PAYLOAD`, basic auth…), the way the original sidecar does.
 *
 * - `GET` or `POST` to `url`; `POST` sends `payload` as is (JSON content type when it parses as
 *   JSON; `""` sends no body), or by default `{"seq":…,"initial":…,"written":[…],"removed":[…]}`.
 * - Basic auth from `username`/`password`, or from `usernameFile`/`passwordFile`, re-read on every
 *   call so that rotated Secrets apply without a restart, encoded as `authEncoding` (UTF-8 by
 *   default; kiwigrid's Python sends latin1).
 * - Credentials only ever go to the origin of `url`: redirects are followed by hand (at most 5),
 *   and the `Authorization` header is dropped for any other origin.
 * - 2xx is success; connection errors and timeouts are retryable; 5xx is retryable only with
 *   `enable5xx` (or exactly the statuses of `retryStatuses`); anything else is not. Messages name
 *   the URL without userinfo, the status and the first 512 bytes of the answer's body (the
 *   server often says there why it refused), never a credential.
 *
 * @example
 * ```yaml
 * notifiers:
 *   - use: http-basic
 *     options:
 *       url: http://127.0.0.1:3000/api/admin/provisioning/dashboards/reload
 *       method: POST
 *       usernameFile: /etc/grafana-admin/user
 *       passwordFile: /etc/grafana-admin/password
 * ```
 *
 * @module
 */
import type { ChangeSet, WriteResult } from "../../src/plugin/mod.ts";
import { defineNotifier, type Notifier, NotifyError } from "../../src/plugin/mod.ts";
import * as s from "../../src/plugin/_schema.ts";
import {
  basicAuthorization,
  errorMessage,
  type HttpAnswer,
  HttpSendError,
  readSecretFile,
  redactSecrets,
  SecretFileError,
  sendHttp,
} from "../../src/plugin/http.ts";
import {
  HTTP_BASIC_DEFAULTS as D,
  type HttpBasicOptions,
  isRetryStatus,
  MAX_RETRY_DELAY_MS,
} from "./options.ts";

export { HTTP_BASIC_DEFAULTS, type HttpBasicOptions } from "./options.ts";

/** How much of a refusing answer's body goes into the error. */
const EXCERPT_BYTES = 512;

const schema = s.object({
  url: s.url(),
  method: s.enum(["GET", "POST"]).default(D.method),
  payload: s.string().optional(),
  username: s.string().optional(),
  password: s.string().optional(),
  usernameFile: s.string().min(1).optional(),
  passwordFile: s.string().min(1).optional(),
  authEncoding: s.enum(["utf-8", "latin1", "ascii"]).default(D.authEncoding),
  skipInit: s.boolean().default(D.skipInit),
  timeoutMs: s.number().int().positive().max(2_147_483_647).default(D.timeoutMs),
  retryTotal: s.number().int().min(0).default(D.retryTotal),
  backoffFactor: s.number().min(0).default(D.backoffFactor),
  enable5xx: s.boolean().default(D.enable5xx),
  retryStatuses: s.array(s.number().int().min(100).max(599)).optional(),
  skipTlsVerify: s.boolean().default(D.skipTlsVerify),
}).refine(
  (o) => o.username === undefined || o.usernameFile === undefined,
  "give username or usernameFile, not both",
  { path: ["usernameFile"] },
).refine(
  (o) => o.password === undefined || o.passwordFile === undefined,
  "give password or passwordFile, not both",
  { path: ["passwordFile"] },
);

/**
 * Options of the `http-basic` notifier as written in the configuration (defaults applied later).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { HttpBasicPluginOptions } from "./mod.ts";
 * const options: HttpBasicPluginOptions = { url: "http://127.0.0.1:3000/reload", method: "POST" };
 * assert(options.method === "POST");
 * ```
 */
export type HttpBasicPluginOptions = s.Input<typeof schema>;

/** `url` without userinfo, for messages and requests. */
function withoutUserinfo(url: URL): URL {
  const clean = new URL(url);
  clean.username = "";
  clean.password = "";
  return clean;
}

async function readCredentialFile(path: string, what: string): Promise<string> {
  try {
    return await readSecretFile(path);
  } catch (e) {
    // A mounted Secret may appear late or be mid-rotation: worth a retry. Name the file only.
    const why = e instanceof SecretFileError ? e.reason : String(e);
    throw new NotifyError(`cannot read ${what} file ${path}: ${why}`, { retryable: true });
  }
}

function body(options: HttpBasicOptions, changeSet: ChangeSet, result: WriteResult): {
  body: string;
  contentType: string;
} | undefined {
  if (options.payload === "") return undefined;
  if (options.payload === undefined) {
    return {
      body: JSON.stringify({
        seq: changeSet.seq,
        initial: changeSet.initial,
        written: result.written,
        removed: result.removed,
      }),
      contentType: "application/json",
    };
  }
  try {
    JSON.parse(options.payload);
    return { body: options.payload, contentType: "application/json" };
  } catch {
    return { body: options.payload, contentType: "text/plain; charset=utf-8" };
  }
}

/**
 * The `http-basic` notifier definition.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import httpBasic from "./mod.ts";
 * import { changeSetOf, receiver, startNotifier } from "../../src/testing/mod.ts";
 * await using grafana = receiver();
 * const passwordFile = await Deno.makeTempFile();
 * await Deno.writeTextFile(passwordFile, "s3cret\n");
 * await using n = await startNotifier(httpBasic, {
 *   url: `${grafana.url}/api/admin/provisioning/dashboards/reload`,
 *   method: "POST",
 *   username: "admin",
 *   passwordFile,
 * });
 * await n.notify(changeSetOf([], { seq: 1 }), {
 *   written: ["/config/a.json"],
 *   removed: [],
 *   rejected: [],
 * });
 * const [request] = grafana.received;
 * assert.equal(request?.authorization, `Basic ${btoa("admin:s3cret")}`);
 * assert.deepEqual(JSON.parse(request!.body).written, ["/config/a.json"]);
 * await Deno.remove(passwordFile);
 * ```
 */
export default defineNotifier<HttpBasicOptions>({
  name: "http-basic",
  version: "0.1.0",
  options: schema,
  create(options, ctx): Notifier {
    const given = new URL(options.url);
    const target = withoutUserinfo(given);
    const shown = target.href;
    // Userinfo in the URL is a fallback for the username/password options; it is never sent in
    // the URL itself, and never shown.
    const urlUser = given.username ? decodeURIComponent(given.username) : undefined;
    const urlPassword = given.password ? decodeURIComponent(given.password) : undefined;

    /** The header and the values an answer must not repeat into the log. */
    async function authorization(): Promise<{ header: string; secrets: string[] } | undefined> {
      const username = options.usernameFile !== undefined
        ? await readCredentialFile(options.usernameFile, "username")
        : options.username ?? urlUser;
      if (username === undefined) return undefined;
      const password = options.passwordFile !== undefined
        ? await readCredentialFile(options.passwordFile, "password")
        : options.password ?? urlPassword ?? "";
      let header: string;
      try {
        header = basicAuthorization(username, password, options.authEncoding);
      } catch (e) {
        throw new NotifyError(errorMessage(e), { retryable: false });
      }
      return { header, secrets: [password, header, header.slice("Basic ".length)] };
    }

    return {
      skipInitial: options.skipInit,
      retry: {
        retries: options.retryTotal,
        backoffMs: options.backoffFactor * 1000,
        maxDelayMs: MAX_RETRY_DELAY_MS,
      },
      async notify(changeSet, result) {
        const auth = await authorization();
        const payload = options.method === "POST" ? body(options, changeSet, result) : undefined;
        const secrets = auth?.secrets ?? [];
        const headers: Record<string, string> = { "user-agent": "k8s-gsidecar" };
        if (payload) headers["content-type"] = payload.contentType;
        let answer: HttpAnswer;
        try {
          answer = await sendHttp(target, {
            method: options.method,
            headers,
            body: payload?.body,
            credentials: auth === undefined ? undefined : { authorization: auth.header },
            timeoutMs: options.timeoutMs,
            signal: ctx.signal,
            skipTlsVerify: options.skipTlsVerify,
            excerptBytes: EXCERPT_BYTES,
          });
        } catch (e) {
          if (!(e instanceof HttpSendError)) throw e;
          throw e.transient
            ? new NotifyError(`${e.method} ${e.url.href} failed: ${e.message}`, { retryable: true })
            : new NotifyError(`${e.method} ${shown}: ${e.message}`, { retryable: false });
        }
        const { status, method, url } = answer;
        if (status >= 200 && status < 300) {
          ctx.logger.debug("notified", { url: shown, status, seq: changeSet.seq });
          return;
        }
        const where = url.href === shown ? shown : `${shown} (redirected to ${url.href})`;
        const retryable = isRetryStatus(status, options);
        const said = answer.excerpt ? `: ${redactSecrets(answer.excerpt.trim(), secrets)}` : "";
        throw new NotifyError(`${method} ${where} answered ${status}${said}`, { retryable });
      },
    };
  },
});
