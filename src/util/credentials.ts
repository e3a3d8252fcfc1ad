/**
 * Basic-auth credentials: reading them from mounted Secret files and turning them into an
 * `Authorization` header value, in the encoding the server expects. Messages name the file or the
 * field, never a value.
 *
 * @module
 */
import { encodeBase64 } from "./base64.ts";

/** Encodings a basic-auth header can be built in. */
export type CredentialEncoding = "utf-8" | "latin1" | "ascii";

/**
 * A credential file that could not be read; the message names the file and the reason only.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SecretFileError } from "./credentials.ts";
 * const e = new SecretFileError("/creds/password", "NotFound");
 * assert(e.message === "cannot read /creds/password: NotFound");
 * ```
 */
export class SecretFileError extends Error {
  /** Always `SecretFileError`. */
  override name = "SecretFileError";
  /** The file. */
  readonly path: string;
  /** Why, e.g. `NotFound`, `PermissionDenied`. */
  readonly reason: string;

  /** Describes the failure. */
  constructor(path: string, reason: string) {
    super(`cannot read ${path}: ${reason}`);
    this.path = path;
    this.reason = reason;
  }
}

/**
 * Reads a credential file (a mounted Secret key), without its trailing line breaks. Throws
 * {@linkcode SecretFileError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSecretFile } from "./credentials.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "admin\n");
 * assert(await readSecretFile(path) === "admin");
 * await Deno.remove(path);
 * ```
 */
export async function readSecretFile(path: string): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).replace(/[\r\n]+$/, "");
  } catch (e) {
    throw new SecretFileError(path, e instanceof Error ? e.name : String(e));
  }
}

/**
 * `Basic base64(user:password)` with the text encoded as `encoding` (browsers and Python's
 * requests use latin1, most servers expect UTF-8). A character the encoding cannot hold is an
 * error naming the field, not the character.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { basicAuthorization } from "./credentials.ts";
 * assert(basicAuthorization("admin", "pw", "utf-8") === `Basic ${btoa("admin:pw")}`);
 * assert(basicAuthorization("é", "x", "latin1") === "Basic 6Tp4");
 * ```
 */
export function basicAuthorization(
  username: string,
  password: string,
  encoding: CredentialEncoding = "utf-8",
): string {
  const bytes = [
    ...encode(username, encoding, "user name"),
    ":".charCodeAt(0),
    ...encode(password, encoding, "password"),
  ];
  return `Basic ${encodeBase64(Uint8Array.from(bytes))}`;
}

function encode(text: string, encoding: CredentialEncoding, what: string): Uint8Array {
  if (encoding === "utf-8") return new TextEncoder().encode(text);
  const max = encoding === "latin1" ? 0xff : 0x7f;
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > max) {
      throw new Error(
        `the basic-auth ${what} has a character that ${encoding} cannot encode (REQ_BASIC_AUTH_ENCODING=utf-8 can)`,
      );
    }
    out[i] = code;
  }
  return out;
}
