/**
 * Reading a running sidecar's health server: its address from the startup log, `/healthz`,
 * `/readyz` and `/metrics`.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { ManagedProcess } from "./process.ts";
import { eventually } from "./sidecar.ts";

/** The base URL of the sidecar's health server, from its startup log line. */
export async function healthUrl(proc: ManagedProcess): Promise<string> {
  return await eventually(() => {
    const m = proc.output.match(/"msg":"health endpoints listening","address":"[^"]*:(\d+)"/);
    assert.ok(m, "health server not listening yet");
    return `http://127.0.0.1:${m[1]}`;
  }, { proc });
}

/** GET `url`: status and body. */
export async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

/**
 * The value of metric `name` whose labels include `scope="…"` (when given) and `labels`; fails
 * when none or several samples match.
 */
export function metric(
  text: string,
  name: string,
  scope?: string,
  labels: Record<string, string> = {},
): number {
  const wanted = { ...labels, ...(scope === undefined ? {} : { scope }) };
  const matches: number[] = [];
  for (const line of text.split("\n")) {
    const m = line.match(/^([a-z_]+)(?:\{(.*)\})? (\S+)$/);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[2] ?? "").matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    if (Object.entries(wanted).every(([k, v]) => have[k] === v)) matches.push(Number(m[3]));
  }
  const what = `${name}${JSON.stringify(wanted)}`;
  assert.ok(matches.length > 0, `${what} missing in:\n${text}`);
  assert.equal(matches.length, 1, `${what} matches ${matches.length} samples`);
  return matches[0]!;
}

/**
 * Waits until the sidecar has written everything it received and sent (or given up) every
 * notification: after that, nothing more happens without a new change. Wait first for a sign
 * that the change in question reached the sidecar (a file, a log line).
 */
export async function settled(url: string, proc?: ManagedProcess): Promise<void> {
  await eventually(async () => {
    const text = (await get(`${url}/metrics`)).body;
    // Every sync of the process, when it runs several.
    assert.match(text, /^gsidecar_sync_pending(\{[^}]*\})? \d+$/m, "no gsidecar_sync_pending");
    assert.doesNotMatch(text, /^gsidecar_sync_pending(\{[^}]*\})? 1$/m, "changes being written");
    assert.doesNotMatch(
      text,
      /^gsidecar_notification_pending\{[^}]*\} 1$/m,
      "notification pending",
    );
  }, { ...(proc ? { proc } : {}), what: "the sidecar to settle" });
}
