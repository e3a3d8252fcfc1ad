/**
 * Wires a resolved configuration into a running sidecar: one connection, one health server, and
 * one {@linkcode Sync} per sync (source → reconciler → writers → notifiers), identical watches of
 * watch-mode syncs shared; runs them in their methods until done or aborted.
 *
 * @module
 */
import type { SyncPlan } from "./config/resolve.ts";
import type { Config } from "./config/types.ts";
import { serveHealth } from "./health/server.ts";
import { sidecarHealth } from "./health/state.ts";
import { KubeClient } from "./kube/client.ts";
import { resolveConnection } from "./kube/connect.ts";
import type { Logger } from "./plugin/logger.ts";
import { ScopeHub } from "./source/scope_hub.ts";
import { Sync } from "./sync.ts";

/** Inputs of {@linkcode runSidecar}. */
export interface RunOptions {
  /** The process's settings: connection, health, timings. */
  config: Config;
  /** Every sync to run, with its plugin instances loaded and their options validated. */
  syncs: SyncPlan[];
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
 * import { runSidecar } from "./app.ts";
 * import { resolveConfiguration } from "./config/resolve.ts";
 * import { createLogger } from "./log.ts";
 * const env = Deno.env.toObject();
 * const resolved = await resolveConfiguration(env, Deno.args);
 * if (!resolved.ok) throw new Error(resolved.errors.join("\n"));
 * const { config, syncs } = resolved;
 * const logger = createLogger({ level: config.logLevel, format: config.logFormat });
 * const shutdown = new AbortController();
 * Deno.addSignalListener("SIGTERM", () => shutdown.abort());
 * const code = await runSidecar({ config, syncs, env, logger, signal: shutdown.signal });
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
  for (const plan of opts.syncs) {
    const c = plan.config;
    logger.info("starting", {
      ...(plan.name === undefined ? {} : { sync: plan.name }),
      compat: c.compat,
      method: c.method,
      server: connection.server,
      auth: source,
      namespaces: c.namespaces === "ALL" ? "ALL" : c.namespaces.join(","),
      ...(c.namespaceSelector === undefined ? {} : { namespaceSelector: c.namespaceSelector }),
      resources: c.resources.join(","),
      labelSelector: c.labelSelector,
      folder: c.folder,
    });
  }
  const client = new KubeClient(connection);
  const hub = new ScopeHub(client, {
    timings: {
      watchServerTimeout: config.watchServerTimeout,
      watchClientTimeout: config.watchClientTimeout,
      errorThrottleSleep: config.errorThrottleSleep,
    },
    logger: logger.child("source"),
    signal,
  });
  const syncs: Sync[] = [];
  try {
    for (const plan of opts.syncs) {
      syncs.push(await Sync.start(plan, { client, hub, logger, signal }));
    }
  } catch (e) {
    for (const s of syncs) await s.close(0);
    client.close();
    throw e;
  }

  const probes = opts.syncs.every((p) => p.config.method === "sleep") ? undefined : serveHealth(
    { hostname: config.healthHost, port: config.healthPort },
    sidecarHealth({ config, syncs }),
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
    const shared = hub.run((watcher, error) => {
      for (const s of syncs) if (s.watchers.includes(watcher)) s.loopDied(watcher, error);
    });
    const codes = await Promise.all(syncs.map((s) => s.run()));
    await shared;
    code = Math.max(0, ...codes, ...syncs.map((s) => s.loopCode));
  } finally {
    for (const s of syncs) await s.close(2000);
    await probes?.shutdown();
    client.close();
  }
  logger.info("stopped", { code });
  return code;
}
