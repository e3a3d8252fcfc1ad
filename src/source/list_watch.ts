/**
 * What the watch loop needs from the API server, as an interface: the loop is unit-tested against
 * a scripted implementation, and runs against {@linkcode listWatchFor} in production.
 *
 * @module
 */
import type { KubeClient, KubeList, KubeObject, WatchEvent } from "../kube/client.ts";

/** Query of one list page. */
export interface ListQuery {
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  limit: number;
  continue?: string | undefined;
  /**
   * With `resourceVersionMatch: "NotOlderThan"`: any state at least this new will do, so the API
   * server's watch cache answers instead of etcd (relists after a gap).
   */
  resourceVersion?: string | undefined;
  resourceVersionMatch?: "NotOlderThan" | undefined;
}

/** Query of one watch stream. */
export interface WatchQuery {
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  resourceVersion: string;
  timeoutSeconds: number;
  allowWatchBookmarks: boolean;
}

/** One collection of the API server. */
export interface ListWatch {
  /** One page of the collection. */
  list(query: ListQuery, signal: AbortSignal): Promise<KubeList<KubeObject>>;
  /** Events until the server ends the stream (returns) or it breaks (throws). */
  watch(query: WatchQuery, signal: AbortSignal): AsyncIterable<WatchEvent<KubeObject>>;
  /** Whether the API server says it is ready; a cheap probe while backing off. */
  serverReady(signal: AbortSignal): Promise<boolean>;
}

/**
 * The {@linkcode ListWatch} of the collection at `path` (e.g. `/api/v1/namespaces/a/configmaps`).
 *
 * @example
 * ```ts ignore
 * import { listWatchFor } from "./list_watch.ts";
 * import type { KubeClient } from "../kube/client.ts";
 * declare const client: KubeClient;
 * const lw = listWatchFor(client, "/api/v1/namespaces/a/configmaps");
 * const page = await lw.list({ labelSelector: "app", limit: 500 }, AbortSignal.timeout(5000));
 * const next = page.metadata.continue; // the next page's `continue`, if any
 * ```
 */
export function listWatchFor(client: KubeClient, path: string): ListWatch {
  return {
    list: (query, signal) => client.list(path, { ...query }, signal),
    watch: (query, signal) => client.watch(path, { ...query }, signal),
    async serverReady(signal) {
      try {
        // Every authenticated user may read /readyz (system:public-info-viewer).
        await client.get("/readyz", { signal });
        return true;
      } catch {
        return false;
      }
    },
  };
}
