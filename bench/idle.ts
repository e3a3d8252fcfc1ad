/**
 * Requests an idle sidecar makes: what a fleet of them costs the API server.
 *
 *   deno run -A bench/idle.ts [--minutes=5] [--objects=100]
 *
 * The API server writes an audit log (every request, no bodies). The sidecar, as its own process
 * with a least-privilege token, syncs N labelled ConfigMaps and is then left alone for the given
 * minutes. Counted from the audit log, for the sidecar's service account, requests received in
 * that window: all of them (extrapolated to an hour), lists, watches, others; plus the watch
 * events it received (`gsidecar_watch_events_total`). Target: no list while idle (a healthy steady
 * state resumes its watches from the last resourceVersion).
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { print, Report } from "./lib/report.ts";
import { metricSum, sleep, startWorld } from "./lib/world.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    minutes: { type: "string", default: "5" },
    objects: { type: "string", default: "100" },
  },
});
const MINUTES = Number(args.minutes);
const N = Number(args.objects);

/** One line of the audit log, as far as it is read here. */
interface AuditEvent {
  auditID: string;
  verb: string;
  requestURI: string;
  user: { username: string };
  requestReceivedTimestamp: string;
}

const report = new Report(`requests while idle (${MINUTES} min, ${N} objects)`);
const auditDir = await Deno.makeTempDir({ prefix: "gsidecar-audit-" });
const auditLog = join(auditDir, "audit.log");
try {
  await using world = await startWorld({ auditLogPath: auditLog });
  await world.createObjects(0, N);
  const sidecar = await world.sidecar({ name: "idle" });
  await sidecar.waitFiles(2 * N);
  const url = await sidecar.healthUrl();
  const ready = () => fetch(`${url}/readyz`).then(async (r) => (await r.body?.cancel(), r.ok));
  while (!(await ready())) await sleep(50);
  const eventsBefore = metricSum(await sidecar.metrics(), "gsidecar_watch_events_total");
  const listsBefore = metricSum(await sidecar.metrics(), "gsidecar_lists_total");
  const from = Date.now();
  print(`synced; idle for ${MINUTES} min`);
  await sleep(MINUTES * 60_000);
  const to = Date.now();
  const metrics = await sidecar.metrics();
  const events = metricSum(metrics, "gsidecar_watch_events_total") - eventsBefore;
  const sidecarLists = metricSum(metrics, "gsidecar_lists_total") - listsBefore;

  const user = `system:serviceaccount:${world.namespace}:${world.sa.name}`;
  const seen = new Map<string, AuditEvent>();
  for (const line of (await Deno.readTextFile(auditLog)).split("\n")) {
    if (!line) continue;
    const ev = JSON.parse(line) as AuditEvent;
    if (ev.user.username !== user) continue;
    const at = Date.parse(ev.requestReceivedTimestamp);
    if (at >= from && at < to) seen.set(ev.auditID, ev);
  }
  const byVerb = new Map<string, number>();
  for (const ev of seen.values()) byVerb.set(ev.verb, (byVerb.get(ev.verb) ?? 0) + 1);
  const perHour = 60 / MINUTES;
  report.figure("requests per hour (extrapolated)", seen.size * perHour, "", undefined, 0);
  report.figure("requests in the window", seen.size, "", undefined, 0);
  report.figure("list requests in the window", byVerb.get("list") ?? 0, "", { max: 0 }, 0);
  report.figure("watch requests in the window", byVerb.get("watch") ?? 0, "", undefined, 0);
  report.figure("gsidecar_lists_total in the window", sidecarLists, "", undefined, 0);
  report.figure("watch events received in the window", events, "", undefined, 0);
  report.note(
    `Audit log of the API server, requests of ${user} received in the window, by verb: ${
      [...byVerb].map(([v, n]) => `${v} ${n}`).join(", ") || "none"
    }.`,
  );
} finally {
  await Deno.remove(auditDir, { recursive: true }).catch(() => {});
}
await report.finish();
