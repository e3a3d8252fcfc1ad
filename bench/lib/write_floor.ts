/**
 * The floor of the initial-sync benchmark: a bare Deno process that writes the same files the
 * sidecar writes for `N` objects, each through a temp file renamed into place, and nothing else
 * (no API server, no ownership record). Synchronous calls, as the sidecar's file store makes them:
 * Deno's async file calls each hop to a blocking thread, which for 2000 files costs more than the
 * writing. Run as its own process, so its start → last file includes
 * Deno's start-up, as the sidecar's does.
 *
 *   deno run --allow-all bench/lib/write_floor.ts DIR N   (Deno wants --allow-all under /dev)
 *
 * @module
 */
import { join } from "node:path";
import { objectData } from "./objects.ts";

const [dir, count] = Deno.args;
const n = Number(count);
if (!dir || !Number.isInteger(n) || n < 0) {
  throw new Error("usage: write_floor.ts DIR N");
}
for (let i = 0; i < n; i++) {
  for (const [name, content] of Object.entries(objectData(i, 0))) {
    const temp = join(dir, `.${name}.tmp`);
    Deno.writeTextFileSync(temp, content);
    Deno.renameSync(temp, join(dir, name));
  }
}
