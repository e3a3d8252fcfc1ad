/**
 * Wires a {@linkcode Config} into a running sidecar: source → reconciler → writers → notifiers,
 * plus health, and runs it in the configured mode until done or aborted.
 *
 * @module
 */
import type { Config } from "./config/types.ts";
import { renderMetrics, serveHealth } from "./health/server.ts";
import { KubeClient } from "./kube/client.ts";
import { resolveConnection } from "./kube/connect.ts";
import { NotifyDispatcher } from "./notifiers/dispatcher.ts";
import { notifierSlots, Pipeline } from "./pipeline.ts";
import type { Notifier, Writer } from "./plugin/contract.ts";
import { createNotifier, createWriter, type Slot } from "./plugin/instantiate.ts";
import type { Logger } from "./plugin/logger.ts";
import type { LoadedInstanceSpec } from "./plugin/loader.ts";
import { Reconciler } from "./reconciler/reconciler.ts";
import { nameSelectorFor, scopesFor } from "./source/scope.ts";
import { ScopeWatcher, sleep } from "./source/scope_watcher.ts";
import { errorMessage } from "./util/errors.ts";
import { FileStore } from "./writers/file_store.ts";
import { resolveUrlEntries, type UrlEntryOptions } from "./writers/url_entries.ts";

/** Inputs of {@linkcode runSidecar}. */
export interface RunOptions {
  config: Config;
  /** Writer and notifier instances, loaded and with validated options (see `config/resolve.ts`). */
  writers: LoadedInstanceSpec[];
  notifiers: LoadedInstanceSpec[];
  env: Record<string, string | undefined>;
  logger: Logger;
  /** Aborts on SIGTERM/SIGINT: finish the write in progress and return 0. */
  signal: AbortSignal;
}

/**
 * Runs the sidecar; resolves with the process exit code.
 *
 * @example
 * ```ts ignore
 * const code = await runSidecar({ config, env: Deno.env.toObject(), logger, signal });
 * ```
 */
export async function runSidecar(opts: RunOptions): Promise<number> {
  const { config, logger, signal } = opts;
  const { connection, source } = await resolveConnection({
    env: opts.env,
    kubeconfig: config.kubeconfig,
    skipTlsVerify: config.skipTlsVerify,
  });
  if (config.skipTlsVerify) {
    logger.warn("SKIP_TLS_VERIFY=true: the API server's certificate is not verified");
  }
  logger.info("starting", {
    method: config.method,
    server: connection.server,
    auth: source,
    namespaces: config.namespaces === "ALL" ? "ALL" : config.namespaces.join(","),
    resources: config.resources.join(","),
    labelSelector: config.labelSelector,
    folder: config.folder,
  });
  const client = new KubeClient(connection);
  const store = await FileStore.open({
    folder: config.folder,
    allowedRoots: config.folderAnnotationRoots,
    logger: logger.child("sink"),
  });

  const writers: Slot<Writer>[] = [];
  for (const w of opts.writers) {
    if (w.definition.kind !== "writer") continue;
    writers.push(
      await createWriter(w.definition, w.options, {
        instance: w.label,
        logger: logger.child("writer", w.label),
        signal,
        sink: store.scoped(w.label),
        timeoutMs: w.timeoutMs,
      }),
    );
  }
  const notifiers: Slot<Notifier>[] = [];
  for (const n of opts.notifiers) {
    if (n.definition.kind !== "notifier") continue;
    notifiers.push(
      await createNotifier(n.definition, n.options, {
        instance: n.label,
        logger: logger.child("notifier", n.label),
        signal,
        timeoutMs: n.timeoutMs,
      }),
    );
  }
  const dispatcher = new NotifyDispatcher(notifierSlots(notifiers), {
    signal,
    logger: logger.child("notify"),
  });

  // RESOURCE_NAME narrows on the server where it can; scopes no entry can match are not watched.
  const scopes = scopesFor(config.resources, config.namespaces)
    .filter((scope) => nameSelectorFor(scope, config.resourceNames) !== undefined);
  const pipeline = new Pipeline({
    store,
    writers,
    dispatcher,
    logger: logger.child("pipeline"),
    liveRefs: () => reconciler.liveRefs(),
    prepare: (cs) => resolveUrlEntries(cs, urlEntryOptions(config, logger.child("url"), signal)),
  });
  const reconciler: Reconciler = new Reconciler({
    folder: config.folder,
    folderAnnotation: config.folderAnnotation,
    folderAnnotationRoots: config.folderAnnotationRoots,
    uniqueFilenames: config.uniqueFilenames,
    defaultFileMode: config.defaultFileMode,
    resourceNames: config.resourceNames,
    scopes,
    logger: logger.child("reconciler"),
    apply: (cs) => pipeline.apply(cs),
  });
  const timings = {
    watchServerTimeout: config.watchServerTimeout,
    watchClientTimeout: config.watchClientTimeout,
    errorThrottleSleep: config.errorThrottleSleep,
  };
  const watchers = scopes.map((scope) =>
    new ScopeWatcher(client, scope, reconciler, {
      labelSelector: config.labelSelector,
      fieldSelector: nameSelectorFor(scope, config.resourceNames)?.fieldSelector,
      timings,
      logger: logger.child("source"),
      signal,
    })
  );

  const started = Date.now();
  const health = config.method === "sleep" ? undefined : serveHealth(
    { hostname: config.healthHost, port: config.healthPort },
    {
      ready: () => reconciler.ready,
      problems: () => {
        const out: string[] = [];
        // Silent for longer than one watch may be plus one backoff: the loop is stalled or the
        // API server unreachable, and saying "healthy" would be a lie.
        const stallMs =
          ((config.method === "watch" ? 0 : config.sleepTime) + config.watchClientTimeout +
            config.errorThrottleSleep) * 1000;
        for (const w of watchers) {
          if (w.died) out.push(`${w.scope.id}: loop died: ${w.died.message}`);
          const last = w.lastActivity || started;
          if (Date.now() - last > stallMs) {
            out.push(
              `${w.scope.id}: no answer from the API server for ${
                Math.round((Date.now() - last) / 1000)
              }s`,
            );
          }
        }
        return out;
      },
      metrics: () => metrics(watchers, reconciler, pipeline, dispatcher),
    },
    (addr) =>
      logger.info("health endpoints listening", { address: `${addr.hostname}:${addr.port}` }),
  );

  let code = 0;
  try {
    if (config.method === "sleep") {
      code = await runOnce(watchers, reconciler, pipeline, dispatcher, logger);
    } else if (config.method === "list") {
      while (!signal.aborted) {
        for (const w of watchers) await w.listWithRetry().catch(() => {});
        await sleep(config.sleepTime * 1000, signal);
      }
    } else {
      await Promise.all(
        watchers.map((w) =>
          w.run().catch((e) =>
            logger.error("watch loop died", { scope: w.scope.id, error: String(e) })
          )
        ),
      );
    }
  } finally {
    await reconciler.close();
    await dispatcher.close(2000);
    for (const slot of [...writers, ...notifiers]) {
      try {
        await slot.impl.close?.();
      } catch (e) {
        logger.warn("plugin close failed", {
          plugin: slot.plugin,
          instance: slot.instance,
          error: String(e),
        });
      }
    }
    await store.close();
    await health?.shutdown();
    client.close();
  }
  logger.info("stopped", { code });
  return code;
}

/** `.url` downloads use the REQ_* timings; credentials only for REQ_URL's origin. */
function urlEntryOptions(config: Config, logger: Logger, signal: AbortSignal): UrlEntryOptions {
  const http = config.http;
  const read = async (value: string | undefined, file: string | undefined) =>
    file ? (await Deno.readTextFile(file)).replace(/\r?\n$/, "") : value;
  return {
    timeoutMs: http?.timeoutMs ?? 10_000,
    retries: http?.retryTotal ?? 5,
    backoffMs: (http?.backoffFactor ?? 1.1) * 1000,
    enable5xx: http?.enable5xx ?? false,
    auth: http && {
      origin: new URL(http.url).origin,
      credentials: async () => {
        const username = await read(http.username, http.usernameFile);
        const password = await read(http.password, http.passwordFile);
        return username !== undefined && password !== undefined
          ? { username, password }
          : undefined;
      },
    },
    logger,
    signal,
  };
}

async function runOnce(
  watchers: ScopeWatcher[],
  reconciler: Reconciler,
  pipeline: Pipeline,
  dispatcher: NotifyDispatcher,
  logger: Logger,
): Promise<number> {
  try {
    for (const w of watchers) await w.list();
  } catch (e) {
    logger.error("sync failed", { error: errorMessage(e) });
    return 1;
  }
  await reconciler.initialApplied;
  await reconciler.idle();
  await dispatcher.idle();
  // Refused keys (content that does not parse) are logged but do not fail a one-shot sync; an
  // object that could not be placed or a writer that failed does.
  const failed = reconciler.stats.rejectedObjects > 0 || pipeline.stats.writerErrors > 0;
  return failed ? 1 : 0;
}

function metrics(
  watchers: ScopeWatcher[],
  reconciler: Reconciler,
  pipeline: Pipeline,
  dispatcher: NotifyDispatcher,
): string {
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
  ]);
}
