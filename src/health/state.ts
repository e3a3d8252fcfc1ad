/**
 * What the health endpoints say about a running sidecar: ready once the initial sync is written,
 * unhealthy when a loop died or the API server has been silent for longer than a watch may be
 * plus one backoff, and the metrics of every loop.
 *
 * @module
 */
import type { Config } from "../config/types.ts";
import type { NotifyDispatcher } from "../notifiers/dispatcher.ts";
import type { Pipeline } from "../pipeline.ts";
import type { Reconciler } from "../reconciler/reconciler.ts";
import type { ScopeWatcher } from "../source/scope_watcher.ts";
import type { FileStore } from "../writers/file_store.ts";
import { mergeFamilies, processMetrics, renderMetrics } from "../util/metrics.ts";
import type { HealthState } from "./server.ts";

/** The parts of a running sidecar the probes read. */
export interface SidecarParts {
  config: Config;
  watchers: ScopeWatcher[];
  reconciler: Reconciler;
  pipeline: Pipeline;
  dispatcher: NotifyDispatcher;
  store: FileStore;
}

/**
 * Builds the {@linkcode HealthState} of a sidecar.
 *
 * @example
 * ```ts ignore
 * serveHealth(addr, sidecarHealth({ config, watchers, reconciler, pipeline, dispatcher }), onListen);
 * ```
 */
export function sidecarHealth(parts: SidecarParts): HealthState {
  const { config, watchers, reconciler, store } = parts;
  const started = Date.now();
  // Saying "healthy" while the loop is stalled or the API server unreachable would be a lie.
  // A watch may be asked for up to twice WATCH_SERVER_TIMEOUT, and may stay silent until the
  // client timeout beyond that; add one backoff.
  const stallMs = ((config.method === "watch" ? 0 : config.sleepTime) + config.watchClientTimeout +
    config.watchServerTimeout + config.errorThrottleSleep) * 1000;
  return {
    ready: () => reconciler.ready,
    notReady: () =>
      watchers.flatMap((w) =>
        w.failure ? [`${w.scope.id}: cannot list: ${w.failure.message}`] : []
      ),
    problems: () => {
      const out: string[] = [...store.problems()];
      // kiwigrid's /healthz is 503 until the initial sync is written; COMPAT=kiwigrid keeps that.
      if (config.healthzUntilReady && !reconciler.ready) out.push("initial sync not written yet");
      for (const w of watchers) {
        if (w.died) out.push(`${w.scope.id}: loop died: ${w.died.message}`);
        const silentMs = Date.now() - (w.lastActivity || started);
        if (silentMs > stallMs) {
          out.push(
            `${w.scope.id}: no answer from the API server for ${Math.round(silentMs / 1000)}s`,
          );
        }
      }
      return out;
    },
    metrics: () => metrics(parts),
  };
}

function metrics({ watchers, reconciler, pipeline, dispatcher, store }: SidecarParts): string {
  return renderMetrics(mergeFamilies([
    ...reconciler.metrics(),
    ...watchers.flatMap((w) => w.metrics()),
    ...pipeline.metrics(),
    ...store.metrics(),
    ...dispatcher.metrics(),
    ...processMetrics(),
  ]));
}
