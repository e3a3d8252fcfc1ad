/**
 * Error text for logs: the message with its causes, because `fetch` reports TLS and connection
 * problems only in `cause` ("fetch failed" alone tells an operator nothing).
 *
 * @module
 */

/**
 * `message: cause message: …`, at most four levels deep.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorMessage } from "./errors.ts";
 * const e = new Error("fetch failed", { cause: new Error("invalid peer certificate: UnknownIssuer") });
 * assert.equal(errorMessage(e), "fetch failed: invalid peer certificate: UnknownIssuer");
 * ```
 */
export function errorMessage(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 4; depth++) {
    const msg = cur instanceof Error ? cur.message : String(cur);
    if (!parts.includes(msg)) parts.push(msg);
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join(": ");
}

/**
 * The message alone, without causes: for errors whose cause may quote what must not be logged
 * (a fetch error quotes the full URL; a plugin's cause is the plugin's business).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { messageOf } from "./errors.ts";
 * assert(messageOf(new Error("refused", { cause: new Error("https://k@x/") })) === "refused");
 * assert(messageOf("plain") === "plain");
 * ```
 */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
