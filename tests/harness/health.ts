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

/** The value of metric `name` (labelled `scope="…"` when `scope` is given) in `text`. */
export function metric(text: string, name: string, scope?: string): number {
  const labels = scope === undefined ? "" : `\\{scope="${scope.replace(/[*@]/g, "\\$&")}"\\}`;
  const m = text.match(new RegExp(`^${name}${labels} (\\S+)$`, "m"));
  assert.ok(m, `${name}${scope ? ` for ${scope}` : ""} missing in:\n${text}`);
  return Number(m[1]);
}

/**
 * Waits until the sidecar has written everything it received and sent (or given up) every
 * notification: after that, nothing more happens without a new change. Wait first for a sign
 * that the change in question reached the sidecar (a file, a log line).
 */
export async function settled(url: string, proc?: ManagedProcess): Promise<void> {
  await eventually(async () => {
    const text = (await get(`${url}/metrics`)).body;
    assert.equal(metric(text, "gsidecar_sync_pending"), 0, "changes still being written");
    assert.doesNotMatch(
      text,
      /^gsidecar_notification_pending\{[^}]*\} 1$/m,
      "notification pending",
    );
  }, { ...(proc ? { proc } : {}), what: "the sidecar to settle" });
}
