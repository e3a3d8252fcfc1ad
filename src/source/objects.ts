/**
 * Turns ConfigMaps and Secrets from the API into {@linkcode ObjectSnapshot}s: decoded entries and
 * the metadata the reconciler needs, nothing else.
 *
 * @module
 */
import { decodeBase64 } from "../util/base64.ts";
import type { ByteSlab } from "./_byte_slab.ts";
import type { KubeObject } from "../kube/client.ts";
import type { ObjectRef, ResourceKind } from "../model.ts";

/** One object as the reconciler sees it. */
export interface ObjectSnapshot {
  ref: ObjectRef;
  resourceVersion: string | undefined;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Key → bytes; ConfigMap `data` UTF-8 encoded, `binaryData` and Secret values decoded. */
  entries: Map<string, Uint8Array>;
}

/**
 * An object whose content cannot be decoded; the message names the object and key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DecodeError } from "./objects.ts";
 * assert(new DecodeError("secret ns/x key \"k\": not base64").name === "DecodeError");
 * ```
 */
export class DecodeError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "DecodeError";
  }
}

const encoder = new TextEncoder();

/**
 * Decodes one API object of `kind`. A list page passes a {@linkcode ByteSlab} of its own, so that
 * the values of its objects share a few large buffers (freed together once the page is written);
 * a single object from a watch event gets a buffer per value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { snapshotOf } from "./objects.ts";
 * const s = snapshotOf("secret", { metadata: { name: "db", namespace: "ns" }, data: { pw: "aGk=" } });
 * assert(new TextDecoder().decode(s.entries.get("pw")) === "hi");
 * ```
 */
export function snapshotOf(
  kind: ResourceKind,
  obj: KubeObject,
  slab?: ByteSlab,
): ObjectSnapshot {
  const meta = obj.metadata;
  const ref: ObjectRef = { kind, namespace: meta.namespace ?? "", name: meta.name };
  const entries = new Map<string, Uint8Array>();
  const data = (obj.data ?? {}) as Record<string, string>;
  const binaryData = (obj.binaryData ?? {}) as Record<string, string>;
  const decode = (key: string, value: string) => {
    try {
      return decodeBase64(value);
    } catch {
      throw new DecodeError(
        `${kind} ${ref.namespace}/${ref.name} key "${key}": value is not valid base64`,
      );
    }
  };
  if (kind === "secret") {
    for (const [key, value] of Object.entries(data)) entries.set(key, decode(key, value));
    // stringData is write-only and never returned by the API; nothing to read here.
  } else {
    for (const [key, value] of Object.entries(data)) {
      entries.set(key, slab ? slab.encode(value) : encoder.encode(value));
    }
    for (const [key, value] of Object.entries(binaryData)) entries.set(key, decode(key, value));
  }
  return {
    ref,
    resourceVersion: meta.resourceVersion,
    labels: meta.labels ?? {},
    annotations: meta.annotations ?? {},
    entries,
  };
}
