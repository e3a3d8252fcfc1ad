/**
 * HTTP and credential helpers for notifier plugins (`@gsidecar/k8s-gsidecar/plugin/http`), the
 * ones the built-in `http-basic` and `webhook` notifiers use: one request with redirects followed
 * by hand (credentials only to their origin, never to `file:`), a timeout for the whole exchange
 * and the first bytes of an error answer; credential files re-read on every call; redaction of
 * secrets from text bound for the logs; a failure's text with its causes (`fetch` says why only
 * in `cause`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redactSecrets } from "./http.ts";
 * assert(redactSecrets("token abc123 refused", ["abc123"]) === "token [redacted] refused");
 * ```
 *
 * @module
 */
export {
  type HttpAnswer,
  HttpSendError,
  type HttpSendErrorKind,
  type HttpSendOptions,
  sendHttp,
} from "../util/http_send.ts";
export {
  basicAuthorization,
  type CredentialEncoding,
  readSecretFile,
  SecretFileError,
} from "../util/credentials.ts";
export { redactSecrets, redactUrl } from "../util/redact.ts";
export { errorMessage } from "../util/errors.ts";
