/**
 * One HTTP call that keeps credentials at home: redirects are followed by hand so that
 * `Authorization` and other credential headers only ever reach the origin they belong to.
 *
 * - {@linkcode sendHttp} sends a request under one timeout (for the whole call, every hop and
 *   the body included) combined with the caller's `AbortSignal`, follows up to `maxRedirects`
 *   (default 5) of 301, 302, 303, 307 and 308, and returns the final status, headers and, when
 *   asked, body. 303 turns anything but `GET` into `GET`, 301/302 turn `POST` into `GET`, both
 *   without the body, as browsers do.
 * - `skipTlsVerify` sends through `node:https` without certificate verification: Deno's fetch can
 *   only turn verification off for the whole process.
 * - Every failure is an {@linkcode HttpSendError} whose `kind` tells a network error, a timeout
 *   and a caller's abort (worth retrying) from a redirect problem (not). Its message never holds
 *   userinfo, the query or a header value; it never logs. What a status means is up to the caller.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HttpSendError, sendHttp } from "./http_send.ts";
 * import { closedPort, receiver } from "../testing/http.ts";
 * await using app = receiver();
 * const answer = await sendHttp(new URL(`${app.url}/reload`), {
 *   method: "POST",
 *   headers: { "content-type": "text/plain" },
 *   body: "reload",
 *   credentials: { authorization: "Bearer t0ken" },
 *   timeoutMs: 10_000,
 * });
 * assert.equal(answer.status, 200);
 * assert.equal(app.received[0]?.authorization, "Bearer t0ken");
 * const down = new URL(`http://127.0.0.1:${await closedPort()}/reload`);
 * await assert.rejects(
 *   sendHttp(down, { timeoutMs: 10_000 }),
 *   (e) => e instanceof HttpSendError && e.kind === "network" && e.transient, // retry later
 * );
 * ```
 *
 * @module
 */
import { after } from "./clock.ts";
import { insecureFetch } from "./insecure_fetch.ts";
import { errorMessage } from "./errors.ts";

const REDIRECTS = [301, 302, 303, 307, 308];
/** Headers that describe a body; they go when a redirect drops the body (Fetch standard). */
const BODY_HEADERS = ["content-encoding", "content-language", "content-location", "content-type"];

/**
 * What {@linkcode sendHttp} sends.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { HttpSendOptions } from "./http_send.ts";
 * const options: HttpSendOptions = { method: "PUT", body: "{}", timeoutMs: 5_000 };
 * assert(options.method === "PUT");
 * ```
 */
export interface HttpSendOptions {
  /** Default `GET`. */
  method?: string | undefined;
  /** Sent on every hop; an `Authorization` among them is still kept to the credentials origin. */
  headers?: HeadersInit | undefined;
  /**
   * Headers that carry credentials (`Authorization`, API keys), sent only to hops whose origin is
   * `credentialsOrigin`; they override `headers`. A function is called before each such hop, so
   * that a credential read from a file is read only when it is sent; its errors pass through.
   */
  credentials?: HeadersInit | (() => Promise<HeadersInit | undefined>) | undefined;
  /**
   * The origins credentials may go to, as `URL.origin` spells them. Default: `url`'s origin.
   */
  credentialsOrigin?: string | readonly string[] | undefined;
  /** Request body; dropped (with its `content-*` headers) when a redirect turns into `GET`. */
  body?: string | undefined;
  /** For the whole call: every hop and reading the body. */
  timeoutMs: number;
  /** The caller's abort signal. */
  signal?: AbortSignal | undefined;
  /** Default 5. */
  maxRedirects?: number | undefined;
  /** Send through `node:http(s)` and accept any server certificate. */
  skipTlsVerify?: boolean | undefined;
  /** Read the body of a 2xx answer into {@linkcode HttpAnswer.body}; others are discarded. */
  readBody?: boolean | undefined;
  /**
   * Read at most this many bytes of the body of a final answer that is not 2xx into
   * {@linkcode HttpAnswer.excerpt} (servers often say there why they refused). Default 0.
   */
  excerptBytes?: number | undefined;
  /** Called before following each redirect (e.g. to log a hop to another origin). */
  onRedirect?: ((from: URL, to: URL, status: number) => void) | undefined;
}

/**
 * The final answer of {@linkcode sendHttp}: anything but a followed redirect.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sendHttp } from "./http_send.ts";
 * import { receiver } from "../testing/http.ts";
 * await using server = receiver((n) =>
 *   n === 0 ? new Response("hello") : new Response("busy, try later", { status: 503 })
 * );
 * const url = new URL(server.url);
 * const ok = await sendHttp(url, { timeoutMs: 5_000, readBody: true });
 * assert.equal(new TextDecoder().decode(ok.body), "hello");
 * const busy = await sendHttp(url, { timeoutMs: 5_000, readBody: true, excerptBytes: 4 });
 * assert.equal(busy.status, 503);
 * assert.equal(busy.body, undefined);
 * assert.equal(busy.excerpt, "busy");
 * ```
 */
export interface HttpAnswer {
  /** The HTTP status. */
  status: number;
  /** The response headers. */
  headers: Headers;
  /** Only with `readBody` and a 2xx status. */
  body: Uint8Array | undefined;
  /**
   * Only with `excerptBytes` and a status that is not 2xx: the start of the body, decoded as
   * UTF-8 (invalid bytes replaced). It is the server's text: redact before logging it.
   */
  excerpt?: string | undefined;
  /** The URL that answered, without userinfo. May hold a query: not for messages as is. */
  url: URL;
  /** The method of the request that got this answer (a redirect may have turned it to `GET`). */
  method: string;
  /** How many redirects were followed. */
  redirects: number;
}

/**
 * Why {@linkcode sendHttp} failed:
 * - `network` — connecting, sending or reading failed;
 * - `timeout` — `timeoutMs` passed;
 * - `aborted` — the caller's signal aborted;
 * - `too-many-redirects` — more than `maxRedirects`;
 * - `bad-redirect` — a `Location` that is not a valid http(s) URL.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { HttpSendErrorKind } from "./http_send.ts";
 * const kind: HttpSendErrorKind = "timeout";
 * assert(kind === "timeout");
 * ```
 */
export type HttpSendErrorKind =
  | "network"
  | "timeout"
  | "aborted"
  | "too-many-redirects"
  | "bad-redirect";

/**
 * A failed {@linkcode sendHttp}. The message says why only (`timed out after 50 ms`, `more than 5
 * redirects`, the connection error with the URL cut to origin and path); callers add method and
 * URL in the form they show. There is no `cause`: the raw fetch error quotes the full URL.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HttpSendError } from "./http_send.ts";
 * const e = new HttpSendError("timeout", "timed out after 5 ms", {
 *   method: "GET",
 *   url: new URL("http://127.0.0.1/x"),
 * });
 * assert(e.transient && e.name === "HttpSendError");
 * ```
 */
export class HttpSendError extends Error {
  /** Always `HttpSendError`. */
  override name = "HttpSendError";
  /** See {@linkcode HttpSendErrorKind}. */
  readonly kind: HttpSendErrorKind;
  /** Method of the request that failed or got the bad redirect. */
  readonly method: string;
  /** URL of that request, without userinfo. May hold a query: not for messages as is. */
  readonly url: URL;

  /** Builds the error; `message` must already be free of secrets. */
  constructor(kind: HttpSendErrorKind, message: string, at: { method: string; url: URL }) {
    super(message);
    this.kind = kind;
    this.method = at.method;
    this.url = at.url;
  }

  /** No usable answer arrived (network, timeout, abort): usually worth another try. */
  get transient(): boolean {
    return this.kind === "network" || this.kind === "timeout" || this.kind === "aborted";
  }
}

/**
 * Sends `options.method` to `url`, following redirects by hand; resolves with the final answer
 * whatever its status, rejects with {@linkcode HttpSendError} (or whatever a `credentials`
 * function throws).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sendHttp } from "./http_send.ts";
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) =>
 *   new URL(req.url).pathname === "/old"
 *     ? Response.redirect(new URL("/new", req.url), 301)
 *     : new Response(req.headers.get("authorization") ?? "none"));
 * const answer = await sendHttp(new URL(`http://127.0.0.1:${server.addr.port}/old`), {
 *   credentials: { authorization: "Bearer t" },
 *   timeoutMs: 5_000,
 *   readBody: true,
 * });
 * assert(answer.redirects === 1 && new TextDecoder().decode(answer.body) === "Bearer t");
 * await server.shutdown();
 * ```
 */
export async function sendHttp(url: URL, options: HttpSendOptions): Promise<HttpAnswer> {
  const maxRedirects = options.maxRedirects ?? 5;
  const origins = options.credentialsOrigin ?? url.origin;
  const credentialsOrigins = typeof origins === "string" ? [origins] : origins;
  const transport = options.skipTlsVerify ? insecureTransport : fetchTransport;
  const timedOut = new DOMException(`timed out after ${options.timeoutMs} ms`, "TimeoutError");
  const timeout = new AbortController();
  const timer = after(options.timeoutMs, () => timeout.abort(timedOut));
  const signal = options.signal
    ? AbortSignal.any([options.signal, timeout.signal])
    : timeout.signal;
  let method = options.method ?? "GET";
  let body = options.body;
  let bodyDropped = false;
  let current = withoutUserinfo(url);
  const excerptBytes = options.excerptBytes ?? 0;
  const plan = (status: number, headers: Headers): number => {
    if (status >= 200 && status < 300) return options.readBody === true ? Infinity : 0;
    if (REDIRECTS.includes(status) && headers.has("location")) return 0;
    return excerptBytes;
  };
  try {
    for (let hop = 0;; hop++) {
      const headers = new Headers(options.headers);
      if (bodyDropped) { for (const name of BODY_HEADERS) headers.delete(name); }
      if (credentialsOrigins.includes(current.origin)) {
        const extra = typeof options.credentials === "function"
          ? await options.credentials()
          : options.credentials;
        for (const [name, value] of new Headers(extra)) headers.set(name, value);
      } else {
        headers.delete("authorization");
      }
      let hopAnswer: TransportAnswer;
      try {
        hopAnswer = await transport(current, { method, headers, body }, signal, plan);
      } catch (e) {
        const at = { method, url: current };
        const prefix = e instanceof BodyFailure ? "reading the body failed: " : "";
        if (signal.aborted) {
          const reason: unknown = signal.reason;
          const why = reason instanceof Error ? reason.message : "aborted";
          throw new HttpSendError(reason === timedOut ? "timeout" : "aborted", prefix + why, at);
        }
        const raw = e instanceof BodyFailure ? e.cause : e;
        throw new HttpSendError("network", prefix + describeFailure(raw, current), at);
      }
      const { status } = hopAnswer;
      const location = hopAnswer.headers.get("location");
      if (!REDIRECTS.includes(status) || location === null) {
        const { body: read, ...rest } = hopAnswer;
        const ok = status >= 200 && status < 300;
        return {
          ...rest,
          body: ok ? read : undefined,
          ...(!ok && read !== undefined ? { excerpt: new TextDecoder().decode(read) } : {}),
          url: current,
          method,
          redirects: hop,
        };
      }
      const at = { method, url: current };
      if (hop >= maxRedirects) {
        throw new HttpSendError("too-many-redirects", `more than ${maxRedirects} redirects`, at);
      }
      let next: URL;
      try {
        next = withoutUserinfo(new URL(location, current));
      } catch {
        throw new HttpSendError("bad-redirect", "redirect to an invalid URL", at);
      }
      // Deno's fetch reads file: URLs: a server must not be able to point us at local files.
      if (next.protocol !== "http:" && next.protocol !== "https:") {
        throw new HttpSendError("bad-redirect", "redirect to a non-HTTP URL", at);
      }
      next.hash = "";
      // As browsers do (Fetch standard, HTTP-redirect fetch step 12).
      if ((status === 303 && method !== "GET") || (status <= 302 && method === "POST")) {
        method = "GET";
        body = undefined;
        bodyDropped = true;
      }
      options.onRedirect?.(current, next, status);
      current = next;
    }
  } finally {
    timer.cancel();
  }
}

interface TransportAnswer {
  status: number;
  headers: Headers;
  body: Uint8Array | undefined;
}

/**
 * Sends one request and consumes its answer (into `body`, at most `plan(status, headers)` bytes,
 * `Infinity` for all), so the connection is free and the timeout covers the body too.
 */
type Transport = (
  url: URL,
  init: { method: string; headers: Headers; body: string | undefined },
  signal: AbortSignal,
  plan: (status: number, headers: Headers) => number,
) => Promise<TransportAnswer>;

/** Marks a failure after the answer began, so the message can say the body was the problem. */
class BodyFailure extends Error {}

/** Sends one hop with `send` (fetch, or {@linkcode insecureFetch}) and reads a wanted body. */
function transport(send: (url: URL, init: RequestInit) => Promise<Response>): Transport {
  return async (url, init, signal, plan) => {
    const res = await send(url, {
      method: init.method,
      headers: init.headers,
      body: init.body ?? null,
      redirect: "manual",
      signal,
    });
    const limit = plan(res.status, res.headers);
    if (limit <= 0) {
      await res.body?.cancel();
      return { status: res.status, headers: res.headers, body: undefined };
    }
    if (limit !== Infinity) {
      // An excerpt is a courtesy: failing to read it must not turn the answer into an error.
      const body = await readAtMost(res, limit).catch(() => undefined);
      return { status: res.status, headers: res.headers, body };
    }
    try {
      return { status: res.status, headers: res.headers, body: await res.bytes() };
    } catch (e) {
      throw new BodyFailure("body", { cause: e });
    }
  };
}

/** The first `limit` bytes of the body; the rest is not read. */
async function readAtMost(res: Response, limit: number): Promise<Uint8Array> {
  if (res.body === null) return new Uint8Array();
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const out = new Uint8Array(Math.min(size, limit));
  let off = 0;
  for (const c of chunks) {
    const part = c.subarray(0, out.length - off);
    out.set(part, off);
    off += part.length;
    if (off >= out.length) break;
  }
  return out;
}

const fetchTransport = transport((url, init) => fetch(url, init));
const insecureTransport = transport((url, init) => insecureFetch(url, init));

function withoutUserinfo(url: URL): URL {
  const clean = new URL(url);
  clean.username = "";
  clean.password = "";
  return clean;
}

/**
 * A failure's message with its causes, every spelling of the URL cut to origin and path: fetch
 * quotes the full URL, query included, and the query may hold a key.
 */
function describeFailure(error: unknown, url: URL): string {
  const shown = `${url.origin}${url.pathname}`;
  return errorMessage(error)
    .replaceAll(url.href, shown)
    .replace(/\burl \([^)]*\)/g, `url (${shown})`);
}
