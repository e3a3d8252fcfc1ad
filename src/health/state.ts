/**
 * What the health endpoints say about a running sidecar: ready once every sync has written its
 * initial state, unhealthy when a loop died, a write keeps failing, or the API server has been
 * silent for longer than a watch may be plus one backoff; and the metrics of every stage.
 *
 * @module
 */
import type { Config } from "../config/types.ts";
import type { Sync } from "../sync.ts";
import { mergeFamilies, processMetrics, renderMetrics } from "../util/metrics.ts";
import type { HealthState } from "./server.ts";

/** The parts of a running sidecar the probes read. */
export interface SidecarParts {
  /** The process's settings (timings, health). */
  config: Config;
  syncs: readonly Sync[];
}

/**
 * Builds the {@linkcode HealthState} of a sidecar.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sidecarHealth } from "./state.ts";
 * import { serveHealth } from "./server.ts";
 * import { parseEnv } from "../config/env.ts";
 * const parsed = parseEnv({ FOLDER: "/config", LABEL: "app" });
 * assert.ok(parsed.ok);
 * // app.ts passes the running syncs; with none there is nothing to wait for.
 * const health = sidecarHealth({ config: parsed.config, syncs: [] });
 * assert.ok(health.ready());
 * assert.deepEqual(health.problems(), []);
 * const server = serveHealth({ hostname: "127.0.0.1", port: 0 }, health, {
 *   onListen() {},
 *   onError: (message) => assert.fail(message),
 * });
 * const res = await fetch(`http://127.0.0.1:${server.addrs[0]!.port}/metrics`);
 * assert.match(await res.text(), /^process_resident_memory_bytes \d+/m);
 * await server.shutdown();
 * ```
 */
export function sidecarHealth({ config, syncs }: SidecarParts): HealthState {
  const started = Date.now();
  // Saying "healthy" while the loop is stalled or the API server unreachable would be a lie. A
  // watch may be asked for up to twice WATCH_SERVER_TIMEOUT, and may stay silent until the client
  // timeout beyond that; add one backoff (and the polling interval for METHOD=list).
  const stallMs = (sync: Sync) =>
    ((sync.config.method === "watch" ? 0 : sync.config.sleepTime) + config.watchClientTimeout +
      config.watchServerTimeout + config.errorThrottleSleep) * 1000;
  const ready = () => syncs.every((s) => s.ready);
  return {
    ready,
    notReady: () => syncs.flatMap((s) => s.notReady()),
    problems: () => {
      const out = syncs.flatMap((s) => s.problems(stallMs(s), started));
      // kiwigrid's /healthz is 503 until the initial sync is written; COMPAT=kiwigrid keeps that.
      if (config.healthzUntilReady && !ready()) out.push("initial sync not written yet");
      return out;
    },
    metrics: () =>
      renderMetrics(mergeFamilies([...syncs.flatMap((s) => s.metrics()), ...processMetrics()])),
  };
}
