/**
 * Change → file latency, and how much of it is the sidecar's own.
 *
 *   deno run -A bench/latency.ts [--objects=1000] [--edits=100]
 *
 * With 1000 labelled ConfigMaps present (each a 4 KB `.json` and a small `.txt`) and the sidecar
 * synced as its own process with a least-privilege token, edits one object 100 times in sequence
 * (a merge patch of both keys). For each edit it measures, from the moment the request is sent:
 *
 * - **event**: when a minimal watch client in this process (a bare `fetch` on the same API server,
 *   same token, namespace and label selector) receives the MODIFIED event of that edit;
 * - **file**: when the `.json` file holds the new content (read every 1 ms);
 * - **overhead** = file − event, the sidecar's own share, measured in the same run.
 *
 * Prints p50/p99 of all three. Targets: overhead p50 ≤ 10 ms, p99 ≤ 30 ms.
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { print, Report } from "./lib/report.ts";
import { percentile } from "./lib/stats.ts";
import { jsonPayload, LABEL, sleep, startWorld, type World } from "./lib/world.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    objects: { type: "string", default: "1000" },
    edits: { type: "string", default: "100" },
  },
});
const OBJECTS = Number(args.objects);
const EDITS = Number(args.edits);
const TARGET = Math.floor(OBJECTS / 2);

/**
 * A bare watch on the bench namespace with the sidecar's token, recording when the MODIFIED event
 * carrying each version of object `TARGET` arrives (time taken as the chunk arrives, before it is
 * parsed).
 */
async function bareWatch(world: World, arrivals: Map<number, number>, signal: AbortSignal) {
  const client = Deno.createHttpClient({ caCerts: [world.cluster.pki.caCert] });
  const headers = { authorization: `Bearer ${world.sa.token}`, accept: "application/json" };
  const base = `${world.cluster.server}${world.path()}?labelSelector=${LABEL}`;
  const list = await fetch(`${base}&limit=1`, { headers, client });
  if (!list.ok) throw new Error(`bare list: ${list.status} ${await list.text()}`);
  const rv = (await list.json()).metadata.resourceVersion;
  const res = await fetch(`${base}&watch=true&allowWatchBookmarks=true&resourceVersion=${rv}`, {
    headers,
    client,
    signal,
  });
  if (!res.ok || !res.body) throw new Error(`bare watch: ${res.status}`);
  const name = `cm-${TARGET}`, key = `j-${TARGET}.json`;
  const decoder = new TextDecoder();
  let buffer = "";
  const reader = res.body.getReader();
  (async () => {
    try {
      while (true) {
        const { value, done } = await reader.read();
        // An event arrives with the chunk that completes its line: then a client can act on it.
        const now = performance.now();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          const ev = JSON.parse(line);
          if (ev.type !== "MODIFIED" || ev.object.metadata.name !== name) continue;
          const v = JSON.parse(ev.object.data[key]).v as number;
          if (!arrivals.has(v)) arrivals.set(v, now);
        }
      }
    } catch (e) {
      if (!signal.aborted) throw e;
    } finally {
      client.close();
    }
  })();
}

const report = new Report(`change → file latency (${OBJECTS} objects, ${EDITS} edits)`);
await using world = await startWorld();
await world.createObjects(0, OBJECTS);
print(`created ${OBJECTS} ConfigMaps`);
const sidecar = await world.sidecar({ name: "latency" });
await sidecar.waitFiles(2 * OBJECTS);
print("sidecar synced");

const arrivals = new Map<number, number>();
const stopWatch = new AbortController();
await bareWatch(world, arrivals, stopWatch.signal);
const file = join(sidecar.folder, `j-${TARGET}.json`);
const txt = join(sidecar.folder, `t-${TARGET}.txt`);

const answerMs: number[] = [], eventMs: number[] = [], fileMs: number[] = [];
const overheadMs: number[] = [];
for (let v = 1; v <= EDITS; v++) {
  const expected = jsonPayload(TARGET, v);
  const sent = performance.now();
  let answered = NaN;
  const patched = world.update(TARGET, v).then(() => answered = performance.now());
  let seen: number | undefined;
  const deadline = sent + 30_000;
  while (seen === undefined) {
    try {
      if (Deno.readTextFileSync(file) === expected) seen = performance.now();
    } catch {
      // between a remove and a create the file may be missing; a rename never leaves a gap
    }
    if (seen === undefined) {
      if (performance.now() > deadline) {
        throw new Error(
          `edit ${v} not in ${file} after 30 s:\n${sidecar.proc.output.slice(-3000)}`,
        );
      }
      await sleep(1);
    }
  }
  await patched;
  while (!arrivals.has(v)) {
    if (performance.now() > deadline) throw new Error(`no watch event for edit ${v}`);
    await sleep(1);
  }
  // The edit also changed the .txt key: let the sidecar finish the object before the next edit.
  while (!Deno.readTextFileSync(txt).includes(`version ${v}\n`)) await sleep(1);
  const event = arrivals.get(v)! - sent, written = seen - sent;
  answerMs.push(answered - sent);
  eventMs.push(event);
  fileMs.push(written);
  overheadMs.push(written - event);
}
stopWatch.abort();

const fig = (name: string, xs: number[], target?: [number, number]) => {
  report.figure(`${name} p50`, percentile(xs, 50), "ms", target && { max: target[0] }, 1);
  report.figure(`${name} p99`, percentile(xs, 99), "ms", target && { max: target[1] }, 1);
};
fig("edit → API server's answer", answerMs);
fig("edit → watch event (bare client)", eventMs);
fig("edit → file", fileMs);
fig("sidecar overhead (file − event)", overheadMs, [10, 30]);
report.note(
  `Edits of one object (cm-${TARGET}) in sequence, each a merge patch of its 4 KB .json and ` +
    `its .txt; the file is read every 1 ms; the next edit starts once both keys are written.`,
);
await report.finish();
