/**
 * A scope is one list/watch stream: a resource kind in one namespace, or cluster-wide.
 *
 * @module
 */
import { type NameFilter, nameFilterCovers, type ResourceKind } from "../model.ts";

/** One list/watch stream. */
export interface Scope {
  kind: ResourceKind;
  /** Undefined for the cluster-wide scope. */
  namespace?: string | undefined;
  /** `configmap@ns` or `configmap@*`, for logs and metrics. */
  id: string;
  /** API path of the collection. */
  path: string;
  /**
   * The label selector sent with list and watch; undefined for none (a scope that reads one
   * object by name). Scopes from {@linkcode scopesFor} leave it to the caller.
   */
  labelSelector?: string | undefined;
  /** The field selector sent with list and watch (`metadata.name=…`), if any. */
  fieldSelector?: string | undefined;
  /**
   * Lists no objects to write (the namespaces of `NAMESPACE_SELECTOR`): it gates readiness like a
   * scope, but its first list prunes nothing.
   */
  gate?: boolean | undefined;
}

const PLURAL: Record<ResourceKind, string> = { configmap: "configmaps", secret: "secrets" };

/**
 * The scopes for `kinds` × `namespaces`; `"ALL"` is one cluster-wide scope per kind.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scopesFor } from "./scope.ts";
 * assert.deepEqual(scopesFor(["configmap"], ["a", "b"]).map((s) => s.path), [
 *   "/api/v1/namespaces/a/configmaps",
 *   "/api/v1/namespaces/b/configmaps",
 * ]);
 * ```
 */
export function scopesFor(
  kinds: readonly ResourceKind[],
  namespaces: readonly string[] | "ALL",
): Scope[] {
  const scopes: Scope[] = [];
  for (const kind of kinds) {
    if (namespaces === "ALL") {
      scopes.push({ kind, id: `${kind}@*`, path: `/api/v1/${PLURAL[kind]}` });
    } else {
      for (const ns of new Set(namespaces)) {
        scopes.push({
          kind,
          namespace: ns,
          id: `${kind}@${ns}`,
          path: `/api/v1/namespaces/${encodeURIComponent(ns)}/${PLURAL[kind]}`,
        });
      }
    }
  }
  return scopes;
}

/**
 * How `RESOURCE_NAME` narrows one scope on the server: `undefined` when no entry can match it
 * (the scope need not be watched at all); a `metadata.name` field selector when exactly one name
 * can; no selector when several can (the reconciler filters those). The label selector always
 * applies as well.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nameSelectorFor, scopesFor } from "./scope.ts";
 * const [scope] = scopesFor(["secret"], ["ns"]);
 * assert.deepEqual(nameSelectorFor(scope!, [{ kind: "secret", name: "db" }]), {
 *   fieldSelector: "metadata.name=db",
 * });
 * assert.equal(nameSelectorFor(scope!, [{ kind: "configmap", name: "db" }]), undefined);
 * ```
 */
export function nameSelectorFor(
  scope: Scope,
  filters: readonly NameFilter[],
): { fieldSelector?: string } | undefined {
  if (filters.length === 0) return {};
  const names = new Set(filters.filter((f) => nameFilterCovers(f, scope)).map((f) => f.name));
  if (names.size === 0) return undefined;
  if (names.size === 1) return { fieldSelector: `metadata.name=${[...names][0]}` };
  return {};
}

/** What {@linkcode selectScopes} selects. */
export interface ScopeSelection {
  kinds: readonly ResourceKind[];
  namespaces: readonly string[] | "ALL";
  labelSelector: string;
  names: readonly NameFilter[];
  /**
   * kiwigrid's `RESOURCE_NAME`: in a namespace, each named object gets a scope of its own that
   * reads it by name with no label selector (so a Role restricted by `resourceNames` suffices);
   * a kind no entry names keeps the label selection. Cluster-wide scopes ignore the names.
   */
  namesIgnoreLabel?: boolean | undefined;
}

/**
 * The scopes to list and watch, each with the selectors it sends. Without `namesIgnoreLabel`,
 * names narrow the label selection ({@linkcode nameSelectorFor}); with it, see
 * {@linkcode ScopeSelection.namesIgnoreLabel}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { selectScopes } from "./scope.ts";
 * const scopes = selectScopes({
 *   kinds: ["configmap"],
 *   namespaces: ["ns"],
 *   labelSelector: "dash",
 *   names: [{ name: "a" }, { name: "b" }],
 *   namesIgnoreLabel: true,
 * });
 * assert.deepEqual(scopes.map((s) => [s.id, s.labelSelector, s.fieldSelector]), [
 *   ["configmap@ns/a", undefined, "metadata.name=a"],
 *   ["configmap@ns/b", undefined, "metadata.name=b"],
 * ]);
 * ```
 */
export function selectScopes(sel: ScopeSelection): Scope[] {
  const out: Scope[] = [];
  for (const scope of scopesFor(sel.kinds, sel.namespaces)) {
    if (!sel.namesIgnoreLabel || scope.namespace === undefined) {
      const narrowed = nameSelectorFor(scope, sel.namesIgnoreLabel ? [] : sel.names);
      if (narrowed === undefined) continue;
      out.push({ ...scope, labelSelector: sel.labelSelector, ...narrowed });
      continue;
    }
    const names = new Set(
      sel.names
        .filter((f) =>
          (f.kind === undefined || f.kind === scope.kind) &&
          (f.namespace === undefined || f.namespace === scope.namespace)
        )
        .map((f) => f.name),
    );
    if (names.size === 0) {
      out.push({ ...scope, labelSelector: sel.labelSelector });
      continue;
    }
    for (const name of names) {
      out.push({
        ...scope,
        id: `${scope.id}/${name}`,
        fieldSelector: `metadata.name=${name}`,
      });
    }
  }
  return out;
}
