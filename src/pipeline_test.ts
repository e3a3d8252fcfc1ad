import assert from "node:assert/strict";
import { join } from "node:path";
import jsonFile from "../plugins/json_file/mod.ts";
import type { ChangeSet, WriteResult } from "./model.ts";
import { PluginHost } from "./host/plugin_host.ts";
import type { NotifyDispatcher } from "./notifiers/dispatcher.ts";
import { Pipeline } from "./pipeline.ts";
import type { Urgency } from "./util/collect_garbage.ts";
import { changeSetOf } from "./testing/change_set.ts";
import { recordingLogger } from "./testing/logger.ts";
import { FileStore } from "./writers/file_store.ts";

/** The pipeline with the json-file writer and a dispatcher that only records what it is given. */
async function setup(folder: string, collectGarbage?: (urgency: Urgency) => void) {
  const { logger } = recordingLogger();
  const signal = new AbortController().signal;
  const store = await FileStore.open({ folder, logger });
  const host = await PluginHost.create({
    writers: [{
      kind: "writer",
      label: "json-file#0",
      definition: jsonFile,
      options: {},
      use: "json-file",
    }],
    notifiers: [],
    sinkFor: (instance) => store.scoped(instance),
    logger,
    signal,
  });
  const submitted: { changeSet: ChangeSet; result: WriteResult }[] = [];
  const dispatcher = {
    submit: (changeSet: ChangeSet, result: WriteResult) => submitted.push({ changeSet, result }),
  } as unknown as NotifyDispatcher;
  const pipeline = new Pipeline({ store, host, dispatcher, logger, collectGarbage });
  const close = async () => {
    await host.close();
    await store.close();
  };
  return { pipeline, submitted, close };
}

Deno.test("Pipeline.apply() submits an initial sync of many steps once, with every step's files", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const { pipeline, submitted, close } = await setup(folder);
    for (const [seq, names] of [[1, ["a", "b"]], [2, ["c", "d"]], [3, ["e", "f"]]] as const) {
      const changeSet = changeSetOf(
        names.map((name) => ({ name, data: { [`${name}.json`]: "{}" }, dir: folder })),
        { seq, initial: true },
      );
      await pipeline.apply({ changeSet, endOfInitial: seq === 3 });
      assert.equal(submitted.length, seq === 3 ? 1 : 0, `after step ${seq}`);
    }
    const [whole] = submitted;
    assert.deepEqual(
      whole!.result.written,
      ["a", "b", "c", "d", "e", "f"].map((n) => join(folder, `${n}.json`)),
    );
    assert.deepEqual(whole!.changeSet.changes.map((c) => c.ref.name), [
      "a",
      "b",
      "c",
      "d",
      "e",
      "f",
    ]);
    assert.equal(whole!.changeSet.seq, 3);
    assert.equal(whole!.changeSet.initial, true);
    assert.ok(
      whole!.changeSet.changes.every((c) => c.entries.size === 0),
      "notifiers get the changes without their content",
    );

    const later = changeSetOf([{ name: "a", data: { "a.json": "[]" }, dir: folder }], { seq: 4 });
    await pipeline.apply({ changeSet: later, endOfInitial: false });
    assert.equal(submitted.length, 2);
    assert.deepEqual(submitted[1]!.result.written, [join(folder, "a.json")]);
    await close();
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("Pipeline.apply() asks for a collection now after the initial sync and a relist, within the interval after a change", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const asked: Urgency[] = [];
    const { pipeline, close } = await setup(folder, (urgency) => asked.push(urgency));
    const step = (seq: number, initial: boolean, content = "{}") =>
      changeSetOf(
        [{ name: `o${seq % 10}`, data: { [`o${seq % 10}.json`]: content }, dir: folder }],
        {
          seq,
          initial,
        },
      );
    await pipeline.apply({ changeSet: step(1, true), endOfInitial: false });
    assert.deepEqual(asked, [], "a page of the initial sync");
    await pipeline.apply({ changeSet: step(2, true), endOfInitial: true });
    assert.deepEqual(asked, ["now"], "the end of the initial sync");
    await pipeline.apply({ changeSet: step(3, false), endOfInitial: false });
    assert.deepEqual(asked, ["now", "within-interval"], "an edit");
    await pipeline.apply({ changeSet: step(13, false), endOfInitial: false });
    assert.deepEqual(asked, ["now", "within-interval"], "the same content again: nothing written");
    await pipeline.apply({
      changeSet: step(4, false),
      endOfInitial: false,
      prune: { where: "all", live: [] },
    });
    assert.deepEqual(asked, ["now", "within-interval", "now"], "a relist");
    await close();
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});
