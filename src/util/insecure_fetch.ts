/**
 * A `fetch` without certificate verification, for `SKIP_TLS_VERIFY` (the Kubernetes client) and
 * `REQ_SKIP_TLS_VERIFY` (notifications, `.url` downloads): Deno's fetch verifies certificates
 * per process, not per client, so these requests go through `node:http(s)` with
 * `rejectUnauthorized: false`. Redirects are not followed (callers that follow them do so by
 * hand). The body streams, so watches work through it too, and a connection cut before the end
 * of the body errors the stream instead of passing for a complete answer.
 *
 * @module
 */

/** TLS client material for {@linkcode insecureFetch}. */
export interface InsecureTls {
  cert?: string | undefined;
  key?: string | undefined;
}

// Statuses whose responses never have a body (the Response constructor refuses one).
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * Sends one request without verifying the server's certificate.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { insecureFetch } from "./insecure_fetch.ts";
 * import { receiver } from "../testing/http.ts";
 * // Plain HTTP on loopback here; with an https: URL, any server certificate is accepted.
 * await using server = receiver((n) =>
 *   n === 0 ? Response.redirect("http://127.0.0.1:1/elsewhere", 302) : new Response("v1.33")
 * );
 * const moved = await insecureFetch(new URL(`${server.url}/version`), { method: "GET" });
 * assert.equal(moved.status, 302); // not followed: that is the caller's call
 * await moved.body?.cancel();
 * const res = await insecureFetch(new URL(`${server.url}/version`), { method: "GET" });
 * assert.equal(await res.text(), "v1.33");
 * ```
 */
export async function insecureFetch(
  url: URL,
  init: RequestInit,
  tls: InsecureTls = {},
): Promise<Response> {
  // Loaded only when verification is actually off.
  const { request } = url.protocol === "https:"
    ? await import("node:https")
    : await import("node:http");
  return await new Promise((resolve, reject) => {
    const signal = init.signal ?? undefined;
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => (headers[k] = v));
    const req = request(url, {
      method: init.method ?? "GET",
      headers,
      rejectUnauthorized: false,
      cert: tls.cert,
      key: tls.key,
    }, (res) => {
      const resHeaders = new Headers();
      for (const [name, value] of Object.entries(res.headers)) {
        for (const v of Array.isArray(value) ? value : [value ?? ""]) resHeaders.append(name, v);
      }
      const status = res.statusCode ?? 0;
      // Once the stream is closed, errored or cancelled, later events of the socket are ignored.
      let settled = false;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          const finish = (e?: unknown) => {
            if (settled) return;
            settled = true;
            if (e === undefined) controller.close();
            else controller.error(e);
          };
          res.on(
            "data",
            (chunk: Uint8Array) => settled || controller.enqueue(new Uint8Array(chunk)),
          );
          res.on("end", () => finish());
          res.on("error", (e) => finish(e));
          res.on("close", () => finish(new Error("connection closed before the end")));
        },
        cancel() {
          settled = true;
          res.destroy();
        },
      });
      if (NULL_BODY.has(status)) void body.cancel();
      resolve(new Response(NULL_BODY.has(status) ? null : body, { status, headers: resHeaders }));
    });
    const onAbort = () =>
      req.destroy(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
    if (signal?.aborted) return reject(signal.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    req.on("error", (e) => reject(e));
    req.on("close", () => signal?.removeEventListener("abort", onAbort));
    req.end(typeof init.body === "string" ? init.body : undefined);
  });
}
