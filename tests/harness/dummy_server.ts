/**
 * A local stand-in for the FastAPI "dummy server" of kiwigrid/k8s-sidecar's CI
 * (test/server/server.py), with the same routes and the same answers, so the sidecars' `.url`
 * downloads meet what they meet there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dummyServer } from "./dummy_server.ts";
 * await using dummy = dummyServer(new Uint8Array([1, 2, 3]));
 * const res = await fetch(`${dummy.url}/secured`);
 * assert(res.status === 401 && (await res.json()).detail === "Not authenticated");
 * ```
 *
 * @module
 */
import { type Receiver, receiver } from "../../src/testing/mod.ts";

/** The basic-auth user and password `/secured` accepts. */
export const DUMMY_USER = "user1";
/** @see {@linkcode DUMMY_USER} */
export const DUMMY_PASSWORD = "abcdefghijklmnopqrstuvwxyz";

const json = (value: unknown, status: number, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });

/**
 * Serves `/` and `/200` (200), `/404`, `/500`, `POST /503`, `/secured` (basic auth
 * {@linkcode DUMMY_USER} / {@linkcode DUMMY_PASSWORD}, FastAPI's `{"detail":"Not authenticated"}`
 * without credentials) and `/static/kubelogo.png` (`png`), on a free loopback port.
 */
export function dummyServer(png: Uint8Array): Receiver {
  return receiver((_n, req) => {
    const path = new URL(req.url).pathname;
    const get = req.method === "GET" || req.method === "HEAD";
    if (get && (path === "/" || path === "/200")) return json(200, 200);
    if (get && path === "/404") return json(404, 404);
    if (get && path === "/500") return json(500, 500);
    if (req.method === "POST" && path === "/503") return json(503, 503);
    if (get && path === "/static/kubelogo.png") {
      return new Response(png.slice(), { headers: { "content-type": "image/png" } });
    }
    if (get && path === "/secured") {
      const auth = req.headers.get("authorization");
      const challenge = { "www-authenticate": "Basic" };
      if (!auth?.startsWith("Basic ")) {
        return json({ detail: "Not authenticated" }, 401, challenge);
      }
      const [user, password] = atob(auth.slice(6)).split(/:(.*)/s);
      if (user !== DUMMY_USER || password !== DUMMY_PASSWORD) {
        return json({ detail: "Incorrect user or password" }, 401, challenge);
      }
      return new Response("allowed", { headers: { "content-type": "text/plain; charset=utf-8" } });
    }
    // FastAPI's answers for a known path with another method, and for an unknown path.
    const known = ["/", "/200", "/404", "/500", "/503", "/secured"].includes(path);
    return known ? json({ detail: "Method Not Allowed" }, 405) : json({ detail: "Not Found" }, 404);
  });
}
