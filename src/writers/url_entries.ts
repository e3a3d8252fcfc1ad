/**
 * Keys ending in `.url` hold a URL: the content is downloaded (timeout, retries) and handed to
 * the writers under the key without the suffix. A failed download marks the key as held, so the
 * last good file stays — never an empty one. Basic-auth credentials (`REQ_USERNAME`/`REQ_PASSWORD`)
 * are sent only when the URL has the same origin as `REQ_URL`, and redirects are followed by hand
 * so they never carry credentials to another origin.
 *
 * @module
 */
import type { Change, ChangeSet } from "../model.ts";
import type { Logger } from "../plugin/logger.ts";
import { sleep } from "../util/clock.ts";
import { encodeBase64 } from "../util/base64.ts";
import { type HttpAnswer, HttpSendError, sendHttp } from "../util/http_send.ts";

/** Options of {@linkcode resolveUrlEntries}. */
export interface UrlEntryOptions {
  /** For one download attempt: every redirect and the body included. */
  timeoutMs: number;
  /** Retries after the first attempt. */
  retries: number;
  /** Delay before retry n is `backoffMs * 2^(n-1)`. */
  backoffMs: number;
  /** Retry 5xx answers too. */
  enable5xx: boolean;
  /** Credentials and the only origin they may go to. */
  auth?: {
    origin: string;
    credentials: () => Promise<{ username: string; password: string } | undefined>;
  } | undefined;
  logger: Logger;
  signal: AbortSignal;
}

const SUFFIX = ".url";

/**
 * Returns `changeSet` with every `.url` entry replaced by its downloaded content (or held).
 *
 * @example
 * ```ts ignore
 * const resolved = await resolveUrlEntries(changeSet, { timeoutMs: 10_000, retries: 3, backoffMs: 500, enable5xx: false, logger, signal });
 * ```
 */
export async function resolveUrlEntries(
  changeSet: ChangeSet,
  opts: UrlEntryOptions,
): Promise<ChangeSet> {
  if (!changeSet.changes.some((c) => [...c.entries.keys()].some((k) => k.endsWith(SUFFIX)))) {
    return changeSet;
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
    const held = new Set(change.held ?? []);
    for (const key of urlKeys) {
      entries.delete(key);
      const target = key.slice(0, -SUFFIX.length);
      const object = `${change.ref.kind}/${change.ref.namespace}/${change.ref.name}`;
      const raw = new TextDecoder().decode(change.entries.get(key)).trim();
      try {
        entries.set(target, await download(raw, opts));
      } catch (e) {
        held.add(target);
        opts.logger.error("download failed; the last good file stays", {
          object,
          key,
          url: safeUrl(raw),
          error: e instanceof Error ? e.message : String(e),
        });
      }
    }
    changes.push({ ...change, entries, held });
  }
  return { ...changeSet, changes };
}

/** The URL for logs: no userinfo, and no query, which often carries a token (presigned URLs). */
function safeUrl(raw: string): string {
  try {
    const u = new URL(raw);
    u.username = "";
    u.password = "";
    if (u.search) u.search = "?…";
    u.hash = "";
    return u.href;
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
      await sleep(opts.backoffMs * 2 ** attempt, opts.signal);
    }
  }
}

async function fetchFollowing(start: URL, opts: UrlEntryOptions): Promise<Uint8Array> {
  const auth = opts.auth;
  let answer: HttpAnswer;
  try {
    answer = await sendHttp(start, {
      // Asked for on every hop to REQ_URL's origin only, so a URL elsewhere never reads them.
      credentials: auth && (async () => {
        const creds = await auth.credentials();
        if (creds === undefined) return undefined;
        const basic = encodeBase64(new TextEncoder().encode(`${creds.username}:${creds.password}`));
        return { authorization: `Basic ${basic}` };
      }),
      credentialsOrigin: auth?.origin,
      timeoutMs: opts.timeoutMs,
      signal: opts.signal,
      readBody: true,
    });
  } catch (e) {
    if (!(e instanceof HttpSendError)) throw e;
    const where = e.kind === "too-many-redirects" ? start : e.url;
    const msg = `GET ${safeUrl(where.href)}: ${e.message}`;
    throw e.transient ? new Retryable(msg) : new Error(msg);
  }
  if (answer.status < 200 || answer.status >= 300) {
    const msg = `GET ${safeUrl(answer.url.href)}: HTTP ${answer.status}`;
    throw answer.status >= 500 && opts.enable5xx ? new Retryable(msg) : new Error(msg);
  }
  return answer.body ?? new Uint8Array();
}
