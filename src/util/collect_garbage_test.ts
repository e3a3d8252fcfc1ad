import assert from "node:assert/strict";
import { CollectionSchedule } from "./collect_garbage.ts";
import { FakeClock } from "./fake_clock.ts";

function setup() {
  const clock = new FakeClock();
  const at: number[] = [];
  const schedule = new CollectionSchedule({
    gc: (options) => {
      assert.deepEqual(options, { type: "major", execution: "sync", flavor: "last-resort" });
      at.push(clock.now());
    },
    clock,
    intervalMs: 60_000,
  });
  return { clock, at, schedule, start: clock.now() };
}

Deno.test("CollectionSchedule.request() collects once for requests made before it runs", async () => {
  const { clock, at, schedule, start } = setup();
  assert.equal(schedule.request("now"), true);
  assert.equal(schedule.request("now"), true);
  assert.equal(schedule.request("within-interval"), true);
  assert.equal(clock.pending, 1);
  await clock.advance(0);
  assert.deepEqual(at, [start]);
});

Deno.test("CollectionSchedule.request() keeps changes' collections an interval apart", async () => {
  const { clock, at, schedule, start } = setup();
  schedule.request("within-interval");
  await clock.advance(0);
  assert.deepEqual(at, [start], "the first one runs at once");
  await clock.advance(10_000);
  schedule.request("within-interval");
  await clock.advance(40_000);
  schedule.request("within-interval");
  await clock.runUntil(() => at.length === 2);
  assert.deepEqual(at, [start, start + 60_000]);
  await clock.advance(120_000);
  schedule.request("within-interval");
  await clock.advance(0);
  assert.deepEqual(at, [start, start + 60_000, start + 180_000], "long after the last: at once");
});

Deno.test("CollectionSchedule.request('now') brings a waiting collection forward", async () => {
  const { clock, at, schedule, start } = setup();
  schedule.request("now");
  await clock.advance(1_000);
  schedule.request("within-interval");
  await clock.advance(1_000);
  schedule.request("now");
  await clock.advance(0);
  assert.deepEqual(at, [start, start + 2_000]);
  assert.equal(clock.pending, 0, "the waiting one was cancelled, not run as well");
});

Deno.test("CollectionSchedule.request() does nothing without gc (no --expose-gc)", () => {
  const clock = new FakeClock();
  const schedule = new CollectionSchedule({ gc: undefined, clock });
  assert.equal(schedule.request("now"), false);
  assert.equal(clock.pending, 0);
});
