/**
 * A scope is one list/watch stream: a resource kind in one namespace, or cluster-wide.
 *
 * @module
 */
import type { ResourceKind } from "../model.ts";

/** One list/watch stream. */
export interface Scope {
  kind: ResourceKind;
  /** Undefined for the cluster-wide scope. */
  namespace?: string | undefined;
  /** `configmap@ns` or `configmap@*`, for logs and metrics. */
  id: string;
  /** API path of the collection. */
  path: string;
}

const PLURAL: Record<ResourceKind, string> = { configmap: "configmaps", secret: "secrets" };

/**
 * The scopes for `kinds` × `namespaces`; `"ALL"` is one cluster-wide scope per kind.
 *
 * @example
 * ```ts
 * import { scopesFor } from "./scope.ts";
 * scopesFor(["configmap"], ["a", "b"]).map((s) => s.path);
 * // ["/api/v1/namespaces/a/configmaps", "/api/v1/namespaces/b/configmaps"]
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
