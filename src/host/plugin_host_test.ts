import assert from "node:assert/strict";
import { join } from "node:path";
import { defineNotifier, defineWriter } from "../plugin/mod.ts";
import { changeSetOf } from "../testing/change_set.ts";
import { recordingLogger } from "../testing/logger.ts";
import { tempSink } from "../testing/temp_sink.ts";
import type { LoadedInstanceSpec } from "./loader.ts";
import { PluginHost } from "./plugin_host.ts";

function spec(
  definition: LoadedInstanceSpec["definition"],
  label: string,
  timeoutMs?: number,
): LoadedInstanceSpec {
  return {
    kind: definition.kind,
    label,
    definition,
    options: undefined,
    use: definition.name,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  };
}

/** A writer that knows nothing of held keys: it writes exactly the keys it is given. */
const naive = defineWriter({
  name: "naive",
  create: (_o, ctx) => ({
    async write(set) {
      const out = await ctx.sink.syncAll(set.changes.map((change) => ({
        ref: change.ref,
        files: [...change.entries].map(([key, content]) => ({
          path: join(change.dir, key),
          content,
        })),
      })));
      return { written: out.written, removed: out.removed, rejected: [] };
    },
  }),
});

Deno.test("PluginHost keeps the files of held keys for a writer that knows nothing of them", async () => {
  await using tmp = await tempSink();
  const { logger } = recordingLogger();
  const host = await PluginHost.create({
    writers: [spec(naive, "naive#0")],
    notifiers: [],
    sinkFor: (i) => tmp.store.scoped(i),
    logger,
    signal: new AbortController().signal,
  });
  const object = (data: Record<string, string>, seq: number) =>
    changeSetOf([{ name: "app", data, dir: tmp.dir }], { seq });
  await host.write(object({ "a.json": "1", "b.json": "2" }, 1), new Map());
  // b.json's download failed this time: the writer gets only a.json.
  const held = await host.write(
    object({ "a.json": "1" }, 2),
    new Map([["configmap/default/app", new Set(["b.json"])]]),
  );
  const dropped = await host.write(object({ "a.json": "1" }, 3), new Map());
  await host.close();
  assert.deepEqual(held.result.removed, [], "nothing removed while a key is held");
  assert.deepEqual(dropped.result.removed, [join(tmp.dir, "b.json")]);
});

Deno.test("PluginHost labels a failing writer and still runs the others", async () => {
  await using tmp = await tempSink();
  const { logger } = recordingLogger();
  const broken = defineWriter({
    name: "broken",
    create: () => ({ write: () => Promise.reject(new Error("disk on fire")) }),
  });
  const host = await PluginHost.create({
    writers: [spec(broken, "broken#0"), spec(naive, "naive#0")],
    notifiers: [],
    sinkFor: (i) => tmp.store.scoped(i),
    logger,
    signal: new AbortController().signal,
  });
  const out = await host.write(
    changeSetOf([{ name: "app", data: { "a.txt": "x" }, dir: tmp.dir }]),
    new Map(),
  );
  await host.close();
  assert.deepEqual(out.result.written, [join(tmp.dir, "a.txt")]);
  assert.equal(out.failed.length, 1);
  assert.match(
    String(out.failed[0]!.error),
    /plugin "broken" instance "broken#0" hook write: disk on fire/,
  );
});

Deno.test("PluginHost.close() calls every close() through the wrapper, with its timeout", async () => {
  const { logger, text } = recordingLogger();
  const closed: string[] = [];
  const hanging = defineNotifier({
    name: "hanging",
    create: () => ({
      notify: () => Promise.resolve(),
      close: () => new Promise<void>(() => {}),
    }),
  });
  const polite = defineNotifier({
    name: "polite",
    create: () => ({ notify: () => Promise.resolve(), close: () => void closed.push("polite") }),
  });
  const host = await PluginHost.create({
    writers: [],
    notifiers: [spec(hanging, "hanging#0", 20), spec(polite, "polite#0")],
    sinkFor: () => {
      throw new Error("no sink");
    },
    logger,
    signal: new AbortController().signal,
  });
  await host.close();
  assert.deepEqual(closed, ["polite"], "a hanging close() does not keep the others from closing");
  assert.match(text(), /plugin close failed.*hanging#0.*hook close: did not settle within 20 ms/);
});

Deno.test("PluginHost.create() closes the instances it made when a later one fails", async () => {
  const { logger } = recordingLogger();
  const closed: string[] = [];
  const ok = defineNotifier({
    name: "ok",
    create: () => ({ notify: () => Promise.resolve(), close: () => void closed.push("ok") }),
  });
  const bad = defineNotifier({
    name: "bad",
    create: () => {
      throw new Error("cannot start");
    },
  });
  await assert.rejects(
    PluginHost.create({
      writers: [],
      notifiers: [spec(ok, "ok#0"), spec(bad, "bad#0")],
      sinkFor: () => {
        throw new Error("no sink");
      },
      logger,
      signal: new AbortController().signal,
    }),
    /plugin "bad" instance "bad#0" hook create: cannot start/,
  );
  assert.deepEqual(closed, ["ok"]);
});

Deno.test("PluginHost decompresses .gz keys for writers, except those with gunzip: false", async () => {
  await using tmp = await tempSink();
  const { logger } = recordingLogger();
  const host = await PluginHost.create({
    writers: [{ ...spec(naive, "plain#0") }, { ...spec(naive, "raw#0"), gunzip: false }],
    notifiers: [],
    sinkFor: (i) => tmp.store.scoped(i),
    logger,
    signal: new AbortController().signal,
    gunzip: { maxBytes: 1024 },
  });
  const gz = new Uint8Array(
    await new Response(
      new Blob(['{"a":1}']).stream().pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer(),
  );
  const set = changeSetOf([{ name: "d", binaryData: { "d.json.gz": gz }, dir: tmp.dir }]);
  const out = await host.write(set, new Map());
  await host.close();
  assert.deepEqual(out.result.written.sort(), [
    join(tmp.dir, "d.json"),
    join(tmp.dir, "d.json.gz"),
  ]);
  assert.equal(await Deno.readTextFile(join(tmp.dir, "d.json")), '{"a":1}');
});
