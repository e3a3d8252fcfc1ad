import assert from "node:assert/strict";
import { join } from "node:path";
import { z } from "zod";
import { defineKeyWriter, defineNotifier, defineWriter, NotifyError } from "../plugin/mod.ts";
import { PluginError } from "../host/invoke.ts";
import {
  assertWriterContract,
  changeSetOf,
  recordingLogger,
  runNotifier,
  runWriter,
  tempSink,
} from "./mod.ts";

const txt = defineKeyWriter({
  name: "txt-test",
  defaultKeys: ["*.txt"],
  fileContent: (_key, bytes) => bytes.length > 10 ? { refuse: "too long" } : bytes,
});

Deno.test("changeSetOf builds upsert and delete changes with entries as bytes", () => {
  const set = changeSetOf([
    {
      name: "a",
      data: { "x.txt": "hé" },
      binaryData: { "y.bin": new Uint8Array([0, 255]) },
      dir: "/config",
    },
    {
      kind: "secret",
      namespace: "ops",
      name: "b",
      type: "delete",
      data: { "ignored": "1" },
      dir: "/config/sub",
    },
  ], { seq: 9, initial: true });
  assert.equal(set.seq, 9);
  assert.equal(set.initial, true);
  const [a, b] = set.changes;
  assert.deepEqual(a, {
    type: "upsert",
    ref: { kind: "configmap", namespace: "default", name: "a" },
    labels: {},
    annotations: {},
    entries: new Map([["x.txt", new Uint8Array([0x68, 0xc3, 0xa9])], [
      "y.bin",
      new Uint8Array([0, 255]),
    ]]),
    dir: "/config",
    namePrefix: "",
  });
  assert.equal(b?.type, "delete");
  assert.deepEqual(b?.ref, { kind: "secret", namespace: "ops", name: "b" });
  assert.equal(b?.entries.size, 0);
  assert.deepEqual(changeSetOf([]), { seq: 1, initial: false, changes: [] });
  assert.throws(() => changeSetOf([{ name: "c", dir: "relative" }]), /must be absolute/);
});

Deno.test("tempSink gives a real file store and removes its folder on dispose", async () => {
  let dir = "";
  {
    await using tmp = await tempSink();
    dir = tmp.dir;
    const ref = { kind: "configmap" as const, namespace: "ns", name: "app" };
    const out = await tmp.sink("w#0").sync(ref, [
      { path: join(dir, "a.txt"), content: new TextEncoder().encode("a") },
    ]);
    assert.deepEqual(out.written, [join(dir, "a.txt")]);
    assert.deepEqual(tmp.sink("w#0").owned(ref), [join(dir, "a.txt")]);
    assert.deepEqual(tmp.sink("other#0").owned(ref), []);
    assert.deepEqual([...tmp.store.owners()], ["w#0|configmap/ns/app"]);
  }
  await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
});

Deno.test("runWriter writes through a tempSink's store and the writer keeps its files between runs", async () => {
  await using tmp = await tempSink();
  const first = await runWriter(
    txt,
    {},
    changeSetOf([{ name: "app", data: { "a.txt": "one", "b.txt": "two" }, dir: tmp.dir }]),
    tmp,
  );
  assert.equal(first.instance, "txt-test#0");
  assert.equal(first.dir, tmp.dir);
  assert.deepEqual(first.result.written.sort(), [join(tmp.dir, "a.txt"), join(tmp.dir, "b.txt")]);
  assert.deepEqual(
    tmp.sink("txt-test#0").owned({ kind: "configmap", namespace: "default", name: "app" }),
    [
      join(tmp.dir, "a.txt"),
      join(tmp.dir, "b.txt"),
    ],
  );
  const second = await runWriter(
    txt,
    {},
    changeSetOf([{ name: "app", data: { "a.txt": "far too long now" }, dir: tmp.dir }], { seq: 2 }),
    tmp,
  );
  // b.txt was this writer's file from the first run, so it goes; a.txt is refused and stays.
  assert.deepEqual(second.result.removed, [join(tmp.dir, "b.txt")]);
  assert.equal(second.result.rejected[0]?.reason, "too long");
  assert.equal(await Deno.readTextFile(join(tmp.dir, "a.txt")), "one");
  assert.match(second.text(), /key refused.*a\.txt/);
});

Deno.test("runWriter on a folder opens a store per run, so a second run is like a restart", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    const set = (data: Record<string, string>, seq: number) =>
      changeSetOf([{ name: "app", data, dir }], { seq });
    await runWriter(txt, {}, set({ "a.txt": "1", "b.txt": "2" }, 1));
    const again = await runWriter(txt, {}, set({ "a.txt": "1" }, 2), dir);
    assert.deepEqual(again.result.written, [], "identical content is not rewritten");
    assert.deepEqual(again.result.removed, [join(dir, "b.txt")]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runWriter validates options and accepts files in several directories", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    await assert.rejects(
      runWriter(txt, { keys: "*.txt" }, changeSetOf([{ name: "a", dir }])),
      (e) => e instanceof Error && /invalid options: keys: /.test(e.message),
    );
    const sub = join(dir, "sub");
    const run = await runWriter(
      txt,
      { keys: ["*"] },
      changeSetOf([
        { name: "a", data: { "a": "1" }, dir: join(dir, "main") },
        { name: "b", data: { "b": "2" }, dir: sub },
      ]),
    );
    assert.deepEqual(run.result.written.sort(), [join(dir, "main", "a"), join(sub, "b")]);
    await assert.rejects(runWriter(txt, {}, changeSetOf([])), /give a sink/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runWriter rejects with what the writer threw and closes the instance", async () => {
  await using tmp = await tempSink();
  let closed = 0;
  const broken = defineWriter({
    name: "broken",
    create: () => ({
      write: () => Promise.reject(new RangeError("disk on fire")),
      close: () => void closed++,
    }),
  });
  await assert.rejects(runWriter(broken, undefined, changeSetOf([]), tmp), RangeError);
  assert.equal(closed, 1);
});

Deno.test("runNotifier validates options, calls notify once and returns the instance", async () => {
  const seen: [number, string[]][] = [];
  const echo = defineNotifier({
    name: "echo",
    options: z.object({ prefix: z.string() }).strict(),
    create: (options, ctx) => ({
      retry: { retries: 2, backoffMs: 10, maxDelayMs: 100 },
      notify(set, result) {
        seen.push([set.seq, result.written]);
        ctx.logger.info(`${options.prefix} ${set.seq}`);
        return Promise.resolve();
      },
    }),
  });
  const run = await runNotifier(echo, { prefix: "seq" }, changeSetOf([], { seq: 5 }), {
    written: ["/c/a"],
    removed: [],
    rejected: [],
  });
  assert.deepEqual(seen, [[5, ["/c/a"]]]);
  assert.deepEqual(run.notifier.retry, { retries: 2, backoffMs: 10, maxDelayMs: 100 });
  assert.match(run.text(), /info test\.notifier\.echo#0 seq 5/);
  await assert.rejects(
    runNotifier(echo, { prefx: "x" }, changeSetOf([]), { written: [], removed: [], rejected: [] }),
    /echo#0 "echo": invalid options: .*prefx/,
  );
});

Deno.test("runNotifier rejects with the notifier's NotifyError, and with the wrapper's error on a timeout", async () => {
  const result = { written: ["/c/a"], removed: [], rejected: [] };
  const failing = defineNotifier({
    name: "failing",
    create: () => ({
      notify: () => Promise.reject(new NotifyError("nope", { retryable: false })),
    }),
  });
  await assert.rejects(
    runNotifier(failing, undefined, changeSetOf([]), result),
    (e) => e instanceof NotifyError && !e.retryable && e.message === "nope",
  );
  const hanging = defineNotifier({
    name: "hanging",
    timeoutMs: 30,
    create: () => ({ notify: () => new Promise<void>(() => {}) }),
  });
  await assert.rejects(
    runNotifier(hanging, undefined, changeSetOf([]), result),
    (e) => e instanceof PluginError && e.timedOut && /hanging#0.*notify/.test(e.message),
  );
});

Deno.test("recordingLogger is re-exported from the testing kit", () => {
  const { logger, records } = recordingLogger(["kit"]);
  logger.warn("w");
  assert.equal(records[0]?.category, "kit");
});

Deno.test("assertWriterContract() names the rule a writer breaks", async () => {
  // Writes around the sink: nothing is owned, so nothing is ever removed or protected.
  const around = defineWriter({
    name: "around",
    create: () => ({
      async write(set) {
        const written: string[] = [];
        for (const change of set.changes) {
          for (const [key, bytes] of change.entries) {
            await Deno.writeFile(join(change.dir, key), bytes);
            written.push(join(change.dir, key));
          }
        }
        return { written, removed: [], rejected: [] };
      },
    }),
  });
  await assert.rejects(
    assertWriterContract(around, { sample: { "a.txt": "x" } }),
    /writer "around" breaks the writer contract: 2: rewrote/,
  );
  // Goes through the sink but never lets go of a file.
  const hoarder = defineWriter({
    name: "hoarder",
    create: (_o, ctx) => ({
      async write(set) {
        const items = set.changes.map((change) => ({
          ref: change.ref,
          files: [...change.entries].map(([key, content]) => ({
            path: join(change.dir, key),
            content,
          })),
          keep: ctx.sink.owned(change.ref),
        }));
        const out = await ctx.sink.syncAll(items);
        return { written: out.written, removed: out.removed, rejected: [] };
      },
    }),
  });
  await assert.rejects(
    assertWriterContract(hoarder, { sample: { "a.txt": "x", "b.txt": "y" } }),
    /breaks the writer contract: 4: removing key a\.txt removed no file/,
  );
  await assertWriterContract(txt, { sample: { "a.txt": "x", "b.txt": "y" } });
});
