/**
 * k8s-gsidecar's command-line entry: configuration from the environment (`--help` lists every
 * variable), exit code 2 on bad configuration or an unusable connection configuration (before the
 * folder is touched), SIGTERM/SIGINT finish the write in progress and exit 0.
 *
 * @module
 */
import { runSidecar } from "./src/app.ts";
import { parseArgs } from "./src/config/args.ts";
import { compatFrom } from "./src/config/env.ts";
import { renderHelp } from "./src/config/help.ts";
import { resolveConfiguration } from "./src/config/resolve.ts";
import { KubeConfigError } from "./src/kube/connect.ts";
import { createLogger } from "./src/log.ts";
import { errorMessage } from "./src/util/errors.ts";

function stderr(lines: string[]): void {
  Deno.stderr.writeSync(new TextEncoder().encode(lines.join("\n") + "\n"));
}

async function main(): Promise<number> {
  const env = Deno.env.toObject();
  if (parseArgs(Deno.args, compatFrom(env)).help) {
    const text = new TextEncoder().encode(renderHelp());
    let off = 0;
    while (off < text.length) off += Deno.stdout.writeSync(text.subarray(off));
    return 0;
  }
  const parsed = await resolveConfiguration(env, Deno.args);
  if (!parsed.ok) {
    stderr(["k8s-gsidecar: invalid configuration:", ...parsed.errors.map((e) => `  - ${e}`)]);
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
    return await runSidecar({ config, syncs: parsed.syncs, env, logger, signal: ac.signal });
  } catch (e) {
    if (e instanceof KubeConfigError) {
      // Nothing was touched yet: the connection is resolved before the folder is opened.
      logger.error("cannot connect", { error: e.message });
      stderr([`k8s-gsidecar: invalid configuration:`, `  - ${e.message}`]);
      return 2;
    }
    logger.error("fatal", { error: errorMessage(e) });
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main());
