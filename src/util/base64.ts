/**
 * Strict base64 decoding (the API server sends standard, padded base64).
 *
 * @module
 */

/**
 * Decodes standard base64; throws on anything else.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeBase64 } from "./base64.ts";
 * assert(decodeBase64("aGk=").length === 2);
 * ```
 */
export function decodeBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Encodes bytes as standard base64.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeBase64 } from "./base64.ts";
 * assert(encodeBase64(new TextEncoder().encode("hi")) === "aGk=");
 * ```
 */
export function encodeBase64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}
