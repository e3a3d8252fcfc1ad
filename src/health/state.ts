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
import { type HealthState, renderMetrics } from "./server.ts";

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
  const stallMs = ((config.method === "watch" ? 0 : config.sleepTime) + config.watchClientTimeout +
    config.errorThrottleSleep) * 1000;
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
  const perScope = (f: (w: ScopeWatcher) => number) =>
    watchers.map((w) => ({ labels: { scope: w.scope.id }, value: f(w) }));
  const notify = Object.entries(dispatcher.stats());
  return renderMetrics([
    {
      name: "gsidecar_ready",
      help: "1 once the initial sync is written.",
      type: "gauge",
      samples: [{ value: reconciler.ready ? 1 : 0 }],
    },
    {
      name: "gsidecar_objects",
      help: "Selected objects.",
      type: "gauge",
      samples: [{ value: reconciler.objectCount }],
    },
    {
      name: "gsidecar_lists_total",
      help: "Lists per scope.",
      type: "counter",
      samples: perScope((w) => w.stats.lists),
    },
    {
      name: "gsidecar_cached_lists_total",
      help: "Relists answered from the API server's watch cache per scope.",
      type: "counter",
      samples: perScope((w) => w.stats.cachedLists),
    },
    {
      name: "gsidecar_watches_total",
      help: "Watch streams opened per scope.",
      type: "counter",
      samples: perScope((w) => w.stats.watches),
    },
    {
      name: "gsidecar_watch_events_total",
      help: "Watch events per scope.",
      type: "counter",
      samples: perScope((w) => w.stats.events),
    },
    {
      name: "gsidecar_watch_gaps_total",
      help: "Watch gaps (relists) per scope.",
      type: "counter",
      samples: perScope((w) => w.stats.gaps),
    },
    {
      name: "gsidecar_source_errors_total",
      help: "Failed lists per scope.",
      type: "counter",
      samples: perScope((w) => w.stats.errors),
    },
    {
      name: "gsidecar_last_activity_seconds",
      help: "Unix time of the API server's last sign of life per scope.",
      type: "gauge",
      samples: perScope((w) => w.lastActivity / 1000),
    },
    {
      name: "gsidecar_sync_pending",
      help: "1 while changes wait or are being written.",
      type: "gauge",
      samples: [{ value: reconciler.busy ? 1 : 0 }],
    },
    {
      name: "gsidecar_change_sets_total",
      help: "Change sets applied.",
      type: "counter",
      samples: [{ value: pipeline.stats.changeSets }],
    },
    {
      name: "gsidecar_files_written_total",
      help: "Files written.",
      type: "counter",
      samples: [{ value: pipeline.stats.filesWritten }],
    },
    {
      name: "gsidecar_files_removed_total",
      help: "Files removed.",
      type: "counter",
      samples: [{ value: pipeline.stats.filesRemoved }],
    },
    {
      name: "gsidecar_rejected_total",
      help: "Keys or objects refused.",
      type: "counter",
      samples: [{ value: pipeline.stats.rejected + reconciler.stats.rejectedObjects }],
    },
    {
      name: "gsidecar_writer_errors_total",
      help: "Writer calls that failed.",
      type: "counter",
      samples: [{ value: pipeline.stats.writerErrors }],
    },
    {
      name: "gsidecar_write_failures_total",
      help: "File writes, mode changes and removals that failed (each is retried).",
      type: "counter",
      samples: [{ value: store.stats.failures }],
    },
    {
      name: "gsidecar_write_retries_total",
      help: "Rounds of retrying failed writes and removals.",
      type: "counter",
      samples: [{ value: store.stats.retries }],
    },
    {
      name: "gsidecar_failing_paths",
      help: "Paths whose last write or removal failed.",
      type: "gauge",
      samples: [{ value: store.failingPaths }],
    },
    {
      name: "gsidecar_journal_syncs_total",
      help: "Syncs of the ownership record to disk.",
      type: "counter",
      samples: [{ value: store.stats.journalSyncs }],
    },
    {
      name: "gsidecar_notification_pending",
      help: "1 while a notification waits for a quiet moment, is sent or waits to be retried.",
      type: "gauge",
      samples: notify.map(([instance]) => ({
        labels: { instance },
        value: dispatcher.busy().includes(instance) ? 1 : 0,
      })),
    },
    {
      name: "gsidecar_notifications_total",
      help: "Notifications delivered per instance.",
      type: "counter",
      samples: notify.map(([instance, s]) => ({ labels: { instance }, value: s.sent })),
    },
    {
      name: "gsidecar_notification_failures_total",
      help: "Notifications given up per instance.",
      type: "counter",
      samples: notify.map(([instance, s]) => ({ labels: { instance }, value: s.failed })),
    },
    {
      name: "gsidecar_notification_retries_total",
      help: "Notification retries per instance.",
      type: "counter",
      samples: notify.map(([instance, s]) => ({ labels: { instance }, value: s.retries })),
    },
    {
      name: "gsidecar_notifications_coalesced_total",
      help: "Change sets merged into a pending notification per instance.",
      type: "counter",
      samples: notify.map(([instance, s]) => ({ labels: { instance }, value: s.coalesced })),
    },
  ]);
}
