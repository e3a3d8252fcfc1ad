/**
 * Keys ending in `.url` hold a URL: the content is downloaded (timeout, retries) and handed to
 * the writers under the key without the suffix. A failed download marks the key as held, so the
 * last good file stays — never an empty one. Basic-auth credentials (`REQ_USERNAME`/`REQ_PASSWORD`)
 * are sent only to `REQ_URL`'s origin and the origins of `REQ_AUTH_ORIGINS`, and redirects are
 * followed by hand so they never reach another origin. A failure is logged with the status and the
 * first 512 bytes of the answer (credentials redacted); a 401 from an origin that does not get the
 * credentials says so.
 *
 * @module
 */
import type { DownloadOptions } from "../config/types.ts";
import { redactSecrets } from "../util/redact.ts";
import { type Change, type ChangeSet, refKey } from "../model.ts";
import type { Logger } from "../plugin/logger.ts";
import { sleep } from "../util/clock.ts";
import { errorMessage } from "../util/errors.ts";
import {
  basicAuthorization,
  type CredentialEncoding,
  readSecretFile,
} from "../util/credentials.ts";
import { type HttpAnswer, HttpSendError, sendHttp } from "../util/http_send.ts";

/** Options of {@linkcode resolveUrlEntries}. */
export interface UrlEntryOptions {
  /** For one download attempt: every redirect and the body included. */
  timeoutMs: number;
  /** Retries after the first attempt. */
  retries: number;
  /** Delay before retry n is `backoffMs * 2^(n-1)`, at most {@linkcode MAX_BACKOFF_MS}. */
  backoffMs: number;
  /** Answers with these statuses are retried (connection errors and timeouts always are). */
  retryStatuses: readonly number[];
  /** Accept any server certificate. */
  skipTlsVerify?: boolean | undefined;
  /** Credentials and the only origins they may go to. */
  auth?: {
    origins: readonly string[];
    credentials: () => Promise<{ username: string; password: string } | undefined>;
    encoding?: CredentialEncoding | undefined;
  } | undefined;
  logger: Logger;
  signal: AbortSignal;
}

/** The longest wait between two download attempts. */
export const MAX_BACKOFF_MS = 120_000;

const SUFFIX = ".url";
/** How much of a refusing answer's body is logged. */
const EXCERPT_BYTES = 512;

/**
 * {@linkcode UrlEntryOptions} from the configuration's download settings: credentials are read
 * (from their files, if so configured) when a download to an allowed origin needs them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { urlEntryOptions } from "./url_entries.ts";
 * import { recordingLogger } from "../testing/logger.ts";
 * const passwordFile = await Deno.makeTempFile();
 * const opts = urlEntryOptions({
 *   timeoutMs: 10_000,
 *   retries: 3,
 *   backoffMs: 1_000,
 *   retryStatuses: [503],
 *   skipTlsVerify: false,
 *   auth: {
 *     origins: ["https://dashboards.example"],
 *     username: "grafana",
 *     passwordFile,
 *     encoding: "utf-8",
 *   },
 * }, recordingLogger().logger, new AbortController().signal);
 * assert.deepEqual(opts.auth?.origins, ["https://dashboards.example"]);
 * await Deno.writeTextFile(passwordFile, "rotated\n"); // read when a download needs it
 * assert.deepEqual(await opts.auth?.credentials(), { username: "grafana", password: "rotated" });
 * await Deno.remove(passwordFile);
 * ```
 */
export function urlEntryOptions(
  downloads: DownloadOptions,
  logger: Logger,
  signal: AbortSignal,
): UrlEntryOptions {
  const auth = downloads.auth;
  const read = async (value: string | undefined, file: string | undefined) =>
    file !== undefined ? await readSecretFile(file) : value;
  return {
    timeoutMs: downloads.timeoutMs,
    retries: downloads.retries,
    backoffMs: downloads.backoffMs,
    retryStatuses: downloads.retryStatuses,
    skipTlsVerify: downloads.skipTlsVerify,
    auth: auth && {
      origins: auth.origins,
      encoding: auth.encoding,
      credentials: async () => {
        const username = await read(auth.username, auth.usernameFile);
        const password = await read(auth.password, auth.passwordFile);
        return username !== undefined && password !== undefined
          ? { username, password }
          : undefined;
      },
    },
    logger,
    signal,
  };
}

/** A change set with its `.url` entries resolved, and the keys whose download failed. */
export interface ResolvedEntries {
  changeSet: ChangeSet;
  /** Per object ({@linkcode refKey}), keys whose content could not be obtained this time. */
  held: Map<string, Set<string>>;
}

/**
 * Returns `changeSet` with every `.url` entry replaced by its downloaded content; a key whose
 * download failed is left out and listed in `held` (its last good file stays).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveUrlEntries } from "./url_entries.ts";
 * import { refKey } from "../model.ts";
 * import { changeSetOf } from "../testing/change_set.ts";
 * import { receiver } from "../testing/http.ts";
 * import { recordingLogger } from "../testing/logger.ts";
 * await using server = receiver((_n, req) =>
 *   new URL(req.url).pathname === "/dash.json"
 *     ? new Response("{}")
 *     : new Response("not here", { status: 404 })
 * );
 * const set = changeSetOf([{
 *   name: "app",
 *   data: { "a.json.url": `${server.url}/dash.json`, "b.json.url": `${server.url}/gone.json` },
 *   dir: "/config",
 * }]);
 * const { changeSet, held } = await resolveUrlEntries(set, {
 *   timeoutMs: 5_000,
 *   retries: 0,
 *   backoffMs: 0,
 *   retryStatuses: [],
 *   logger: recordingLogger().logger,
 *   signal: new AbortController().signal,
 * });
 * const change = changeSet.changes[0]!;
 * assert.deepEqual([...change.entries.keys()], ["a.json"]);
 * assert.equal(new TextDecoder().decode(change.entries.get("a.json")), "{}");
 * assert.deepEqual(held.get(refKey(change.ref)), new Set(["b.json"])); // its last good file stays
 * ```
 */
export async function resolveUrlEntries(
  changeSet: ChangeSet,
  opts: UrlEntryOptions,
): Promise<ResolvedEntries> {
  const heldKeys = new Map<string, Set<string>>();
  if (!changeSet.changes.some((c) => [...c.entries.keys()].some((k) => k.endsWith(SUFFIX)))) {
    return { changeSet, held: heldKeys };
  }
  const changes: Change[] = [];
  for (const change of changeSet.changes) {
    const urlKeys = [...change.entries.keys()].filter((k) =>
      k.endsWith(SUFFIX) && k.length > SUFFIX.length
    );
    if (change.type === "delete" || urlKeys.length === 0) {
      changes.push(change);
      continue;
    }
    const entries = new Map(change.entries);
    const held = new Set<string>();
    for (const key of urlKeys) {
      entries.delete(key);
      const target = key.slice(0, -SUFFIX.length);
      const object = refKey(change.ref);
      const raw = new TextDecoder().decode(change.entries.get(key)).trim();
      try {
        entries.set(target, await download(raw, opts));
      } catch (e) {
        held.add(target);
        opts.logger.error("download failed; the last good file stays", {
          object,
          key,
          url: safeUrl(raw),
          error: errorMessage(e),
        });
      }
    }
    changes.push({ ...change, entries });
    if (held.size > 0) heldKeys.set(refKey(change.ref), held);
  }
  return { changeSet: { ...changeSet, changes }, held: heldKeys };
}

/** The URL for logs: no userinfo, and no query, which often carries a token (presigned URLs). */
function safeUrl(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.origin}${u.pathname}${u.search ? "?…" : ""}`;
  } catch {
    return "(not a URL)";
  }
}

class Retryable extends Error {}

async function download(raw: string, opts: UrlEntryOptions): Promise<Uint8Array> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error("the value is not a URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`unsupported scheme ${url.protocol}`);
  }
  for (let attempt = 0;; attempt++) {
    try {
      return await fetchFollowing(url, opts);
    } catch (e) {
      if (!(e instanceof Retryable) || attempt >= opts.retries || opts.signal.aborted) throw e;
      await sleep(Math.min(opts.backoffMs * 2 ** attempt, MAX_BACKOFF_MS), opts.signal);
    }
  }
}

async function fetchFollowing(start: URL, opts: UrlEntryOptions): Promise<Uint8Array> {
  const auth = opts.auth;
  let answer: HttpAnswer;
  const secrets: string[] = [];
  try {
    answer = await sendHttp(start, {
      // Asked for on every hop to an allowed origin only, so a URL elsewhere never reads them.
      credentials: auth && (async () => {
        const creds = await auth.credentials();
        if (creds === undefined) return undefined;
        const header = basicAuthorization(creds.username, creds.password, auth.encoding);
        secrets.push(creds.password, header, header.slice("Basic ".length));
        return { authorization: header };
      }),
      // No allowed origin: an origin that matches nothing.
      credentialsOrigin: auth ? auth.origins : [],
      timeoutMs: opts.timeoutMs,
      signal: opts.signal,
      readBody: true,
      excerptBytes: EXCERPT_BYTES,
      skipTlsVerify: opts.skipTlsVerify,
    });
  } catch (e) {
    if (!(e instanceof HttpSendError)) throw e;
    const where = e.kind === "too-many-redirects" ? start : e.url;
    const msg = `GET ${safeUrl(where.href)}: ${e.message}`;
    throw e.transient ? new Retryable(msg) : new Error(msg);
  }
  const { status } = answer;
  if (status < 200 || status >= 300) {
    let msg = `GET ${safeUrl(answer.url.href)}: HTTP ${status}`;
    if (status === 401 && auth !== undefined && !auth.origins.includes(answer.url.origin)) {
      msg += `; REQ_USERNAME/REQ_PASSWORD are not sent to ${answer.url.origin}: ` +
        "add it to REQ_AUTH_ORIGINS if it should get them";
    }
    if (answer.excerpt) msg += `: ${redactSecrets(answer.excerpt.trim(), secrets)}`;
    throw opts.retryStatuses.includes(status) ? new Retryable(msg) : new Error(msg);
  }
  return answer.body ?? new Uint8Array();
}
