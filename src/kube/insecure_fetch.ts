/**
 * A `fetch` for `SKIP_TLS_VERIFY=true`: Deno's fetch verifies certificates per process, not per
 * client, so this one request path goes through `node:https` with `rejectUnauthorized: false`.
 * The response body streams, so watches work through it too.
 *
 * @module
 */
import * as https from "node:https";
import { Readable } from "node:stream";

/** TLS client material for {@linkcode insecureFetch}. */
export interface InsecureTls {
  cert?: string | undefined;
  key?: string | undefined;
}

/**
 * Sends one request without verifying the server's certificate.
 *
 * @example
 * ```ts ignore
 * const res = await insecureFetch(new URL("https://127.0.0.1:6443/version"), { method: "GET" }, {});
 * ```
 */
export function insecureFetch(url: URL, init: RequestInit, tls: InsecureTls): Promise<Response> {
  return new Promise((resolve, reject) => {
    const signal = init.signal ?? undefined;
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => (headers[k] = v));
    const req = https.request(url, {
      method: init.method ?? "GET",
      headers,
      rejectUnauthorized: false,
      cert: tls.cert,
      key: tls.key,
    }, (res) => {
      const resHeaders = new Headers();
      for (const [k, v] of Object.entries(res.headers)) {
        if (v !== undefined) resHeaders.set(k, Array.isArray(v) ? v.join(", ") : v);
      }
      const body = Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>;
      resolve(new Response(body, { status: res.statusCode ?? 0, headers: resHeaders }));
    });
    const onAbort = () =>
      req.destroy(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
    signal?.addEventListener("abort", onAbort, { once: true });
    req.on("error", (e) => reject(e));
    req.on("close", () => signal?.removeEventListener("abort", onAbort));
    req.end(typeof init.body === "string" ? init.body : undefined);
  });
}
