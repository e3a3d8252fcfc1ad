/**
 * k8s-gsidecar's command-line entry: configuration from the environment, exit code 2 on bad
 * configuration (before the folder is touched), SIGTERM/SIGINT finish the write in progress and
 * exit 0.
 *
 * @module
 */
import { runSidecar } from "./src/app.ts";
import { resolveConfiguration } from "./src/config/resolve.ts";
import { createLogger } from "./src/log.ts";
import { errorMessage } from "./src/util/errors.ts";

async function main(): Promise<number> {
  const env = Deno.env.toObject();
  const parsed = await resolveConfiguration(env, Deno.args);
  if (!parsed.ok) {
    const lines = ["k8s-gsidecar: invalid configuration:", ...parsed.errors.map((e) => `  - ${e}`)];
    Deno.stderr.writeSync(new TextEncoder().encode(lines.join("\n") + "\n"));
    return 2;
  }
  const { config } = parsed;
  const logger = createLogger({ level: config.logLevel, format: config.logFormat });
  for (const w of parsed.warnings) logger.warn(w);
  const ac = new AbortController();
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(sig, () => {
      logger.info("signal received; finishing the write in progress", { signal: sig });
      ac.abort();
    });
  }
  try {
    return await runSidecar({
      config,
      writers: parsed.writers,
      notifiers: parsed.notifiers,
      env,
      logger,
      signal: ac.signal,
    });
  } catch (e) {
    logger.error("fatal", { error: errorMessage(e) });
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main());
