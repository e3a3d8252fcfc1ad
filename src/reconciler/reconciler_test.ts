import assert from "node:assert/strict";
import type { ChangeSet } from "../model.ts";
import type { ObjectSnapshot } from "../source/objects.ts";
import { scopesFor } from "../source/scope.ts";
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
  const sets: ChangeSet[] = [];
  const rec = recordingLogger();
  const r = new Reconciler({
    folder: "/data",
    folderAnnotation: "dir",
    folderAnnotationRoots: [],
    uniqueFilenames: false,
    resourceNames: [],
    scopes: [scopeA, scopeB],
    quietMs: 5,
    maxDelayMs: 50,
    logger: rec.logger,
    apply: (cs) => {
      sets.push(cs);
      return Promise.resolve(true);
    },
    ...opts,
  });
  return { r, sets, rec };
}

const summary = (cs: ChangeSet) =>
  cs.changes.map((c) => `${c.type} ${c.ref.namespace}/${c.ref.name}`);

Deno.test("Reconciler emits one initial change set only after every scope listed", async () => {
  const { r, sets } = make();
  r.snapshot(scopeA, [obj("a", "x", { "x.json": "1" })], []);
  await new Promise((res) => setTimeout(res, 20));
  assert.equal(sets.length, 0, "scope b has not listed yet");
  r.snapshot(scopeB, [obj("b", "y", { "y.json": "2" })], []);
  await r.initialApplied;
  assert.equal(sets.length, 1);
  assert.equal(sets[0]!.initial, true);
  assert.deepEqual(summary(sets[0]!), ["upsert a/x", "upsert b/y"]);
});

Deno.test("Reconciler debounces a burst into one change set with the newest state per object", async () => {
  const { r, sets } = make();
  r.snapshot(scopeA, [], []);
  r.snapshot(scopeB, [], []);
  await r.initialApplied;
  for (let i = 0; i < 20; i++) {
    r.event(scopeA, "upsert", obj("a", "x", { "x.json": String(i) }, String(10 + i)));
  }
  r.event(scopeA, "upsert", obj("a", "z", { "z.json": "z" }, "40"));
  r.event(scopeA, "delete", obj("a", "z", {}, "41"));
  await r.idle();
  assert.equal(sets.length, 2);
  assert.deepEqual(summary(sets[1]!), ["upsert a/x", "delete a/z"]);
  assert.equal(new TextDecoder().decode(sets[1]!.changes[0]!.entries.get("x.json")), "19");
});

Deno.test("Reconciler skips unchanged objects on relist and deletes what vanished from a scope", async () => {
  const { r, sets } = make();
  r.snapshot(scopeA, [obj("a", "x", { "x.json": "1" }), obj("a", "gone", { "g.json": "1" })], []);
  r.snapshot(scopeB, [obj("b", "y", { "y.json": "2" })], []);
  await r.initialApplied;
  // A relist of scope a: x unchanged (new resourceVersion, same content), gone missing; b untouched.
  r.snapshot(scopeA, [obj("a", "x", { "x.json": "1" }, "7")], []);
  await r.idle();
  assert.equal(sets.length, 2);
  assert.deepEqual(summary(sets[1]!), ["delete a/gone"]);
  assert.ok(r.stats.skippedUnchanged >= 1);
});

Deno.test("Reconciler keeps the files of an object whose folder annotation escapes, and names it", async () => {
  const { r, sets, rec } = make();
  r.snapshot(scopeA, [obj("a", "evil", { "e.json": "1" }, "1", { dir: "../../etc" })], []);
  r.snapshot(scopeB, [], []);
  await r.initialApplied;
  assert.deepEqual(summary(sets[0]!), []);
  assert.match(rec.text(), /configmap\/a\/evil.*outside the allowed roots/);
  assert.deepEqual(
    r.liveRefs().map((x) => x.name),
    ["evil"],
    "its old files survive the orphan sweep",
  );
});

Deno.test("Reconciler applies an object again after a writer failure", async () => {
  let fail = true;
  const sets: ChangeSet[] = [];
  const { r } = make({
    apply: (cs) => {
      sets.push(cs);
      return Promise.resolve(!fail);
    },
  });
  r.snapshot(scopeA, [obj("a", "x", { "x.json": "1" })], []);
  r.snapshot(scopeB, [], []);
  await r.initialApplied;
  fail = false;
  r.snapshot(scopeA, [obj("a", "x", { "x.json": "1" })], []); // same version, same content
  await r.idle();
  assert.equal(sets.length, 2, "the failed object is written again on the next list");
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
