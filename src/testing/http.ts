/**
 * Local HTTP endpoints for notifier tests: a receiver on 127.0.0.1 that records every request,
 * and a port that refuses connections.
 *
 * @module
 */

/** One request as a {@linkcode receiver} got it. */
export interface ReceivedRequest {
  /** The request method, e.g. `POST`. */
  method: string;
  /** The full URL. */
  url: string;
  /** Path and query. */
  path: string;
  /** Every request header. */
  headers: Headers;
  /** The `Authorization` header, the one notifier tests check most. */
  authorization: string | null;
  /** The `Content-Type` header. */
  contentType: string | null;
  /** The body, decoded as UTF-8. */
  body: string;
}

/** A running {@linkcode receiver}; `await using` shuts it down. */
export interface Receiver extends AsyncDisposable {
  /** The server, e.g. for `server.addr.port`. */
  server: Deno.HttpServer<Deno.NetAddr>;
  /** Every request so far, oldest first. */
  received: ReceivedRequest[];
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** The same as `url`: the origin to allow, e.g. in `REQ_AUTH_ORIGINS`. */
  origin: string;
}

/**
 * Starts a receiver on a loopback port (a free one unless `opts.port` is given) that records every
 * request and answers with `answer(n, req)` (n counts from 0); `ok` by default.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { receiver } from "./http.ts";
 * await using r = receiver((n) => new Response(null, { status: n === 0 ? 503 : 200 }));
 * await fetch(`${r.url}/reload`, { method: "POST", body: "{}" }).then((res) => res.body?.cancel());
 * assert(r.received[0]?.path === "/reload");
 * ```
 */
export function receiver(
  answer: (n: number, req: Request) => Response | Promise<Response> = () => new Response("ok"),
  opts: { port?: number } = {},
): Receiver {
  const received: ReceivedRequest[] = [];
  const port = opts.port ?? 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (req) => {
    const u = new URL(req.url);
    received.push({
      method: req.method,
      url: req.url,
      path: u.pathname + u.search,
      headers: req.headers,
      authorization: req.headers.get("authorization"),
      contentType: req.headers.get("content-type"),
      body: await req.text(),
    });
    return answer(received.length - 1, req);
  });
  const origin = `http://127.0.0.1:${server.addr.port}`;
  return { server, received, url: origin, origin, [Symbol.asyncDispose]: () => server.shutdown() };
}

/**
 * A loopback port that was just in use and is now closed: connecting to it is refused.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { closedPort } from "./http.ts";
 * const port = await closedPort();
 * const refused = await fetch(`http://127.0.0.1:${port}/`).then(() => false, () => true);
 * assert(refused);
 * ```
 */
export async function closedPort(): Promise<number> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response(),
  );
  const port = server.addr.port;
  await server.shutdown();
  return port;
}
