/**
 * `/healthz`, `/readyz` and `/metrics` on `HEALTH_HOST:HEALTH_PORT`.
 *
 * Readiness means the initial sync is written. Liveness fails when a loop died or a watch has
 * been silent past its client timeout (a stalled watch must not look healthy), and under
 * `COMPAT=kiwigrid` also until the initial sync is written (kiwigrid's `/healthz`).
 *
 * @module
 */
import { messageOf } from "../util/errors.ts";

/** What the probes read. */
export interface HealthState {
  ready(): boolean;
  /** Why the sidecar is not ready (e.g. a scope it may not read); shown by `/readyz`. */
  notReady(): string[];
  /** Reasons the process is unhealthy; empty when healthy. */
  problems(): string[];
  /** Prometheus text exposition. */
  metrics(): string;
}

/** Where {@linkcode serveHealth} listens. */
export interface HealthAddress {
  /** Undefined: `::` (IPv6 and IPv4), or `0.0.0.0` where IPv6 is unavailable. */
  hostname?: string | undefined;
  port: number;
}

/** Reports of {@linkcode serveHealth}. */
export interface HealthReports {
  /** Called with each address listened on. */
  onListen(addr: Deno.NetAddr): void;
  /** Called when the server cannot listen; `message` names HEALTH_HOST/HEALTH_PORT. */
  onError(message: string, fields: Record<string, string>): void;
}

/** A running health server (possibly not listening: see {@linkcode HealthReports.onError}). */
export interface HealthServer {
  /** The addresses listened on; empty when listening failed. */
  readonly addrs: readonly Deno.NetAddr[];
  shutdown(): Promise<void>;
}

/**
 * Starts the server. Never throws: an address in use or a host that cannot be listened on is
 * reported through `reports.onError`, and the sidecar syncs on without probes (two sidecars in
 * one pod with the default port must not take each other down).
 *
 * Without a hostname it listens on `::`, which on Linux takes IPv4 as well unless
 * `net.ipv6.bindv6only` is set; `0.0.0.0` on the same port is tried too, so IPv4 is served in
 * that case as well. Where IPv6 is unavailable it listens on `0.0.0.0` alone. `serve` is
 * `Deno.serve` (replaceable for a test of that fallback).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serveHealth } from "./server.ts";
 * const server = serveHealth({ hostname: "127.0.0.1", port: 0 }, {
 *   ready: () => true,
 *   notReady: () => [],
 *   problems: () => [],
 *   metrics: () => "",
 * }, { onListen() {}, onError: (m) => console.error(m) });
 * const res = await fetch(`http://127.0.0.1:${server.addrs[0]!.port}/healthz`);
 * assert(res.status === 200 && (await res.text()) === "ok\n");
 * await server.shutdown();
 * ```
 */
export function serveHealth(
  addr: HealthAddress,
  state: HealthState,
  reports: HealthReports,
  serve: typeof Deno.serve = Deno.serve,
): HealthServer {
  const servers: Deno.HttpServer<Deno.NetAddr>[] = [];
  const listen = (hostname: string, port: number) => {
    const server = serve({ hostname, port, onListen() {} }, (req) => answer(req, state));
    servers.push(server);
    reports.onListen(server.addr);
    return server;
  };
  const fail = (hostname: string, e: unknown) => {
    const shown = hostname.includes(":")
      ? `[${hostname}]:${addr.port}`
      : `${hostname}:${addr.port}`;
    const why = e instanceof Deno.errors.AddrInUse
      ? "is already in use (two sidecars in one pod need a HEALTH_PORT each)"
      : `cannot be listened on (${messageOf(e)})`;
    reports.onError(
      `health server not started: HEALTH_HOST/HEALTH_PORT address ${shown} ${why}; ` +
        "syncing goes on without /healthz, /readyz and /metrics",
      {
        address: shown,
        HEALTH_HOST: addr.hostname ?? "(unset)",
        HEALTH_PORT: String(addr.port),
      },
    );
  };
  if (addr.hostname !== undefined) {
    try {
      listen(addr.hostname, addr.port);
    } catch (e) {
      fail(addr.hostname, e);
    }
  } else {
    let v6: Deno.HttpServer<Deno.NetAddr> | undefined;
    let v6Error: unknown;
    try {
      v6 = listen("::", addr.port);
    } catch (e) {
      v6Error = e;
    }
    if (v6 !== undefined) {
      // With net.ipv6.bindv6only=1, `::` leaves IPv4 free: take it too. Usually it is in use
      // by the dual-stack socket itself, which is fine.
      try {
        listen("0.0.0.0", v6.addr.port);
      } catch {
        // dual-stack already
      }
    } else if (v6Error instanceof Deno.errors.AddrInUse) {
      fail("::", v6Error);
    } else {
      // No IPv6 on this machine.
      try {
        listen("0.0.0.0", addr.port);
      } catch (e) {
        fail("0.0.0.0", e);
      }
    }
  }
  return {
    get addrs() {
      return servers.map((s) => s.addr);
    },
    shutdown: async () => {
      await Promise.all(servers.map((s) => s.shutdown()));
    },
  };
}

function answer(req: Request, state: HealthState): Response {
  const path = new URL(req.url).pathname;
  const text = (status: number, body: string, type = "text/plain; charset=utf-8") =>
    new Response(body, { status, headers: { "content-type": type } });
  switch (path) {
    case "/readyz":
      return state.ready()
        ? text(200, "ok\n")
        : text(503, ["initial sync not written yet", ...state.notReady()].join("\n") + "\n");
    case "/healthz": {
      const problems = state.problems();
      return problems.length === 0 ? text(200, "ok\n") : text(503, problems.join("\n") + "\n");
    }
    case "/metrics":
      return text(200, state.metrics(), "text/plain; version=0.0.4; charset=utf-8");
    default:
      return text(404, "not found\n");
  }
}

export { type Metric, renderMetrics } from "../util/metrics.ts";
