import assert from "node:assert/strict";
import { join } from "node:path";
import { NotifyError } from "../../src/plugin/mod.ts";
import { changeSetOf, runNotifier } from "../../src/testing/mod.ts";
import fileLog from "./file_log_notifier.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("file-log notifier appends one JSON line per change set", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "changes.jsonl");
    const set = changeSetOf([{ name: "app", data: { "a.json": "{}" }, dir: "/config" }], {
      seq: 1,
      initial: true,
    });
    await runNotifier(fileLog, { path }, set, {
      written: ["/config/a.json"],
      removed: [],
      rejected: [],
    });
    await runNotifier(fileLog, { path }, { ...set, seq: 2, initial: false }, {
      written: [],
      removed: ["/config/a.json"],
      rejected: [{ ref: set.changes[0]!.ref, key: "b.json", reason: "not valid JSON" }],
    });
    const lines = (await Deno.readTextFile(path)).trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.deepEqual({ ...lines[0], time: undefined }, {
      time: undefined,
      seq: 1,
      initial: true,
      written: ["/config/a.json"],
      removed: [],
      rejected: 0,
    });
    assert.deepEqual([lines[1].seq, lines[1].removed, lines[1].rejected], [
      2,
      ["/config/a.json"],
      1,
    ]);
    assert.ok(!Number.isNaN(Date.parse(lines[1].time)));
  });
});

Deno.test("file-log notifier reports a missing directory as a NotifyError that is not retried", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "missing", "changes.jsonl");
    await assert.rejects(
      runNotifier(fileLog, { path }, changeSetOf([]), {
        written: ["/c/a"],
        removed: [],
        rejected: [],
      }),
      (e) => e instanceof NotifyError && !e.retryable && e.message.includes(path),
    );
  });
});

Deno.test("file-log notifier has a retry policy from its options and refuses bad ones", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "log");
    const result = { written: ["/c/a"], removed: [], rejected: [] };
    const run = await runNotifier(fileLog, { path, retries: 1 }, changeSetOf([]), result);
    assert.deepEqual(run.notifier.retry, { retries: 1, backoffMs: 1000, maxDelayMs: 30_000 });
    await assert.rejects(runNotifier(fileLog, {}, changeSetOf([]), result), /path: /);
    await assert.rejects(
      runNotifier(fileLog, { path, retries: -1 }, changeSetOf([]), result),
      /file-log#0 "file-log": invalid options: retries: /,
    );
  });
});
