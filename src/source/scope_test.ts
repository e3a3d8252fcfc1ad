import assert from "node:assert/strict";
import { type Scope, selectScopes } from "./scope.ts";

const view = (s: Scope) => [s.id, s.labelSelector, s.fieldSelector];

Deno.test("selectScopes() narrows the label selection by name on the server where it can", () => {
  const scopes = selectScopes({
    kinds: ["configmap", "secret"],
    namespaces: ["a", "b"],
    labelSelector: "dash",
    names: [{ kind: "configmap", name: "x" }, { namespace: "b", kind: "configmap", name: "y" }],
  });
  assert.deepEqual(scopes.map(view), [
    ["configmap@a", "dash", "metadata.name=x"],
    ["configmap@b", "dash", undefined],
  ]);
  assert.deepEqual(
    selectScopes({ kinds: ["secret"], namespaces: "ALL", labelSelector: "l", names: [] }).map(view),
    [["secret@*", "l", undefined]],
  );
});

Deno.test("selectScopes() with namesIgnoreLabel reads each named object by name without the label", () => {
  const scopes = selectScopes({
    kinds: ["configmap", "secret"],
    namespaces: ["a", "b"],
    labelSelector: "dash",
    names: [{ kind: "configmap", name: "x" }, { name: "y" }, { namespace: "b", name: "z" }],
    namesIgnoreLabel: true,
  });
  assert.deepEqual(scopes.map(view), [
    ["configmap@a/x", undefined, "metadata.name=x"],
    ["configmap@a/y", undefined, "metadata.name=y"],
    ["configmap@b/x", undefined, "metadata.name=x"],
    ["configmap@b/y", undefined, "metadata.name=y"],
    ["configmap@b/z", undefined, "metadata.name=z"],
    ["secret@a/y", undefined, "metadata.name=y"],
    ["secret@b/y", undefined, "metadata.name=y"],
    ["secret@b/z", undefined, "metadata.name=z"],
  ]);
  assert.ok(scopes.every((s) => s.path.startsWith("/api/v1/namespaces/")));
});

Deno.test("selectScopes() with namesIgnoreLabel keeps the label for a kind no entry names, as kiwigrid", () => {
  const scopes = selectScopes({
    kinds: ["configmap", "secret"],
    namespaces: ["a"],
    labelSelector: "dash",
    names: [{ kind: "configmap", name: "x" }],
    namesIgnoreLabel: true,
  });
  assert.deepEqual(scopes.map(view), [
    ["configmap@a/x", undefined, "metadata.name=x"],
    ["secret@a", "dash", undefined],
  ]);
});
