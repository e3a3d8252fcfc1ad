/**
 * Redaction of credentials in text: URL passwords, and known secret values in text a server sent
 * back. Depends on nothing, so every layer may use it (the logger applies it to every line).
 *
 * @module
 */

const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@]*):[^\s/?#]*@/gi;
const REDACTED = "[redacted]";

/**
 * Replaces the password of every URL in `text` by `***`, keeping the user name:
 * `https://user:***@host`. Works on free text too, e.g. an error message that quotes a URL.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redactUrl } from "./redact.ts";
 * assert(redactUrl("https://admin:hunter2@grafana:3000/api") === "https://admin:***@grafana:3000/api");
 * ```
 */
export function redactUrl(url: string): string {
  // Fast path: most strings hold no URL with userinfo.
  if (!url.includes("@") || !url.includes("://")) return url;
  return url.replace(URL_PASSWORD, "$1:***@");
}

/**
 * Replaces every occurrence of each non-empty `secrets` entry in `text` by `[redacted]`, and URL
 * passwords by `***` ({@linkcode redactUrl}): for text a server sent back (an error page may
 * echo the request's credentials) before it goes into a log line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redactSecrets } from "./redact.ts";
 * assert(redactSecrets("bad password hunter2", ["hunter2"]) === "bad password [redacted]");
 * ```
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  // Longest first, so that a secret containing another is replaced whole.
  const sorted = secrets.filter((s): s is string => s !== undefined && s !== "")
    .sort((a, b) => b.length - a.length);
  for (const s of sorted) out = out.replaceAll(s, REDACTED);
  return redactUrl(out);
}
