/**
 * `/healthz`, `/readyz` and `/metrics` on `HEALTH_HOST:HEALTH_PORT`.
 *
 * Readiness means the initial sync is written. Liveness fails when a loop died or a watch has
 * been silent past its client timeout (a stalled watch must not look healthy).
 *
 * @module
 */

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

/**
 * Starts the server; close it with `shutdown()`.
 *
 * @example
 * ```ts ignore
 * const server = serveHealth({ hostname: "0.0.0.0", port: 8080 }, state, logger);
 * await server.shutdown();
 * ```
 */
export function serveHealth(
  addr: { hostname: string; port: number },
  state: HealthState,
  onListen: (addr: Deno.NetAddr) => void,
): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: addr.hostname, port: addr.port, onListen }, (req) => {
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
  });
}

/** One metric family for {@linkcode renderMetrics}. */
export interface Metric {
  name: string;
  help: string;
  type: "counter" | "gauge";
  samples: { labels?: Record<string, string>; value: number }[];
}

/**
 * Renders metric families in the Prometheus text format.
 *
 * @example
 * ```ts
 * import { renderMetrics } from "./server.ts";
 * renderMetrics([{ name: "up", help: "Up.", type: "gauge", samples: [{ value: 1 }] }]);
 * // "# HELP up Up.\n# TYPE up gauge\nup 1\n"
 * ```
 */
export function renderMetrics(metrics: Metric[]): string {
  let out = "";
  for (const m of metrics) {
    out += `# HELP ${m.name} ${m.help}\n# TYPE ${m.name} ${m.type}\n`;
    for (const s of m.samples) {
      const labels = Object.entries(s.labels ?? {})
        .map(([k, v]) =>
          `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`
        )
        .join(",");
      out += `${m.name}${labels ? `{${labels}}` : ""} ${s.value}\n`;
    }
  }
  return out;
}
