import assert from "node:assert/strict";
import { refKey, type SyncStep } from "../model.ts";
import type { ObjectSnapshot } from "../source/objects.ts";
import { type Scope, scopesFor } from "../source/scope.ts";
import { recordingLogger } from "../testing/logger.ts";
import { Reconciler, type ReconcilerOptions } from "./reconciler.ts";
import { resolveTargetDir } from "./target.ts";

const enc = new TextEncoder();
const [scopeA, scopeB] = scopesFor(["configmap"], ["a", "b"]) as [
  ReturnType<typeof scopesFor>[0],
  ReturnType<typeof scopesFor>[0],
];

function obj(
  ns: string,
  name: string,
  data: Record<string, string>,
  rv = "1",
  annotations: Record<string, string> = {},
): ObjectSnapshot {
  return {
    ref: { kind: "configmap", namespace: ns, name },
    resourceVersion: rv,
    labels: {},
    annotations,
    entries: new Map(Object.entries(data).map(([k, v]) => [k, enc.encode(v)])),
  };
}

function make(opts: Partial<ReconcilerOptions> = {}) {
  const steps: SyncStep[] = [];
  const rec = recordingLogger();
  const r = new Reconciler({
    folder: "/data",
    folderAnnotation: "dir",
    folderAnnotationRoots: [],
    uniqueFilenames: false,
    resourceNames: [],
    scopes: [scopeA, scopeB],
    logger: rec.logger,
    apply: (step) => {
      steps.push(step);
      return Promise.resolve(true);
    },
    ...opts,
  });
  return { r, steps, rec };
}

/** A complete list of `scope` in one page. */
function list(r: Reconciler, scope: Scope, objects: ObjectSnapshot[]): void {
  r.page(scope, objects, []);
  r.listed(scope, new Set(objects.map((o) => refKey(o.ref))));
}

const summary = (step: SyncStep) =>
  step.changeSet.changes.map((c) => `${c.type} ${c.ref.namespace}/${c.ref.name}`);

Deno.test("Reconciler writes the initial sync page by page and marks its end once", async () => {
  const { r, steps } = make();
  r.page(scopeA, [obj("a", "x", { "x.json": "1" })], []);
  await r.idle();
  assert.equal(steps.length, 1, "the first page is written before scope b lists");
  assert.equal(steps[0]!.changeSet.initial, true);
  assert.equal(steps[0]!.endOfInitial, false);
  r.page(scopeA, [obj("a", "y", { "y.json": "1" })], []);
  r.listed(scopeA, new Set(["configmap/a/x", "configmap/a/y"]));
  list(r, scopeB, [obj("b", "z", { "z.json": "2" })]);
  await r.initialApplied;
  await r.idle();
  assert.deepEqual(steps.map(summary), [["upsert a/x"], ["upsert a/y", "upsert b/z"]]);
  assert.deepEqual(steps.map((s) => s.endOfInitial), [false, true]);
  assert.ok(steps.every((s) => s.changeSet.initial));
  assert.equal(steps[1]!.prune?.where, "all");
  assert.equal(r.ready, true);
});

Deno.test("Reconciler does not let a scope that cannot be listed hold back the others", async () => {
  const { r, steps } = make();
  list(r, scopeA, [obj("a", "x", { "x.json": "1" })]);
  r.listFailed(scopeB, new Error("403 Forbidden"));
  await r.initialApplied;
  await r.idle();
  assert.equal(r.ready, false, "not ready while scope b was never listed");
  assert.deepEqual(steps.map((s) => s.endOfInitial), [true]);
  assert.deepEqual(steps[0]!.prune?.where, [{ kind: "configmap", namespace: "a" }]);
  // Later the permission arrives: b's objects are an ordinary change set.
  list(r, scopeB, [obj("b", "y", { "y.json": "2" })]);
  await r.idle();
  assert.equal(r.ready, true);
  assert.deepEqual(summary(steps[1]!), ["upsert b/y"]);
  assert.equal(steps[1]!.changeSet.initial, false);
  assert.equal(steps[1]!.prune?.where, "all");
});

Deno.test("Reconciler writes a change at once and batches what arrives while it is written", async () => {
  const gate = Promise.withResolvers<void>();
  const steps: SyncStep[] = [];
  const { r } = make({
    apply: async (step) => {
      steps.push(step);
      if (steps.length === 2) await gate.promise;
      return true;
    },
  });
  list(r, scopeA, []);
  list(r, scopeB, []);
  await r.initialApplied;
  r.event(scopeA, "upsert", obj("a", "x", { "x.json": "0" }, "10"));
  await new Promise((res) => setTimeout(res, 0));
  assert.equal(steps.length, 2, "written without waiting for a quiet window");
  for (let i = 1; i < 20; i++) {
    r.event(scopeA, "upsert", obj("a", "x", { "x.json": String(i) }, String(10 + i)));
  }
  r.event(scopeA, "upsert", obj("a", "z", { "z.json": "z" }, "40"));
  r.event(scopeA, "delete", obj("a", "z", {}, "41"));
  gate.resolve();
  await r.idle();
  assert.equal(steps.length, 3);
  assert.deepEqual(summary(steps[2]!), ["upsert a/x", "delete a/z"]);
  const x = steps[2]!.changeSet.changes[0]!;
  assert.equal(new TextDecoder().decode(x.entries.get("x.json")), "19");
});

Deno.test("Reconciler skips unchanged objects on relist and deletes what vanished from a scope", async () => {
  const { r, steps } = make();
  list(r, scopeA, [obj("a", "x", { "x.json": "1" }), obj("a", "gone", { "g.json": "1" })]);
  list(r, scopeB, [obj("b", "y", { "y.json": "2" })]);
  await r.initialApplied;
  await r.idle();
  const before = steps.length;
  // A relist of scope a: x unchanged (new resourceVersion, same content), gone missing; b untouched.
  list(r, scopeA, [obj("a", "x", { "x.json": "1" }, "7")]);
  await r.idle();
  assert.equal(steps.length, before + 1);
  assert.deepEqual(summary(steps.at(-1)!), ["delete a/gone"]);
  assert.equal(steps.at(-1)!.prune, undefined, "only a scope's first list prunes");
  assert.ok(r.stats.skippedUnchanged >= 1);
});

Deno.test("Reconciler keeps the files of an object whose folder annotation escapes, and names it", async () => {
  const { r, steps, rec } = make();
  list(r, scopeA, [obj("a", "evil", { "e.json": "1" }, "1", { dir: "../../etc" })]);
  list(r, scopeB, []);
  await r.initialApplied;
  await r.idle();
  assert.deepEqual(steps.flatMap(summary), []);
  assert.match(rec.text(), /configmap\/a\/evil.*outside the allowed roots/);
  assert.deepEqual(
    steps.at(-1)!.prune?.live.map((x) => x.name),
    ["evil"],
    "its old files survive the orphan sweep",
  );
});

Deno.test("Reconciler applies an object again after a writer failure", async () => {
  let fail = true;
  const steps: SyncStep[] = [];
  const { r } = make({
    apply: (step) => {
      steps.push(step);
      return Promise.resolve(!fail);
    },
  });
  list(r, scopeA, [obj("a", "x", { "x.json": "1" })]);
  list(r, scopeB, []);
  await r.initialApplied;
  await r.idle();
  fail = false;
  list(r, scopeA, [obj("a", "x", { "x.json": "1" })]); // same version, same content
  await r.idle();
  assert.deepEqual(steps.map(summary), [["upsert a/x"], ["upsert a/x"]]);
});

Deno.test("resolveTargetDir() honours relative values and allowed roots and refuses escapes", () => {
  const rules = { folder: "/data", roots: ["/srv/extra"] };
  assert.deepEqual(resolveTargetDir(rules, undefined), { dir: "/data" });
  assert.deepEqual(resolveTargetDir(rules, "a/b"), { dir: "/data/a/b" });
  assert.deepEqual(resolveTargetDir(rules, "/data/c"), { dir: "/data/c" });
  assert.deepEqual(resolveTargetDir(rules, "/srv/extra/d"), { dir: "/srv/extra/d" });
  for (const bad of ["../x", "/etc", "/srv/extra/../other", "a/../../x"]) {
    assert.ok("error" in resolveTargetDir(rules, bad), bad);
  }
});

Deno.test("Reconciler.page() lets the next page come only once this one is on its way to the writers", async () => {
  const gate = Promise.withResolvers<void>();
  const { r, steps } = make({
    apply: async (step) => {
      steps.push(step);
      if (steps.length === 1) await gate.promise;
      return true;
    },
  });
  await r.page(scopeA, [obj("a", "x", { "x.json": "1" })], []);
  assert.equal(steps.length, 1, "the first page went to the writers at once");
  let released = false;
  const second = r.page(scopeA, [obj("a", "y", { "y.json": "2" })], []).then(() => released = true);
  await new Promise((res) => setTimeout(res, 0));
  assert.equal(released, false, "the writers are busy: the list must wait with page 3");
  gate.resolve();
  await second;
  assert.deepEqual(steps.map(summary), [["upsert a/x"], ["upsert a/y"]]);
  await r.close();
});
