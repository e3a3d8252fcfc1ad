/**
 * A small Kubernetes REST client on top of `fetch`: enough for list, watch, get and create,
 * without loading `@kubernetes/client-node` (about 85 MB of RSS in Deno) on the in-cluster path.
 *
 * @module
 */
import { insecureFetch } from "../util/insecure_fetch.ts";

/** How to reach and authenticate to one API server. */
export interface KubeConnection {
  /** Base URL, e.g. `https://127.0.0.1:6443`. */
  server: string;
  /** PEM CA bundle that signs the server's certificate; the system roots are used as well. */
  caCert?: string | undefined;
  /** PEM client certificate and key for mutual TLS. */
  clientCert?: string | undefined;
  clientKey?: string | undefined;
  /** Returns the bearer token for the next request; called on every request so rotated tokens are used. */
  token?: (() => string | undefined | Promise<string | undefined>) | undefined;
  /**
   * Returns the authentication headers of the next request (`authorization`, `impersonate-*`);
   * when given, `token` is not consulted. For kubeconfig users (exec plugins, auth providers…).
   */
  authHeaders?: (() => Promise<Record<string, string>>) | undefined;
  /** Do not verify the server's certificate (`SKIP_TLS_VERIFY`). */
  skipTlsVerify?: boolean | undefined;
}

/** One event of a watch stream. */
export interface WatchEvent<T = KubeObject> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T;
}

/** The fields of a Kubernetes object this project reads. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** Object metadata, as far as it is read here. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A list response. */
export interface KubeList<T = KubeObject> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

/**
 * A non-2xx answer from the API server, carrying the `Status` it returned.
 *
 * @example
 * ```ts ignore
 * import { KubeApiError, type KubeClient } from "./client.ts";
 * declare const client: KubeClient;
 * try {
 *   await client.get("/api/v1/namespaces/x/configmaps/y");
 * } catch (e) {
 *   if (!(e instanceof KubeApiError && e.status === 404)) throw e;
 *   // gone (e.reason is "NotFound")
 * }
 * ```
 */
export class KubeApiError extends Error {
  /** HTTP status code. */
  readonly status: number;
  /** `Status.reason`, e.g. `Forbidden`, `Expired`, `Gone`. */
  readonly reason: string | undefined;

  /** Wraps one failed request. */
  constructor(
    method: string,
    path: string,
    status: number,
    reason: string | undefined,
    detail: string,
  ) {
    super(`${method} ${path}: ${status}${reason ? ` ${reason}` : ""}: ${detail}`);
    this.name = "KubeApiError";
    this.status = status;
    this.reason = reason;
  }
}

/** Options of one request. */
export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined> | undefined;
  body?: unknown;
  signal?: AbortSignal | undefined;
  /** Content type for the body; JSON by default. */
  contentType?: string | undefined;
}

/**
 * A client for one API server.
 *
 * @example
 * ```ts ignore
 * import { KubeClient } from "./client.ts";
 * declare const caCert: string; // PEM
 * declare const token: string;
 * const client = new KubeClient({ server: "https://127.0.0.1:6443", caCert, token: () => token });
 * const path = "/api/v1/namespaces/default/configmaps";
 * const list = await client.list(path, { labelSelector: "app" });
 * const names = list.items.map((cm) => cm.metadata.name);
 * client.close();
 * ```
 */
export class KubeClient {
  readonly #conn: KubeConnection;
  readonly #http: Deno.HttpClient;

  /** Opens a connection pool for `conn`. */
  constructor(conn: KubeConnection) {
    this.#conn = conn;
    const tls: Deno.CreateHttpClientOptions & Partial<Deno.TlsCertifiedKeyPem> = {};
    if (conn.caCert) tls.caCerts = [conn.caCert];
    if (conn.clientCert && conn.clientKey) {
      tls.cert = conn.clientCert;
      tls.key = conn.clientKey;
    }
    this.#http = Deno.createHttpClient(tls);
  }

  /** The server URL this client talks to. */
  get server(): string {
    return this.#conn.server;
  }

  /** Sends one request and returns the parsed JSON answer (or the text of a non-JSON one); throws {@linkcode KubeApiError} on non-2xx. */
  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.#fetch(method, path, opts);
    const text = await res.text();
    if (!res.ok) throw apiError(method, path, res.status, text);
    // Health endpoints answer plain text ("ok").
    const json = res.headers.get("content-type")?.includes("json") ?? false;
    return (json && text ? JSON.parse(text) : text) as T;
  }

  /** GET `path`. */
  get<T = KubeObject>(path: string, opts: RequestOptions = {}): Promise<T> {
    return this.request<T>("GET", path, opts);
  }

  /** POST `body` to `path`. */
  create<T = KubeObject>(path: string, body: unknown, opts: RequestOptions = {}): Promise<T> {
    return this.request<T>("POST", path, { ...opts, body });
  }

  /** Lists one page of `path` with the given query (labelSelector, limit, continue…). */
  list<T = KubeObject>(
    path: string,
    query: RequestOptions["query"] = {},
    signal?: AbortSignal,
  ): Promise<KubeList<T>> {
    return this.request<KubeList<T>>("GET", path, { query, signal });
  }

  /**
   * Opens a watch on `path` and yields its events until the server ends the stream, `signal`
   * aborts, or the connection breaks (which throws).
   */
  async *watch<T = KubeObject>(
    path: string,
    query: RequestOptions["query"] = {},
    signal?: AbortSignal,
  ): AsyncGenerator<WatchEvent<T>> {
    const res = await this.#fetch("GET", path, { query: { ...query, watch: true }, signal });
    if (!res.ok) throw apiError("WATCH", path, res.status, await res.text());
    if (!res.body) return;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (line) yield JSON.parse(line) as WatchEvent<T>;
        }
      }
      const rest = buffer.trim();
      if (rest) yield JSON.parse(rest) as WatchEvent<T>;
    } finally {
      await reader.cancel().catch(() => {});
    }
  }

  /** Closes the connection pool. */
  close(): void {
    this.#http.close();
  }

  async #fetch(method: string, path: string, opts: RequestOptions): Promise<Response> {
    const url = new URL(path, this.#conn.server);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers = new Headers({ accept: "application/json" });
    if (this.#conn.authHeaders) {
      for (const [k, v] of Object.entries(await this.#conn.authHeaders())) headers.set(k, v);
    } else {
      const token = await this.#conn.token?.();
      if (token) headers.set("authorization", `Bearer ${token}`);
    }
    let body: string | null = null;
    if (opts.body !== undefined) {
      headers.set("content-type", opts.contentType ?? "application/json");
      body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    }
    const init: RequestInit & { client: Deno.HttpClient } = {
      method,
      headers,
      body,
      client: this.#http,
    };
    if (opts.signal) init.signal = opts.signal;
    if (this.#conn.skipTlsVerify) {
      return await insecureFetch(url, init, {
        cert: this.#conn.clientCert,
        key: this.#conn.clientKey,
      });
    }
    return await fetch(url, init);
  }
}

function apiError(method: string, path: string, status: number, text: string): KubeApiError {
  let reason: string | undefined;
  let detail = text.slice(0, 500);
  try {
    const s = JSON.parse(text) as { reason?: string; message?: string };
    reason = s.reason;
    if (s.message) detail = s.message;
  } catch {
    // not a Status object: keep the raw text
  }
  return new KubeApiError(method, path, status, reason, detail);
}
