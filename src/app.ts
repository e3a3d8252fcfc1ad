/**
 * Wires a {@linkcode Config} into a running sidecar: source → reconciler → writers → notifiers,
 * plus health, and runs it in the configured mode until done or aborted.
 *
 * @module
 */
import type { Config } from "./config/types.ts";
import { serveHealth } from "./health/server.ts";
import { sidecarHealth } from "./health/state.ts";
import { KubeClient } from "./kube/client.ts";
import { resolveConnection } from "./kube/connect.ts";
import { NotifyDispatcher } from "./notifiers/dispatcher.ts";
import { notifierSlots, Pipeline } from "./pipeline.ts";
import { PluginHost } from "./host/plugin_host.ts";
import type { Logger } from "./plugin/logger.ts";
import type { LoadedInstanceSpec } from "./host/loader.ts";
import { Reconciler } from "./reconciler/reconciler.ts";
import { listWatchFor } from "./source/list_watch.ts";
import { selectScopes } from "./source/scope.ts";
import { ScopeWatcher } from "./source/scope_watcher.ts";
import { errorMessage } from "./util/errors.ts";
import { FileStore } from "./writers/file_store.ts";
import { resolveUrlEntries, urlEntryOptions } from "./writers/url_entries.ts";

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
    serviceAccountDir: config.serviceAccountDir,
  });
  if (config.skipTlsVerify) {
    logger.warn("SKIP_TLS_VERIFY=true: the API server's certificate is not verified");
  }
  if (config.disableX509Strict) {
    logger.info(
      "DISABLE_X509_STRICT_VERIFICATION=true changes nothing here: the certificates it lets " +
        "through in kiwigrid (no key identifiers, as older Kubernetes CAs made them) are accepted " +
        "anyway; verification stays on",
    );
  }
  logger.info("starting", {
    compat: config.compat,
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
    stateDir: config.stateDir,
    atomicSet: config.atomicSet,
    logger: logger.child("sink"),
  });

  const host = await PluginHost.create({
    writers: opts.writers,
    notifiers: opts.notifiers,
    sinkFor: (instance) => store.scoped(instance),
    logger,
    signal,
  });
  const dispatcher = new NotifyDispatcher(notifierSlots(host), {
    signal,
    logger: logger.child("notify"),
  });

  // RESOURCE_NAME narrows on the server where it can; scopes no entry can match are not watched.
  const scopes = selectScopes({
    kinds: config.resources,
    namespaces: config.namespaces,
    labelSelector: config.labelSelector,
    names: config.resourceNames,
    namesIgnoreLabel: config.resourceNamesIgnoreLabel,
  });
  const urlOptions = urlEntryOptions(config.downloads, logger.child("url"), signal);
  const pipeline = new Pipeline({
    store,
    host,
    dispatcher,
    logger: logger.child("pipeline"),
    prepare: (cs) => resolveUrlEntries(cs, urlOptions),
  });
  const reconciler = new Reconciler({
    folder: config.folder,
    folderAnnotation: config.folderAnnotation,
    folderAnnotationRoots: config.folderAnnotationRoots,
    uniqueFilenames: config.uniqueFilenames,
    defaultFileMode: config.defaultFileMode,
    secretFileMode: config.secretFileMode,
    // Scopes that read objects by name select exactly; the names must not filter them again.
    resourceNames: config.resourceNamesIgnoreLabel ? [] : config.resourceNames,
    scopes,
    logger: logger.child("reconciler"),
    apply: (step) => pipeline.apply(step),
  });
  dispatcher.holdWhile(() => reconciler.busy);
  const timings = {
    watchServerTimeout: config.watchServerTimeout,
    watchClientTimeout: config.watchClientTimeout,
    errorThrottleSleep: config.errorThrottleSleep,
  };
  const watchers = scopes.map((scope) =>
    new ScopeWatcher(listWatchFor(client, scope.path), scope, reconciler, {
      labelSelector: scope.labelSelector ?? "",
      fieldSelector: scope.fieldSelector,
      timings,
      logger: logger.child("source"),
      signal,
    })
  );

  const health = config.method === "sleep" ? undefined : serveHealth(
    { hostname: config.healthHost, port: config.healthPort },
    sidecarHealth({ config, watchers, reconciler, pipeline, dispatcher, store }),
    {
      onListen: (addr) => {
        const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
        logger.info("health endpoints listening", { address: `${host}:${addr.port}` });
      },
      onError: (message, fields) => logger.error(message, fields),
    },
  );

  let code = 0;
  try {
    if (config.method === "sleep") {
      code = await runOnce(watchers, reconciler, pipeline, dispatcher, logger);
    } else {
      await Promise.all(
        watchers.map((w) =>
          (config.method === "list" ? w.poll(config.sleepTime * 1000) : w.run()).catch((e) => {
            // /healthz reports it while the others run; the exit code says it at the end.
            logger.error("watch loop died", { scope: w.scope.id, error: errorMessage(e) });
            code = 1;
          })
        ),
      );
    }
  } finally {
    await reconciler.close();
    await dispatcher.close(2000);
    await host.close();
    await store.close();
    await health?.shutdown();
    client.close();
  }
  logger.info("stopped", { code });
  return code;
}

async function runOnce(
  watchers: ScopeWatcher[],
  reconciler: Reconciler,
  pipeline: Pipeline,
  dispatcher: NotifyDispatcher,
  logger: Logger,
): Promise<number> {
  // Every scope is tried, so that one the sidecar may not read does not keep the others' files
  // from being written; the exit code still says it failed.
  const results = await Promise.allSettled(watchers.map((w) => w.listOnce()));
  const failed = results.flatMap((r, i) =>
    r.status === "rejected" ? [`${watchers[i]!.scope.id}: ${errorMessage(r.reason)}`] : []
  );
  await reconciler.initialApplied;
  await reconciler.idle();
  await dispatcher.idle();
  for (const f of failed) logger.error("sync failed", { error: f });
  // Refused keys (content that does not parse) are logged but do not fail a one-shot sync; a
  // scope that could not be listed, an object that could not be placed or a writer that failed do.
  return failed.length > 0 || reconciler.stats.rejectedObjects > 0 ||
      pipeline.stats.writerErrors > 0
    ? 1
    : 0;
}
