/**
 * Notifications per burst: 300 objects changed at once → reload requests at the application.
 *
 *   deno run -A bench/burst.ts [--objects=300]
 *
 * The sidecar, as its own process with a least-privilege token, syncs N labelled ConfigMaps and
 * notifies a local receiver (`REQ_URL`, `REQ_METHOD=POST`, whose default body lists the files
 * written). After the initial notification, all N objects are patched concurrently. The count is
 * taken once everything is written and told: every file of the burst holds its new content, the
 * notifications received since the burst name every one of those files (so no change set is left
 * to notify), the sidecar's `gsidecar_notifications_total` equals the requests received (none
 * in flight) and its `gsidecar_notification_pending` (where it has that gauge) is 0. Target: ≤ 2
 * notifications.
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Receiver } from "../tests/harness/sidecar.ts";
import { print, Report } from "./lib/report.ts";
import { jsonPayload, metricSum, objectData, sleep, startWorld } from "./lib/world.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: { objects: { type: "string", default: "300" } },
});
const N = Number(args.objects);

/** Polls `check` every 10 ms until it holds; fails with `what` after `timeoutMs`. */
async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached after ${timeoutMs} ms`);
    await sleep(10);
  }
}

const report = new Report(`notifications per burst (${N} objects changed at once)`);
await using world = await startWorld();
await using receiver = new Receiver();
await world.createObjects(0, N);
const sidecar = await world.sidecar({
  name: "burst",
  env: { REQ_URL: `${receiver.url}/reload`, REQ_METHOD: "POST" },
});
await sidecar.waitFiles(2 * N);
await until(() => receiver.requests.length >= 1, "initial notification");
const before = receiver.requests.length;
print(`synced; ${before} notification(s) for the initial sync`);

const burstFiles = new Set<string>();
for (let i = 0; i < N; i++) {
  for (const key of Object.keys(objectData(i, 1))) burstFiles.add(join(sidecar.folder, key));
}
// When each notification arrived, to within 5 ms (the receiver does not time requests).
const burstStart = Date.now();
const arrivals: number[] = [];
const timer = setInterval(() => {
  while (before + arrivals.length < receiver.requests.length) {
    arrivals.push(Date.now() - burstStart);
  }
}, 5);
// Every request is sent before any answer is awaited: the API server sees them at once.
await Promise.all(Array.from({ length: N }, (_, i) => world.update(i, 1)));
const patched = Date.now() - burstStart;
print(`${N} objects patched`);
await until(() => {
  for (let i = 0; i < N; i++) {
    const text = Deno.readTextFileSync(join(sidecar.folder, `j-${i}.json`));
    if (text !== jsonPayload(i, 1)) return false;
  }
  return true;
}, "every file of the burst written");
await until(() => {
  const told = new Set<string>();
  for (const r of receiver.requests.slice(before)) {
    for (const path of (JSON.parse(r.body).written ?? []) as string[]) told.add(path);
  }
  return [...burstFiles].every((f) => told.has(f));
}, "notifications naming every file of the burst");
await until(async () => {
  const m = await sidecar.metrics();
  // `gsidecar_notification_pending` (where the sidecar has it) is 1 while a notification waits
  // for its quiet window, is sent or waits to be retried.
  return metricSum(m, "gsidecar_notifications_total") === receiver.requests.length &&
    metricSum(m, "gsidecar_notification_pending") === 0;
}, "no notification pending, gsidecar_notifications_total equal to the requests received");
clearInterval(timer);
const count = receiver.requests.length - before;
let first = Infinity, last = -Infinity;
for (const path of burstFiles) {
  const t = (await Deno.stat(path)).mtime!.getTime() - burstStart;
  first = Math.min(first, t);
  last = Math.max(last, t);
}
report.figure("reload requests after the burst", count, "", { max: 2 }, 0);
report.note(
  `Receiver: ${before} request(s) for the initial sync, then ${count}; ` +
    `files per notification after the burst: ${
      receiver.requests.slice(before).map((r) => JSON.parse(r.body).written?.length ?? "?")
        .join(", ")
    }; ms after the burst started: all patches answered ${patched}, files written from ${first} ` +
    `to ${last} (mtimes), notifications at ${arrivals.join(", ")}.`,
);
await report.finish();
