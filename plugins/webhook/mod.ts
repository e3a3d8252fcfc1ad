/**
 * `webhook`: tells a service over HTTP what changed, with a JSON body describing the change set.
 *
 * - `method` `GET`, `POST` (default), `PUT`, `PATCH` or `DELETE` to `url`. Every method but `GET`
 *   sends `content-type: application/json` and
 *
 *   ```json
 *   { "seq": 7, "initial": false,
 *     "written": ["/config/a.json"], "removed": ["/config/b.json"],
 *     "rejected": [{ "object": "configmap/ns/name", "key": "c.json", "reason": "not valid JSON…" }],
 *     "objects": [{ "kind": "configmap", "namespace": "ns", "name": "name", "type": "upsert" }],
 *     "hash": "<64 hex digits>" }
 *   ```
 *
 *   `hash` is the SHA-256 (hex) of the UTF-8 JSON text `[seq, sortedWritten, sortedRemoved]`
 *   (each list sorted by code unit, `JSON.stringify` with no spaces), the same for every retry of
 *   one change set, so a receiver can drop duplicates.
 * - `headers` are added to every request to `url`'s origin. `bearerTokenFile` sends
 *   `Authorization: Bearer <token>`, the file re-read and trimmed on every call, so a rotated
 *   token applies without a restart.
 * - Redirects are followed by hand, at most 5. A hop to another origin carries neither the
 *   `Authorization` header nor any of `headers` (which may hold API keys): credentials only ever
 *   go to `url`'s origin. 301/302 turn `POST` into `GET`, 303 turns anything but `GET` into `GET`,
 *   as browsers do.
 * - 2xx is success. Connection errors, timeouts (`timeoutMs` for the whole call), 408 and 429 are
 *   retryable; 5xx is retryable when `retry5xx` (default); anything else is not. The core retries
 *   up to `retries` times, `backoffMs` doubling each time (capped at 2 minutes).
 * - `skipInit: true` does not notify for the initial change set after start.
 * - Messages and logs show the URL without userinfo and query; never the token.
 *
 * @example
 * ```yaml
 * notifiers:
 *   - use: webhook
 *     options:
 *       url: http://127.0.0.1:9090/-/reload
 *       method: POST
 *       headers: { X-Source: k8s-gsidecar }
 *       bearerTokenFile: /var/run/secrets/reload/token
 * ```
 *
 * @module
 */
import type { ChangeSet, WriteResult } from "../../src/plugin/mod.ts";
import { refKey } from "../../src/plugin/mod.ts";
import {
  defineNotifier,
  type Notifier,
  type NotifierDefinition,
  NotifyError,
} from "../../src/plugin/mod.ts";
import * as s from "../../src/plugin/_schema.ts";
import { type HttpAnswer, HttpSendError, sendHttp } from "../../src/plugin/http.ts";

const MAX_RETRY_DELAY_MS = 120_000;
const MAX_TIMEOUT_MS = 600_000;

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Headers the notifier sets itself. */
const RESERVED_HEADERS = ["host", "content-length", "content-type", "transfer-encoding"];

const schema = s.object({
  url: s.url(),
  method: s.enum(["GET", "POST", "PUT", "PATCH", "DELETE"]).default("POST"),
  headers: s.record(
    s.string().refine((v) => !/[\r\n\0]/.test(v), "header values are one line"),
    {
      keys: s.string().regex(HEADER_NAME, "not a valid header name").refine(
        (name) => !RESERVED_HEADERS.includes(name.toLowerCase()),
        "set by the notifier itself",
      ),
    },
  ).default({}),
  bearerTokenFile: s.string().min(1).optional(),
  timeoutMs: s.number().int().positive().max(MAX_TIMEOUT_MS).default(10_000),
  retries: s.number().int().min(0).default(5),
  backoffMs: s.number().int().min(0).default(1000),
  retry5xx: s.boolean().default(true),
  skipInit: s.boolean().default(false),
}).refine(
  (o) =>
    o.bearerTokenFile === undefined ||
    !Object.keys(o.headers).some((h) => h.toLowerCase() === "authorization"),
  "give bearerTokenFile or an Authorization header, not both",
  { path: ["bearerTokenFile"] },
);

/**
 * Options of the `webhook` notifier as written in the configuration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { WebhookOptions } from "./mod.ts";
 * const options: WebhookOptions = { url: "http://127.0.0.1:9090/-/reload", method: "PUT" };
 * assert(options.method === "PUT");
 * ```
 */
export type WebhookOptions = s.Input<typeof schema>;

/**
 * The JSON body sent with every method but `GET`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { WebhookBody } from "./mod.ts";
 * const body: WebhookBody = {
 *   seq: 1,
 *   initial: true,
 *   written: [],
 *   removed: [],
 *   rejected: [],
 *   objects: [],
 *   hash: "0".repeat(64),
 * };
 * assert(body.initial);
 * ```
 */
export interface WebhookBody {
  /** The change set's number; increases by one per change set. */
  seq: number;
  /** True for the first full sync after start. */
  initial: boolean;
  /** Absolute paths created or replaced. */
  written: string[];
  /** Absolute paths removed. */
  removed: string[];
  /** Keys refused (their last good file stayed), with `object` as `kind/namespace/name`. */
  rejected: { object: string; key?: string | undefined; reason: string }[];
  /** The objects that changed. */
  objects: { kind: string; namespace: string; name: string; type: "upsert" | "delete" }[];
  /** See {@linkcode changeHash}. */
  hash: string;
}

/**
 * The deduplication hash of a change set: SHA-256 hex of the UTF-8 text
 * `JSON.stringify([seq, [...written].sort(), [...removed].sort()])`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { changeHash } from "./mod.ts";
 * const a = await changeHash(3, { written: ["/c/b", "/c/a"], removed: [], rejected: [] });
 * const b = await changeHash(3, { written: ["/c/a", "/c/b"], removed: [], rejected: [] });
 * assert(a === b && a.length === 64);
 * ```
 */
export async function changeHash(seq: number, result: WriteResult): Promise<string> {
  const text = JSON.stringify([seq, [...result.written].sort(), [...result.removed].sort()]);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Builds the JSON body for a change set and what the writers did with it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { webhookBody } from "./mod.ts";
 * const body = await webhookBody(
 *   { seq: 2, initial: false, changes: [] },
 *   { written: ["/c/a.json"], removed: [], rejected: [] },
 * );
 * assert(body.seq === 2 && body.written[0] === "/c/a.json");
 * ```
 */
export async function webhookBody(changeSet: ChangeSet, result: WriteResult): Promise<WebhookBody> {
  return {
    seq: changeSet.seq,
    initial: changeSet.initial,
    written: result.written,
    removed: result.removed,
    rejected: result.rejected.map((r) =>
      r.key === undefined
        ? { object: refKey(r.ref), reason: r.reason }
        : { object: refKey(r.ref), key: r.key, reason: r.reason }
    ),
    objects: changeSet.changes.map((c) => ({
      kind: c.ref.kind,
      namespace: c.ref.namespace,
      name: c.ref.name,
      type: c.type,
    })),
    hash: await changeHash(changeSet.seq, result),
  };
}

/** The URL as shown in messages: no userinfo, no query or fragment (either may hold secrets). */
function shown(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** `url` without userinfo and fragment, as requested. */
function requestUrl(url: URL): URL {
  const clean = new URL(url);
  clean.username = "";
  clean.password = "";
  clean.hash = "";
  return clean;
}

async function readToken(path: string): Promise<string> {
  let token: string;
  try {
    token = (await Deno.readTextFile(path)).trim();
  } catch (e) {
    // A mounted Secret may appear late or be mid-rotation: worth a retry. Name the file only.
    throw new NotifyError(
      `cannot read bearerTokenFile ${path}: ${e instanceof Error ? e.name : e}`,
      {
        retryable: true,
      },
    );
  }
  if (token === "") {
    throw new NotifyError(`bearerTokenFile ${path} is empty`, { retryable: true });
  }
  if (/[\r\n\0]/.test(token)) {
    throw new NotifyError(`bearerTokenFile ${path} holds more than one line`, {
      retryable: false,
    });
  }
  return token;
}

/**
 * The `webhook` notifier definition.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import webhook from "./mod.ts";
 * import { changeSetOf, receiver, startNotifier } from "../../src/testing/mod.ts";
 * await using prometheus = receiver();
 * const bearerTokenFile = await Deno.makeTempFile();
 * await Deno.writeTextFile(bearerTokenFile, "t0ken\n");
 * await using n = await startNotifier(webhook, {
 *   url: `${prometheus.url}/-/reload`,
 *   bearerTokenFile,
 * });
 * const set = changeSetOf([{ name: "rules", data: { "a.yaml": "groups: []" }, dir: "/config" }], {
 *   seq: 7,
 * });
 * await n.notify(set, { written: ["/config/a.yaml"], removed: [], rejected: [] });
 * const [request] = prometheus.received;
 * assert.equal(request?.authorization, "Bearer t0ken");
 * const body = JSON.parse(request!.body);
 * assert.equal(body.seq, 7);
 * assert.deepEqual(body.objects, [
 *   { kind: "configmap", namespace: "default", name: "rules", type: "upsert" },
 * ]);
 * await Deno.remove(bearerTokenFile);
 * ```
 */
const webhook: NotifierDefinition<s.Infer<typeof schema>> = defineNotifier({
  name: "webhook",
  version: "1.0.0",
  options: schema,
  // Longer than the longest allowed request timeout, so that ours, with its clearer message, fires.
  timeoutMs: MAX_TIMEOUT_MS + 5_000,
  create(options, ctx): Notifier {
    const target = requestUrl(new URL(options.url));
    return {
      skipInitial: options.skipInit,
      retry: {
        retries: options.retries,
        backoffMs: options.backoffMs,
        maxDelayMs: MAX_RETRY_DELAY_MS,
      },
      async notify(changeSet, result) {
        const token = options.bearerTokenFile === undefined
          ? undefined
          : await readToken(options.bearerTokenFile);
        // The configured headers may hold API keys: they go only where the token goes.
        const credentials = new Headers();
        for (const [name, value] of Object.entries(options.headers)) credentials.set(name, value);
        if (token !== undefined) credentials.set("authorization", `Bearer ${token}`);
        const body = options.method === "GET"
          ? undefined
          : JSON.stringify(await webhookBody(changeSet, result));
        const headers: Record<string, string> = { "user-agent": "k8s-gsidecar" };
        if (body !== undefined) headers["content-type"] = "application/json";
        let answer: HttpAnswer;
        try {
          answer = await sendHttp(target, {
            method: options.method,
            headers,
            body,
            credentials,
            timeoutMs: options.timeoutMs,
            signal: ctx.signal,
            onRedirect(from, to) {
              if (to.origin === from.origin) return;
              ctx.logger.debug("redirected to another origin; credentials not sent there", {
                from: shown(from),
                to: shown(to),
              });
            },
          });
        } catch (e) {
          if (!(e instanceof HttpSendError)) throw e;
          if (e.transient) {
            throw new NotifyError(`${e.method} ${shown(e.url)} failed: ${e.message}`, {
              retryable: true,
            });
          }
          const where = e.kind === "too-many-redirects" ? target : e.url;
          throw new NotifyError(`${e.method} ${shown(where)}: ${e.message}`, { retryable: false });
        }
        const { status, method, url } = answer;
        if (status >= 200 && status < 300) {
          ctx.logger.debug("notified", {
            url: shown(url),
            status,
            seq: changeSet.seq,
            hop: answer.redirects,
          });
          return;
        }
        const where = url.href === target.href
          ? shown(target)
          : `${shown(target)} (redirected to ${shown(url)})`;
        const retryable = status === 408 || status === 429 || (status >= 500 && options.retry5xx);
        throw new NotifyError(`${method} ${where} answered ${status}`, { retryable });
      },
    };
  },
});
export default webhook;
