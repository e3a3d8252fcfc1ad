/**
 * The built-in `http-basic` notifier: tells the application over HTTP that files changed
 * (`REQ_URL`, `REQ_METHOD`, `REQ_PAYLOAD`, basic auth…), the way the original sidecar does.
 *
 * - `GET` or `POST` to `url`; `POST` sends `payload` as is (JSON content type when it parses as
 *   JSON), or by default `{"seq":…,"initial":…,"written":[…],"removed":[…]}`.
 * - Basic auth from `username`/`password`, or from `usernameFile`/`passwordFile`, re-read on every
 *   call so that rotated Secrets apply without a restart.
 * - Credentials only ever go to the origin of `url`: redirects are followed by hand (at most 5),
 *   and the `Authorization` header is dropped for any other origin.
 * - 2xx is success; connection errors and timeouts are retryable; 5xx is retryable only with
 *   `enable5xx`; anything else is not. Messages name the URL without userinfo and the status,
 *   never a password.
 *
 * @example
 * ```ts ignore
 * // config.yaml
 * // notifiers:
 * //   - plugin: http-basic
 * //     options: { url: "http://127.0.0.1:3000/api/admin/provisioning/dashboards/reload",
 * //                method: POST, usernameFile: /etc/grafana-admin/user,
 * //                passwordFile: /etc/grafana-admin/password }
 * ```
 *
 * @module
 */
import * as http from "node:http";
import * as https from "node:https";
import { z } from "zod";
import type { HttpBasicOptions } from "../../src/config/types.ts";
import type { ChangeSet, WriteResult } from "../../src/model.ts";
import { defineNotifier, type Notifier, NotifyError } from "../../src/plugin/contract.ts";

const MAX_REDIRECTS = 5;
const MAX_RETRY_DELAY_MS = 120_000;

const schema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }),
  method: z.enum(["GET", "POST"]).default("GET"),
  payload: z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  usernameFile: z.string().min(1).optional(),
  passwordFile: z.string().min(1).optional(),
  skipInit: z.boolean().default(false),
  timeoutMs: z.number().int().positive().default(10_000),
  retryTotal: z.number().int().min(0).default(5),
  backoffFactor: z.number().min(0).default(1.1),
  enable5xx: z.boolean().default(false),
  skipTlsVerify: z.boolean().default(false),
}).check((ctx) => {
  const o = ctx.value;
  if (o.username !== undefined && o.usernameFile !== undefined) {
    ctx.issues.push({
      code: "custom",
      input: o,
      path: ["usernameFile"],
      message: "give username or usernameFile, not both",
    });
  }
  if (o.password !== undefined && o.passwordFile !== undefined) {
    ctx.issues.push({
      code: "custom",
      input: o,
      path: ["passwordFile"],
      message: "give password or passwordFile, not both",
    });
  }
});

/**
 * Options of the `http-basic` notifier as written in the configuration (defaults applied later).
 *
 * @example
 * ```ts
 * import type { HttpBasicPluginOptions } from "./mod.ts";
 * const options: HttpBasicPluginOptions = { url: "http://127.0.0.1:3000/reload", method: "POST" };
 * console.assert(options.method === "POST");
 * ```
 */
export type HttpBasicPluginOptions = z.input<typeof schema>;

interface Answer {
  status: number;
  location: string | null;
}

type Send = (
  url: URL,
  init: { method: string; headers: Record<string, string>; body: string | undefined },
  signal: AbortSignal,
) => Promise<Answer>;

/** Sends with fetch; the body is discarded, only status and `Location` matter. */
const sendFetch: Send = async (url, init, signal) => {
  const res = await fetch(url, {
    method: init.method,
    headers: init.headers,
    body: init.body ?? null,
    redirect: "manual",
    signal,
  });
  await res.body?.cancel();
  return { status: res.status, location: res.headers.get("location") };
};

/**
 * Sends with `node:https` without certificate verification: Deno's fetch cannot turn it off for
 * one client, only for the whole process (`--unsafely-ignore-certificate-errors`).
 */
const sendInsecure: Send = (url, init, signal) =>
  new Promise((resolve, reject) => {
    const mod = url.protocol === "https:" ? https : http;
    const req = mod.request(url, {
      method: init.method,
      headers: init.headers,
      rejectUnauthorized: false,
    }, (res) => {
      res.resume();
      res.on("end", () => {
        signal.removeEventListener("abort", onAbort);
        const location = res.headers.location;
        resolve({ status: res.statusCode ?? 0, location: location ?? null });
      });
      res.on("error", fail);
    });
    const onAbort = () => req.destroy(signal.reason);
    function fail(e: unknown) {
      signal.removeEventListener("abort", onAbort);
      reject(signal.aborted ? signal.reason : e);
    }
    req.on("error", fail);
    if (signal.aborted) return fail(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    req.end(init.body);
  });

/** `url` without userinfo, for messages and requests. */
function withoutUserinfo(url: URL): URL {
  const clean = new URL(url);
  clean.username = "";
  clean.password = "";
  return clean;
}

/** Base64 of the UTF-8 bytes of `text` (btoa alone rejects non-Latin-1 characters). */
function base64Utf8(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

async function readSecretFile(path: string, what: string): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).replace(/[\r\n]+$/, "");
  } catch (e) {
    // A mounted Secret may appear late or be mid-rotation: worth a retry. Name the file only.
    throw new NotifyError(`cannot read ${what} file ${path}: ${e instanceof Error ? e.name : e}`, {
      retryable: true,
    });
  }
}

function body(options: HttpBasicOptions, changeSet: ChangeSet, result: WriteResult): {
  body: string;
  contentType: string;
} {
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
 * ```ts ignore
 * import httpBasic from "./mod.ts";
 * const notifier = await httpBasic.create(validatedOptions, ctx);
 * await notifier.notify(changeSet, result);
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
    const send = options.skipTlsVerify ? sendInsecure : sendFetch;

    async function authorization(): Promise<string | undefined> {
      const username = options.usernameFile !== undefined
        ? await readSecretFile(options.usernameFile, "username")
        : options.username ?? urlUser;
      if (username === undefined) return undefined;
      const password = options.passwordFile !== undefined
        ? await readSecretFile(options.passwordFile, "password")
        : options.password ?? urlPassword ?? "";
      return `Basic ${base64Utf8(`${username}:${password}`)}`;
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
        const timeout = new AbortController();
        const timer = setTimeout(
          () =>
            timeout.abort(
              new DOMException(`timed out after ${options.timeoutMs} ms`, "TimeoutError"),
            ),
          options.timeoutMs,
        );
        const signal = AbortSignal.any([ctx.signal, timeout.signal]);
        let method: string = options.method;
        let payload = method === "POST" ? body(options, changeSet, result) : undefined;
        let url = target;
        try {
          for (let hop = 0;; hop++) {
            const headers: Record<string, string> = { "user-agent": "k8s-gsidecar" };
            if (auth !== undefined && url.origin === target.origin) headers.authorization = auth;
            if (payload) headers["content-type"] = payload.contentType;
            let answer: Answer;
            try {
              answer = await send(url, { method, headers, body: payload?.body }, signal);
            } catch (e) {
              const why = signal.aborted
                ? (signal.reason instanceof Error ? signal.reason.message : "aborted")
                : e instanceof Error
                ? e.message
                : String(e);
              throw new NotifyError(`${method} ${withoutUserinfo(url).href} failed: ${why}`, {
                retryable: true,
              });
            }
            const { status, location } = answer;
            if (status >= 200 && status < 300) {
              ctx.logger.debug("notified", { url: shown, status, seq: changeSet.seq });
              return;
            }
            if ([301, 302, 303, 307, 308].includes(status) && location !== null) {
              if (hop >= MAX_REDIRECTS) {
                throw new NotifyError(`${method} ${shown}: more than ${MAX_REDIRECTS} redirects`, {
                  retryable: false,
                });
              }
              const next = withoutUserinfo(new URL(location, url));
              if (next.protocol !== "http:" && next.protocol !== "https:") {
                throw new NotifyError(`${method} ${shown}: redirect to a non-HTTP URL`, {
                  retryable: false,
                });
              }
              // As browsers do (Fetch standard, HTTP-redirect fetch step 12).
              if ((status === 303 && method !== "GET") || (status <= 302 && method === "POST")) {
                method = "GET";
                payload = undefined;
              }
              url = next;
              continue;
            }
            const where = url.href === shown ? shown : `${shown} (redirected to ${url.href})`;
            const retryable = status >= 500 && options.enable5xx;
            throw new NotifyError(`${method} ${where} answered ${status}`, { retryable });
          }
        } finally {
          clearTimeout(timer);
        }
      },
    };
  },
});
