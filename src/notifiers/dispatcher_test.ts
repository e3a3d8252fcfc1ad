import assert from "node:assert/strict";
import type { ChangeSet, WriteResult } from "../model.ts";
import { type Notifier, NotifyError } from "../plugin/contract.ts";
import { invokeHook, PluginError } from "../host/invoke.ts";
import type { Logger } from "../plugin/logger.ts";
import { recordingLogger } from "../testing/logger.ts";
import {
  mergeChangeSets,
  type NotifierSlot,
  NotifyDispatcher,
  type NotifyDispatcherOptions,
  type NotifyItem,
  retryDelay,
} from "./dispatcher.ts";

function set(seq: number, initial = false): ChangeSet {
  return {
    seq,
    initial,
    changes: [{
      type: "upsert",
      ref: { kind: "configmap", namespace: "default", name: `cm${seq}` },
      labels: {},
      annotations: {},
      entries: new Map(),
      dir: "/data",
      namePrefix: "",
    }],
  };
}

function wrote(...paths: string[]): WriteResult {
  return { written: paths, removed: [], rejected: [] };
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function deferred(): Deferred {
  let resolve = () => {};
  const promise = new Promise<void>((r) => resolve = r);
  return { promise, resolve };
}

interface Call {
  changeSet: ChangeSet;
  result: WriteResult;
}

/** A notifier whose n-th call (0-based) does what `behave(n)` returns. */
function scripted(
  behave: (n: number) => Promise<void>,
  extra: Partial<Notifier> = {},
): Notifier & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    notify(changeSet, result) {
      calls.push({ changeSet, result });
      return behave(calls.length - 1);
    },
    ...extra,
  };
}

/** A slot as the plugin host makes it: `notify` through the hook wrapper, with its timeout. */
function slotOf(
  plugin: string,
  instance: string,
  notifier: Notifier,
  timeoutMs: number,
  logger: Logger,
): NotifierSlot {
  return {
    plugin,
    instance,
    retry: notifier.retry,
    skipInitial: notifier.skipInitial,
    logger,
    notify: (changeSet, result, signal) =>
      invokeHook(
        { plugin, instance, hook: "notify" },
        timeoutMs,
        signal,
        () => notifier.notify(changeSet, result),
      ),
  };
}

function dispatcherFor(
  notifiers: Record<string, Notifier>,
  opts: Partial<NotifyDispatcherOptions> & { timeoutMs?: number } = {},
) {
  const { logger, records } = recordingLogger();
  const controller = new AbortController();
  const sleeps: number[] = [];
  const dispatcher = new NotifyDispatcher(
    Object.entries(notifiers).map((
      [instance, notifier],
    ) => (slotOf(
      "test-plugin",
      instance,
      notifier,
      opts.timeoutMs ?? 5_000,
      logger.child(instance),
    ))),
    {
      signal: opts.signal ?? controller.signal,
      logger,
      quietMs: opts.quietMs ?? 0,
      sleep: opts.sleep ?? ((ms) => {
        sleeps.push(ms);
        return Promise.resolve();
      }),
    },
  );
  return { dispatcher, logger, records, controller, sleeps };
}

const policy = { retries: 3, backoffMs: 100, maxDelayMs: 250 };

Deno.test("mergeChangeSets() keeps the newest change per object and the last fate of each path", () => {
  const a: NotifyItem = {
    changeSet: { seq: 1, initial: true, changes: [...set(1).changes, ...set(2).changes] },
    result: {
      written: ["/d/a", "/d/b"],
      removed: ["/d/c"],
      rejected: [{ ref: set(1).changes[0]!.ref, key: "x.json", reason: "bad json" }],
    },
  };
  const newer = { ...set(1).changes[0]!, type: "delete" as const };
  const b: NotifyItem = {
    changeSet: { seq: 2, initial: false, changes: [...set(3).changes, newer] },
    result: {
      written: ["/d/c"],
      removed: ["/d/a"],
      rejected: [{ ref: set(3).changes[0]!.ref, reason: "too big" }],
    },
  };
  const merged = mergeChangeSets(a, b);
  assert.equal(merged.changeSet.seq, 2);
  assert.equal(merged.changeSet.initial, false);
  assert.deepEqual(
    merged.changeSet.changes.map((c) => `${c.type} ${c.ref.name}`),
    ["delete cm1", "upsert cm2", "upsert cm3"],
  );
  assert.deepEqual(merged.result.written.toSorted(), ["/d/b", "/d/c"]);
  assert.deepEqual(merged.result.removed, ["/d/a"]);
  assert.deepEqual(merged.result.rejected.map((r) => r.reason), ["bad json", "too big"]);
  assert.equal(mergeChangeSets(b, a).changeSet.seq, 2, "seq is the newest even out of order");
  assert.equal(
    mergeChangeSets({ ...a }, { changeSet: set(3, true), result: wrote("/d/x") }).changeSet.initial,
    true,
  );
});

Deno.test("retryDelay() doubles per attempt, caps at maxDelayMs and adds at most 10 % jitter", () => {
  assert.deepEqual([1, 2, 3, 4].map((n) => retryDelay(policy, n, () => 0)), [100, 200, 250, 250]);
  assert.equal(retryDelay(policy, 1, () => 0.999), 110);
  assert.equal(retryDelay(policy, 9, () => 0.999), 275);
});

Deno.test("NotifyDispatcher.submit() coalesces change sets while a call is in flight", async () => {
  const gate = deferred();
  const notifier = scripted((n) => n === 0 ? gate.promise : Promise.resolve());
  const { dispatcher } = dispatcherFor({ slow: notifier });
  for (let seq = 1; seq <= 5; seq++) dispatcher.submit(set(seq), wrote(`/d/${seq}.json`));
  gate.resolve();
  await dispatcher.idle();
  assert.equal(notifier.calls.length, 2);
  assert.equal(notifier.calls[0]!.changeSet.seq, 1);
  const second = notifier.calls[1]!;
  assert.equal(second.changeSet.seq, 5);
  assert.deepEqual(second.changeSet.changes.map((c) => c.ref.name), ["cm2", "cm3", "cm4", "cm5"]);
  assert.deepEqual(second.result.written, ["/d/2.json", "/d/3.json", "/d/4.json", "/d/5.json"]);
  assert.deepEqual(dispatcher.stats().slow, {
    sent: 2,
    failed: 0,
    retries: 0,
    coalesced: 3,
    skipped: 0,
  });
  await dispatcher.close();
});

Deno.test("NotifyDispatcher.submit() ignores results that changed no file", async () => {
  const notifier = scripted(() => Promise.resolve());
  const { dispatcher } = dispatcherFor({ n: notifier });
  dispatcher.submit(set(1), { written: [], removed: [], rejected: [] });
  await dispatcher.idle();
  assert.equal(notifier.calls.length, 0);
  await dispatcher.close();
});

Deno.test("NotifyDispatcher retries a failing notifier with backoff until it succeeds", async () => {
  const notifier = scripted(
    (n) => n < 2 ? Promise.reject(new Error("connection refused")) : Promise.resolve(),
    { retry: policy },
  );
  const { dispatcher, sleeps, records } = dispatcherFor({ flaky: notifier });
  dispatcher.submit(set(1), wrote("/d/a"));
  await dispatcher.idle();
  assert.equal(notifier.calls.length, 3);
  assert.deepEqual(notifier.calls.map((c) => c.changeSet.seq), [1, 1, 1]);
  assert.equal(sleeps.length, 2);
  assert.ok(sleeps[0]! >= 100 && sleeps[0]! <= 110, `first delay ${sleeps[0]}`);
  assert.ok(sleeps[1]! >= 200 && sleeps[1]! <= 220, `second delay ${sleeps[1]}`);
  const stats = dispatcher.stats().flaky!;
  assert.equal(stats.sent, 1);
  assert.equal(stats.retries, 2);
  assert.equal(stats.failed, 0);
  assert.match(stats.lastError ?? "", /connection refused/);
  const warnings = records.filter((l) => l.level === "warn");
  assert.equal(warnings.length, 2);
  assert.equal(warnings[0]!.fields.plugin, "test-plugin");
  assert.equal(warnings[0]!.fields.instance, "flaky");
  await dispatcher.close();
});

Deno.test("NotifyDispatcher retries with the merged newest state when newer sets are pending", async () => {
  // The notifier submits newer sets itself, so it needs the dispatcher it is part of.
  const late: { dispatcher?: NotifyDispatcher } = {};
  const notifier = scripted((n) => {
    if (n === 0) {
      // Newer change sets arrive while the first call fails.
      late.dispatcher!.submit(set(2), wrote("/d/2"));
      late.dispatcher!.submit(set(3), wrote("/d/3"));
      return Promise.reject(new NotifyError("503", { retryable: true }));
    }
    return Promise.resolve();
  }, { retry: policy });
  const { dispatcher } = dispatcherFor({ n: notifier });
  late.dispatcher = dispatcher;
  dispatcher.submit(set(1), wrote("/d/1"));
  await dispatcher.idle();
  assert.equal(notifier.calls.length, 2);
  assert.equal(notifier.calls[1]!.changeSet.seq, 3);
  assert.deepEqual(notifier.calls[1]!.result.written, ["/d/1", "/d/2", "/d/3"]);
  await dispatcher.close();
});

Deno.test("NotifyDispatcher keeps retrying past its retry budget, at the capped interval, until it succeeds", async () => {
  // The notifier submits newer sets itself, so it needs the dispatcher it is part of.
  const late: { dispatcher?: NotifyDispatcher } = {};
  const notifier = scripted((n) => {
    if (n === 0) late.dispatcher!.submit(set(2), wrote("/d/2"));
    if (n === 4) late.dispatcher!.submit(set(3), wrote("/d/3"));
    return n < 6 ? Promise.reject(new Error("down")) : Promise.resolve();
  }, { retry: { retries: 2, backoffMs: 10, maxDelayMs: 40 } });
  const { dispatcher, sleeps, records } = dispatcherFor({ n: notifier });
  late.dispatcher = dispatcher;
  dispatcher.submit(set(1), wrote("/d/1"));
  await dispatcher.idle();
  // Set 2 is merged into the first retry, set 3 into a retry past the budget; the one call that
  // succeeds names every file changed meanwhile.
  assert.deepEqual(notifier.calls.map((c) => c.changeSet.seq), [1, 2, 2, 2, 2, 3, 3]);
  assert.deepEqual(notifier.calls.at(-1)!.result.written, ["/d/1", "/d/2", "/d/3"]);
  assert.deepEqual(sleeps.map((ms) => ms >= 40 ? "cap" : "backoff"), [
    "backoff",
    "backoff",
    "cap",
    "cap",
    "cap",
    "cap",
  ]);
  assert.deepEqual(dispatcher.stats().n, {
    sent: 1,
    failed: 0,
    retries: 6,
    coalesced: 2,
    skipped: 0,
    lastError: 'plugin "test-plugin" instance "n" hook notify: down',
  });
  const errors = records.filter((l) => l.level === "error");
  assert.equal(errors.length, 1, "exhausting the budget is said once");
  assert.match(errors[0]!.message, /retries exhausted; still retrying/);
  await dispatcher.close();
});

Deno.test("NotifyDispatcher waits for a quiet moment so that a burst is one notification", async () => {
  const { FakeClock } = await import("../util/fake_clock.ts");
  const clock = new FakeClock();
  const notifier = scripted(() => Promise.resolve());
  const { logger } = recordingLogger();
  const dispatcher = new NotifyDispatcher([slotOf("p", "n", notifier, 5_000, logger)], {
    signal: new AbortController().signal,
    logger,
    clock,
    quietMs: 250,
    maxDelayMs: 2000,
  });
  for (let seq = 1; seq <= 3; seq++) {
    dispatcher.submit(set(seq), wrote(`/d/${seq}`));
    await clock.advance(200);
  }
  assert.equal(notifier.calls.length, 0, "still within 250 ms of the last change set");
  await clock.advance(300);
  assert.deepEqual(notifier.calls.map((c) => c.changeSet.seq), [3]);
  // A steady stream is notified at least every maxDelayMs.
  for (let seq = 4; seq <= 30; seq++) {
    dispatcher.submit(set(seq), wrote(`/d/${seq}`));
    await clock.advance(100);
  }
  assert.ok(notifier.calls.length >= 2, `only ${notifier.calls.length} calls in 2.7 s of changes`);
  await clock.advance(1000);
  assert.equal(notifier.calls.at(-1)!.changeSet.seq, 30);
  await dispatcher.close();
});

Deno.test("NotifyDispatcher does not retry a non-retryable NotifyError", async () => {
  const notifier = scripted(
    () => Promise.reject(new NotifyError("401 Unauthorized", { retryable: false })),
    { retry: policy },
  );
  const { dispatcher, records, sleeps } = dispatcherFor({ n: notifier });
  dispatcher.submit(set(1), wrote("/d/1"));
  await dispatcher.idle();
  assert.equal(notifier.calls.length, 1);
  assert.equal(sleeps.length, 0);
  assert.equal(dispatcher.stats().n!.failed, 1);
  const error = records.find((l) => l.level === "error");
  assert.ok(error);
  assert.deepEqual(
    [error.fields.plugin, error.fields.instance],
    ["test-plugin", "n"],
  );
  assert.match(String(error.fields.reason), /401 Unauthorized/);
});

Deno.test("NotifyDispatcher does not retry a notifier without a retry policy", async () => {
  const notifier = scripted(() => Promise.reject(new Error("boom")));
  const { dispatcher } = dispatcherFor({ n: notifier });
  dispatcher.submit(set(1), wrote("/d/1"));
  await dispatcher.idle();
  assert.equal(notifier.calls.length, 1);
  assert.equal(dispatcher.stats().n!.failed, 1);
});

Deno.test("NotifyDispatcher reports a hanging notifier as a timed-out PluginError and retries it", async () => {
  const notifier = scripted(
    (n) => n === 0 ? new Promise<void>(() => {}) : Promise.resolve(),
    { retry: policy },
  );
  const { dispatcher, records } = dispatcherFor({ hang: notifier }, { timeoutMs: 20 });
  dispatcher.submit(set(1), wrote("/d/1"));
  await dispatcher.idle();
  assert.equal(notifier.calls.length, 2);
  assert.equal(dispatcher.stats().hang!.sent, 1);
  assert.match(
    dispatcher.stats().hang!.lastError ?? "",
    /^plugin "test-plugin" instance "hang" hook notify: did not settle within 20 ms$/,
  );
  const warning = records.find((l) => l.level === "warn");
  assert.match(String(warning?.fields.reason), /did not settle/);
  await dispatcher.close();
});

Deno.test("NotifyDispatcher classifies a PluginError from a timeout as retryable", async () => {
  // The error a timeout produces carries plugin, instance and hook.
  const err = new PluginError({ plugin: "p", instance: "i", hook: "notify" }, "late", {
    timedOut: true,
  });
  const notifier = scripted((n) => n === 0 ? Promise.reject(err) : Promise.resolve(), {
    retry: policy,
  });
  const { dispatcher } = dispatcherFor({ n: notifier });
  dispatcher.submit(set(1), wrote("/d/1"));
  await dispatcher.idle();
  assert.equal(notifier.calls.length, 2);
  assert.equal(err.label.hook, "notify");
});

Deno.test("NotifyDispatcher lets one notifier run while another one hangs", async () => {
  const gate = deferred();
  const reached = deferred();
  const stuck = scripted(() => gate.promise);
  const fast = scripted(() => {
    reached.resolve();
    return Promise.resolve();
  });
  const { dispatcher } = dispatcherFor({ stuck, fast });
  dispatcher.submit(set(1), wrote("/d/1"));
  await reached.promise;
  assert.equal(fast.calls.length, 1);
  assert.equal(dispatcher.stats().stuck!.sent, 0, "the stuck call is still in flight");
  dispatcher.submit(set(2), wrote("/d/2"));
  // Wait for the fast lane only: poll its counter rather than idle(), which also waits for stuck.
  while (dispatcher.stats().fast!.sent < 2) await new Promise((r) => setTimeout(r, 1));
  assert.deepEqual(fast.calls.map((c) => c.changeSet.seq), [1, 2]);
  gate.resolve();
  await dispatcher.idle();
  assert.deepEqual(stuck.calls.map((c) => c.changeSet.seq), [1, 2]);
  await dispatcher.close();
});

Deno.test("NotifyDispatcher skips the initial set for skipInitial notifiers unless merged with a later one", async () => {
  const plain = scripted(() => Promise.resolve());
  const skipping = scripted(() => Promise.resolve(), { skipInitial: true });
  const { dispatcher } = dispatcherFor({ plain, skipping });
  dispatcher.submit(set(1, true), wrote("/d/1"));
  await dispatcher.idle();
  assert.deepEqual(plain.calls.map((c) => c.changeSet.seq), [1]);
  assert.equal(skipping.calls.length, 0);
  assert.equal(dispatcher.stats().skipping!.skipped, 1);
  dispatcher.submit(set(2), wrote("/d/2"));
  await dispatcher.idle();
  assert.deepEqual(skipping.calls.map((c) => c.changeSet.seq), [2]);

  // An initial set still pending when a later one arrives is sent, merged.
  const gate = deferred();
  const busy = scripted((n) => n === 0 ? gate.promise : Promise.resolve(), { skipInitial: true });
  const second = dispatcherFor({ busy });
  second.dispatcher.submit(set(7), wrote("/d/7"));
  second.dispatcher.submit(set(8, true), wrote("/d/8"));
  second.dispatcher.submit(set(9), wrote("/d/9"));
  gate.resolve();
  await second.dispatcher.idle();
  assert.deepEqual(busy.calls.map((c) => [c.changeSet.seq, c.changeSet.initial]), [
    [7, false],
    [9, false],
  ]);
  assert.deepEqual(busy.calls[1]!.result.written, ["/d/8", "/d/9"]);
  await dispatcher.close();
  await second.dispatcher.close();
});

Deno.test("NotifyDispatcher.idle() resolves at once when nothing was submitted", async () => {
  const { dispatcher } = dispatcherFor({ n: scripted(() => Promise.resolve()) });
  await dispatcher.idle();
  await dispatcher.close();
});

Deno.test("NotifyDispatcher.close() waits for an in-flight call within the grace period", async () => {
  const gate = deferred();
  const notifier = scripted(() => gate.promise);
  const { dispatcher } = dispatcherFor({ n: notifier });
  dispatcher.submit(set(1), wrote("/d/1"));
  dispatcher.submit(set(2), wrote("/d/2"));
  const closed = dispatcher.close(60_000);
  gate.resolve();
  await closed;
  assert.equal(dispatcher.stats().n!.sent, 1);
  // The pending set and anything submitted after close() are not sent.
  dispatcher.submit(set(3), wrote("/d/3"));
  await dispatcher.idle();
  assert.deepEqual(notifier.calls.map((c) => c.changeSet.seq), [1]);
});

Deno.test("NotifyDispatcher.close() abandons a call that ignores its signal after the grace period", async () => {
  const notifier = scripted(() => new Promise<void>(() => {}));
  const { dispatcher, records } = dispatcherFor({ n: notifier }, { timeoutMs: 3_600_000 });
  dispatcher.submit(set(1), wrote("/d/1"));
  await dispatcher.close(1);
  assert.equal(dispatcher.stats().n!.failed, 1);
  assert.ok(records.some((l) => l.level === "warn" && /shutting down/.test(l.message)));
});

Deno.test("NotifyDispatcher stops a retry sleep promptly when its signal aborts", async () => {
  const controller = new AbortController();
  const notifier = scripted((n) => {
    if (n === 0) queueMicrotask(() => controller.abort());
    return Promise.reject(new Error("down"));
  }, { retry: { retries: 5, backoffMs: 3_600_000, maxDelayMs: 3_600_000 } });
  // The real, abortable sleep: an hour-long backoff must end at the abort.
  const { logger } = recordingLogger();
  const dispatcher = new NotifyDispatcher([slotOf("test-plugin", "n", notifier, 1_000, logger)], {
    signal: controller.signal,
    logger,
  });
  dispatcher.submit(set(1), wrote("/d/1"));
  await dispatcher.idle();
  assert.equal(notifier.calls.length, 1);
  assert.equal(dispatcher.stats().n!.failed, 1);
  dispatcher.submit(set(2), wrote("/d/2"));
  await dispatcher.idle();
  assert.equal(notifier.calls.length, 1, "nothing is sent after the abort");
});

Deno.test("NotifyDispatcher.submit() survives a notifier that throws synchronously", async () => {
  const notifier: Notifier = {
    notify() {
      throw new Error("sync boom");
    },
  };
  const { dispatcher, records } = dispatcherFor({ n: notifier });
  dispatcher.submit(set(1), wrote("/d/1"));
  await dispatcher.idle();
  assert.equal(dispatcher.stats().n!.failed, 1);
  assert.ok(
    records.some((l) => l.level === "error" && /sync boom/.test(`${l.fields.reason}`)),
  );
});

Deno.test("NotifyDispatcher rejects duplicate instance labels", () => {
  const n = scripted(() => Promise.resolve());
  const { logger } = recordingLogger();
  assert.throws(
    () =>
      new NotifyDispatcher([
        slotOf("p", "x", n, 1, logger),
        slotOf("p", "x", n, 1, logger),
      ], { signal: new AbortController().signal, logger }),
    /duplicate notifier instance "x"/,
  );
});

Deno.test("NotifyDispatcher holds a notification while the sync is still writing, up to the longest delay", async () => {
  const { FakeClock } = await import("../util/fake_clock.ts");
  const clock = new FakeClock();
  const notifier = scripted(() => Promise.resolve());
  const { logger } = recordingLogger();
  const dispatcher = new NotifyDispatcher([slotOf("p", "n", notifier, 5_000, logger)], {
    signal: new AbortController().signal,
    logger,
    clock,
    quietMs: 250,
    maxDelayMs: 5_000,
  });
  let writing = true;
  dispatcher.holdWhile(() => writing);
  dispatcher.submit(set(1), wrote("/d/1"));
  await clock.advance(1_000);
  assert.equal(notifier.calls.length, 0, "no notification while writes go on");
  writing = false;
  await clock.advance(300);
  assert.deepEqual(notifier.calls.map((c) => c.changeSet.seq), [1]);
  writing = true;
  dispatcher.submit(set(2), wrote("/d/2"));
  await clock.advance(5_100);
  assert.equal(notifier.calls.length, 2, "the longest delay wins over a sync that never rests");
  await dispatcher.close();
});
