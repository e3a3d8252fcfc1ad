/**
 * Unit tests of the watch loop against a scripted list/watch and a fake clock (client-go's
 * reflector is tested this way); the real API server is exercised by tests/.
 */
import assert from "node:assert/strict";
import { KubeApiError, type KubeList, type KubeObject, type WatchEvent } from "../kube/client.ts";
import type { ObjectRef } from "../model.ts";
import { recordingLogger } from "../testing/logger.ts";
import { FakeClock } from "../util/fake_clock.ts";
import type { ListQuery, ListWatch, WatchQuery } from "./list_watch.ts";
import type { ObjectSnapshot } from "./objects.ts";
import { type Scope, scopesFor } from "./scope.ts";
import { ScopeWatcher, type SourceHandler } from "./scope_watcher.ts";

const [scope] = scopesFor(["configmap"], ["ns"]) as [Scope];

function cm(name: string, rv: string, data: Record<string, string> = {}): KubeObject {
  return { metadata: { name, namespace: "ns", resourceVersion: rv }, data };
}

type Item = WatchEvent<KubeObject> | "end" | Error;

/** One watch stream the test feeds. */
class Stream {
  readonly query: WatchQuery;
  #queue: Item[] = [];
  #wake: (() => void) | undefined;
  aborted = false;

  constructor(query: WatchQuery) {
    this.query = query;
  }

  push(...items: Item[]): void {
    this.#queue.push(...items);
    this.#wake?.();
  }

  async *events(signal: AbortSignal): AsyncGenerator<WatchEvent<KubeObject>> {
    for (;;) {
      while (this.#queue.length === 0) {
        if (signal.aborted) {
          this.aborted = true;
          throw new DOMException("aborted", "AbortError");
        }
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          signal.addEventListener("abort", () => resolve(), { once: true });
        });
      }
      const item = this.#queue.shift()!;
      if (item === "end") return;
      if (item instanceof Error) throw item;
      yield item;
    }
  }
}

/** A scripted collection: lists answer from `pages` (or throw), watches are fed by the test. */
class ScriptedListWatch implements ListWatch {
  readonly lists: ListQuery[] = [];
  readonly streams: Stream[] = [];
  /** Answers of the next lists, in order; when empty, an empty list at `rv`. */
  readonly answers: (KubeList<KubeObject> | Error)[] = [];
  rv = "100";
  ready = false;
  probes = 0;

  list(query: ListQuery): Promise<KubeList<KubeObject>> {
    this.lists.push(query);
    const answer = this.answers.shift() ?? { metadata: { resourceVersion: this.rv }, items: [] };
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
  }

  watch(query: WatchQuery, signal: AbortSignal): AsyncIterable<WatchEvent<KubeObject>> {
    const stream = new Stream(query);
    this.streams.push(stream);
    return stream.events(signal);
  }

  serverReady(): Promise<boolean> {
    this.probes++;
    return Promise.resolve(this.ready);
  }
}

/** Records what the watcher hands over. */
class Recorder implements SourceHandler {
  readonly calls: string[] = [];
  readonly snapshots: ObjectSnapshot[] = [];
  page(_s: Scope, objects: ObjectSnapshot[], invalid: ObjectRef[]): void {
    this.snapshots.push(...objects);
    this.calls.push(
      `page ${objects.map((o) => o.ref.name).join(",")}${invalid.length ? " !" : ""}`,
    );
  }
  listed(_s: Scope, seen: ReadonlySet<string>): void {
    this.calls.push(`listed ${[...seen].map((k) => k.split("/")[2]).join(",")}`);
  }
  event(_s: Scope, type: string, object: ObjectSnapshot): void {
    this.snapshots.push(object);
    this.calls.push(`${type} ${object.ref.name}`);
  }
  invalid(_s: Scope, ref: ObjectRef): void {
    this.calls.push(`invalid ${ref.name}`);
  }
  listFailed(_s: Scope, error: Error): void {
    this.calls.push(`failed ${error.message}`);
  }
}

function setup(
  timings = { watchServerTimeout: 60, watchClientTimeout: 66, errorThrottleSleep: 5 },
) {
  const lw = new ScriptedListWatch();
  const handler = new Recorder();
  const clock = new FakeClock();
  const shutdown = new AbortController();
  const { logger, text } = recordingLogger();
  const watcher = new ScopeWatcher(lw, scope, handler, {
    labelSelector: "app",
    timings,
    logger,
    signal: shutdown.signal,
    pageSize: 2,
    clock,
  });
  return { lw, handler, clock, shutdown, watcher, text };
}

const gone = () => new KubeApiError("GET", "/api/v1/configmaps", 410, "Expired", "too old");
const forbidden = () => new KubeApiError("GET", "/api/v1/configmaps", 403, "Forbidden", "no");

Deno.test("ScopeWatcher.listOnce() hands over each page as it arrives, then what the list saw", async () => {
  const { lw, handler, watcher } = setup();
  lw.answers.push(
    { metadata: { continue: "c1", resourceVersion: "10" }, items: [cm("a", "1"), cm("b", "2")] },
    {
      metadata: { resourceVersion: "10" },
      items: [cm("c", "3"), { metadata: { name: "bad", namespace: "ns" }, binaryData: { k: "%" } }],
    },
  );
  const rv = await watcher.listOnce();
  assert.equal(rv, "10");
  assert.deepEqual(handler.calls, ["page a,b", "invalid bad", "page c !", "listed a,b,c,bad"]);
  assert.deepEqual(lw.lists.map((q) => [q.limit, q.continue, q.resourceVersion]), [
    [2, undefined, undefined],
    [2, "c1", undefined],
  ]);
  assert.equal(watcher.listedOnce, true);
});

Deno.test("ScopeWatcher.listOnce() fetches the next page while the writers take one, and no further", async () => {
  const { lw, handler, watcher } = setup();
  lw.answers.push(
    { metadata: { continue: "c1", resourceVersion: "10" }, items: [cm("a", "1"), cm("b", "2")] },
    { metadata: { continue: "c2", resourceVersion: "10" }, items: [cm("c", "3"), cm("d", "4")] },
    { metadata: { resourceVersion: "10" }, items: [cm("e", "5")] },
  );
  const gates: PromiseWithResolvers<void>[] = [];
  handler.page = (_s, objects) => {
    handler.calls.push(`page ${objects.map((o) => o.ref.name).join(",")}`);
    const gate = Promise.withResolvers<void>();
    gates.push(gate);
    return gate.promise;
  };
  const listed = watcher.listOnce();
  // The scripted lists answer at once: one macrotask turn runs the loop as far as it can go.
  const settle = () => new Promise((res) => setTimeout(res, 0));
  await settle();
  assert.deepEqual(handler.calls, ["page a,b"]);
  assert.equal(
    lw.lists.length,
    2,
    "page 2 is fetched while the writers hold page 1, page 3 is not",
  );
  gates[0]!.resolve();
  await settle();
  assert.deepEqual(handler.calls, ["page a,b", "page c,d"]);
  assert.equal(lw.lists.length, 3);
  gates[1]!.resolve();
  assert.equal(await listed, "10");
  assert.deepEqual(handler.calls, ["page a,b", "page c,d", "page e", "listed a,b,c,d,e"]);
});

Deno.test("ScopeWatcher.listOnce() reports a page fetched ahead that failed once the writers took the one before", async () => {
  const { lw, handler, watcher } = setup();
  lw.answers.push(
    { metadata: { continue: "c1", resourceVersion: "10" }, items: [cm("a", "1")] },
    gone(),
  );
  const gate = Promise.withResolvers<void>();
  handler.page = (_s, objects) => {
    handler.calls.push(`page ${objects.map((o) => o.ref.name).join(",")}`);
    return gate.promise;
  };
  const listed = watcher.listOnce();
  await new Promise((res) => setTimeout(res, 0));
  assert.equal(lw.lists.length, 2, "the failing page was asked for ahead");
  gate.resolve();
  await assert.rejects(listed, KubeApiError);
  assert.deepEqual(handler.calls, [
    "page a",
    "failed GET /api/v1/configmaps: 410 Expired: too old",
  ]);
});

Deno.test("ScopeWatcher packs the values of a list page into buffers of that page; an event's get their own", async () => {
  const { lw, handler, clock, shutdown, watcher } = setup();
  lw.answers.push(
    {
      metadata: { continue: "c1", resourceVersion: "10" },
      items: [cm("a", "1", { "a.json": "1" }), cm("b", "2", { "b.json": "2", "b.txt": "3" })],
    },
    { metadata: { resourceVersion: "10" }, items: [cm("c", "3", { "c.json": "4" })] },
  );
  const done = watcher.run();
  await clock.runUntil(() => lw.streams.length === 1);
  lw.streams[0]!.push({ type: "ADDED", object: cm("d", "11", { "d.json": "5" }) });
  await clock.runUntil(() => handler.snapshots.length === 4);
  const [a, b, c, d] = handler.snapshots.map((o) => [...o.entries.values()]);
  const decoder = new TextDecoder();
  assert.deepEqual([a!, b!, c!, d!].flat().map((v) => decoder.decode(v)), [
    "1",
    "2",
    "3",
    "4",
    "5",
  ]);
  assert.equal(a![0]!.buffer, b![0]!.buffer, "one page, one buffer");
  assert.equal(b![0]!.buffer, b![1]!.buffer);
  assert.notEqual(c![0]!.buffer, a![0]!.buffer, "each page its own");
  assert.equal(d![0]!.buffer.byteLength, 1, "an event's value, a buffer of its size");
  shutdown.abort();
  await done;
});

Deno.test("ScopeWatcher.run() resumes a watch the server ended on schedule, from its bookmark", async () => {
  const { lw, handler, clock, shutdown, watcher } = setup();
  const done = watcher.run();
  await clock.runUntil(() => lw.streams.length === 1);
  lw.streams[0]!.push(
    { type: "ADDED", object: cm("a", "101", { "a.json": "1" }) },
    { type: "BOOKMARK", object: { metadata: { name: "", resourceVersion: "150" } } },
    "end",
  );
  await clock.runUntil(() => lw.streams.length === 2);
  assert.equal(lw.streams[1]!.query.resourceVersion, "150");
  assert.equal(lw.lists.length, 1, "a healthy steady state never relists");
  assert.equal(watcher.stats.gaps, 0);
  assert.deepEqual(handler.calls, ["page ", "listed ", "upsert a"]);
  shutdown.abort();
  await done;
});

Deno.test("ScopeWatcher.run() asks for watch timeouts in [T, 2T]", async () => {
  const { lw, clock, shutdown, watcher } = setup();
  clock.randomValue = 0;
  const done = watcher.run();
  await clock.runUntil(() => lw.streams.length === 1);
  clock.randomValue = 0.999;
  lw.streams[0]!.push("end");
  await clock.runUntil(() => lw.streams.length === 2);
  assert.deepEqual(lw.streams.map((s) => s.query.timeoutSeconds), [60, 120]);
  shutdown.abort();
  await done;
});

Deno.test("ScopeWatcher.run() relists from the watch cache after a gap, and in full after 410", async () => {
  const { lw, clock, shutdown, watcher } = setup();
  const done = watcher.run();
  await clock.runUntil(() => lw.streams.length === 1);
  lw.rv = "200";
  lw.streams[0]!.push(
    { type: "MODIFIED", object: cm("a", "180") },
    new TypeError("connection reset"),
  );
  await clock.runUntil(() => lw.streams.length === 2);
  lw.streams[1]!.push({
    type: "ERROR",
    object: { metadata: { name: "" }, code: 410, reason: "Expired", message: "too old" },
  });
  await clock.runUntil(() => lw.streams.length === 3);
  assert.deepEqual(lw.lists.map((q) => [q.resourceVersion, q.resourceVersionMatch]), [
    [undefined, undefined],
    ["180", "NotOlderThan"],
    [undefined, undefined],
  ]);
  assert.equal(lw.streams[2]!.query.resourceVersion, "200");
  assert.equal(watcher.stats.gaps, 2);
  assert.equal(watcher.stats.cachedLists, 1);
  shutdown.abort();
  await done;
});

Deno.test("ScopeWatcher falls back to a full list at once when the cache cannot serve a relist", async () => {
  const { lw, clock, shutdown, watcher } = setup();
  const done = watcher.run();
  await clock.runUntil(() => lw.streams.length === 1);
  lw.answers.push(gone());
  lw.streams[0]!.push(new TypeError("connection reset"));
  const start = clock.now();
  await clock.runUntil(() => lw.streams.length === 2);
  assert.deepEqual(lw.lists.map((q) => q.resourceVersion), [undefined, "100", undefined]);
  assert.equal(clock.now() - start, 0, "no backoff for a relist the cache refused");
  assert.equal(watcher.stats.errors, 0);
  shutdown.abort();
  await done;
});

Deno.test("ScopeWatcher.run() treats silence past the client timeout as a gap", async () => {
  const { lw, clock, shutdown, watcher } = setup({
    watchServerTimeout: 60,
    watchClientTimeout: 66,
    errorThrottleSleep: 5,
  });
  clock.randomValue = 0;
  const done = watcher.run();
  await clock.runUntil(() => lw.streams.length === 1);
  await clock.advance(65_000);
  assert.equal(lw.streams.length, 1, "not silent yet");
  await clock.advance(2_000);
  await clock.runUntil(() => lw.streams.length === 2);
  assert.equal(lw.streams[0]!.aborted, true);
  assert.equal(watcher.stats.gaps, 1);
  assert.equal(lw.lists.length, 2);
  shutdown.abort();
  await done;
});

Deno.test("ScopeWatcher backs off from ERROR_THROTTLE_SLEEP and starts over after a successful list", async () => {
  const { lw, handler, clock, shutdown, watcher } = setup();
  clock.randomValue = 0;
  lw.answers.push(forbidden(), forbidden(), forbidden());
  const done = watcher.run();
  const times: number[] = [];
  const start = clock.now();
  for (let n = 2; n <= 4; n++) {
    await clock.runUntil(() => lw.lists.length === n);
    times.push(clock.now() - start);
  }
  assert.deepEqual(times, [5_000, 15_000, 35_000], "5 s, then 10 s, then 20 s");
  assert.equal(watcher.failure, undefined, "cleared by the successful list");
  assert.equal(handler.calls.filter((c) => c.startsWith("failed")).length, 3);
  assert.equal(lw.probes, 0, "a refusal is not probed for: the server is up");
  // A later failure backs off from the start again.
  await clock.runUntil(() => lw.streams.length === 1);
  lw.answers.push(forbidden());
  lw.streams[0]!.push(new TypeError("reset"));
  const gapAt = clock.now();
  await clock.runUntil(() => lw.streams.length === 2);
  assert.equal(clock.now() - gapAt, 5_000);
  shutdown.abort();
  await done;
});

Deno.test("ScopeWatcher retries as soon as an unreachable API server answers /readyz again", async () => {
  const { lw, clock, shutdown, watcher } = setup({
    watchServerTimeout: 60,
    watchClientTimeout: 66,
    errorThrottleSleep: 30,
  });
  const down = () => new TypeError("error sending request: Connection refused");
  lw.answers.push(down());
  const done = watcher.run();
  await clock.runUntil(() => lw.probes === 3);
  assert.equal(lw.lists.length, 1, "still down: no list while probes fail");
  lw.ready = true;
  const readyAt = clock.now();
  await clock.runUntil(() => lw.lists.length === 2);
  assert.ok(clock.now() - readyAt <= 1_000, `retried ${clock.now() - readyAt} ms after ready`);
  assert.ok(watcher.failure === undefined);
  shutdown.abort();
  await done;
});

Deno.test("ScopeWatcher.run() relists at once after a healthy watch, backs off when watches keep breaking", async () => {
  const { lw, clock, shutdown, watcher } = setup();
  const done = watcher.run();
  await clock.runUntil(() => lw.streams.length === 1);
  await clock.advance(30_000);
  lw.streams[0]!.push(new TypeError("reset"));
  const t0 = clock.now();
  await clock.runUntil(() => lw.streams.length === 2);
  assert.equal(clock.now() - t0, 0, "a gap after a healthy watch relists at once");
  lw.streams[1]!.push(new TypeError("reset"));
  const t1 = clock.now();
  await clock.runUntil(() => lw.streams.length === 3);
  assert.ok(clock.now() - t1 >= 5_000, "a watch that broke at once backs off");
  shutdown.abort();
  await done;
});

Deno.test("ScopeWatcher.poll() lists every interval, from the watch cache after the first", async () => {
  const { lw, clock, shutdown, watcher } = setup();
  const done = watcher.poll(60_000);
  await clock.runUntil(() => lw.lists.length === 3);
  assert.deepEqual(lw.lists.map((q) => q.resourceVersion), [undefined, "100", "100"]);
  assert.equal(lw.streams.length, 0);
  shutdown.abort();
  await done;
});
