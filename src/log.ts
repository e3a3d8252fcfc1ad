/**
 * Structured logging to stdout in `json`, `logfmt` or `text` lines, without dependencies.
 *
 * Lines below the configured level are dropped before any formatting. As a safety net against
 * leaking credentials, fields whose key looks like a secret (`password`, `token`, …) are replaced
 * by `"[redacted]"`, passwords in URLs become `***`, and byte arrays (Secret values are bytes) are
 * logged as their length only.
 *
 * @module
 */
import type { LogFormat, LogLevel } from "./config/types.ts";
import type { LogFields, Logger } from "./plugin/logger.ts";
import { redactUrl } from "./util/redact.ts";

export { redactSecrets, redactUrl } from "./util/redact.ts";

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Lines below this level are dropped. */
  level: LogLevel;
  format: LogFormat;
  /** Receives each line without its newline; defaults to a synchronous write to stdout. */
  write?: ((line: string) => void) | undefined;
  /** Clock for the `time` field; defaults to `new Date()`. */
  now?: (() => Date) | undefined;
}

const RANK: Readonly<Record<LogLevel, number>> = { DEBUG: 0, INFO: 1, WARN: 2, ERROR: 3 };
const SECRET_KEY = /pass(word)?|token|secret|authorization|credential/i;
const RESERVED = new Set(["time", "level", "logger", "msg"]);
const MAX_DEPTH = 6;
const REDACTED = "[redacted]";

const encoder = new TextEncoder();

/**
 * Creates the root logger (category `["gsidecar"]`); `child("source", "configmap")` gives
 * `gsidecar.source.configmap`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLogger } from "./log.ts";
 * const lines: string[] = [];
 * const log = createLogger({ level: "INFO", format: "logfmt", write: (l) => lines.push(l) });
 * log.child("source").info("listed", { objects: 3 });
 * log.debug("dropped");
 * assert(lines.length === 1 && lines[0]!.endsWith('logger=gsidecar.source msg=listed objects=3'));
 * ```
 */
export function createLogger(opts: LoggerOptions): Logger {
  const sink: Sink = {
    threshold: RANK[opts.level],
    format: FORMATTERS[opts.format],
    write: opts.write ?? writeStdout,
    now: opts.now ?? (() => new Date()),
  };
  return new CategoryLogger(sink, ["gsidecar"]);
}

interface Sink {
  threshold: number;
  format: Formatter;
  write: (line: string) => void;
  now: () => Date;
}

type Formatter = (
  time: string,
  level: LogLevel,
  logger: string,
  msg: string,
  fields: [string, unknown][],
) => string;

class CategoryLogger implements Logger {
  readonly category: readonly string[];
  readonly #sink: Sink;
  readonly #name: string;

  constructor(sink: Sink, category: readonly string[]) {
    this.#sink = sink;
    this.category = Object.freeze([...category]);
    this.#name = category.join(".");
  }

  debug(message: string, fields?: LogFields): void {
    if (this.#sink.threshold <= 0) this.#log("DEBUG", message, fields);
  }
  info(message: string, fields?: LogFields): void {
    if (this.#sink.threshold <= 1) this.#log("INFO", message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    if (this.#sink.threshold <= 2) this.#log("WARN", message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.#log("ERROR", message, fields);
  }

  child(...category: string[]): Logger {
    return new CategoryLogger(this.#sink, [...this.category, ...category]);
  }

  #log(level: LogLevel, message: string, fields: LogFields | undefined): void {
    const entries: [string, unknown][] = [];
    if (fields !== undefined) {
      for (const [key, value] of Object.entries(fields)) {
        if (value === undefined) continue;
        // A field named like a reserved key must not overwrite the line's own time, level, ….
        const name = RESERVED.has(key) ? `_${key}` : key;
        entries.push([name, clean(key, value, 0, new Set())]);
      }
    }
    const s = this.#sink;
    const line = s.format(s.now().toISOString(), level, this.#name, redactUrl(message), entries);
    try {
      s.write(line);
    } catch {
      // Logging must never take the sync loop down (e.g. stdout closed by the runtime).
    }
  }
}

/**
 * Turns `value` into plain JSON-safe data with secrets redacted. Numbers and booleans under a
 * secret-looking key are kept: they cannot carry a credential and counts such as
 * `{ secrets: 3 }` are worth seeing.
 */
function clean(key: string, value: unknown, depth: number, seen: Set<object>): unknown {
  if (SECRET_KEY.test(key) && !isHarmless(value)) return REDACTED;
  switch (typeof value) {
    case "string":
      return redactUrl(value);
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "boolean":
      return value;
    case "bigint":
      return value.toString();
    case "undefined":
      return null;
    case "symbol":
      return value.toString();
    case "function":
      return `[function ${value.name || "anonymous"}]`;
  }
  if (value === null) return null;
  const obj = value as object;
  if (obj instanceof Error) return errorText(obj, 0);
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? "Invalid Date" : obj.toISOString();
  if (obj instanceof URL) return redactUrl(obj.href);
  if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) return `[${obj.byteLength} bytes]`;
  if (seen.has(obj)) return "[circular]";
  if (depth >= MAX_DEPTH) return "[…]";
  seen.add(obj);
  try {
    if (Array.isArray(obj) || obj instanceof Set) {
      return Array.from(obj as Iterable<unknown>, (v) => clean("", v, depth + 1, seen));
    }
    const out: Record<string, unknown> = {};
    const pairs = obj instanceof Map ? obj.entries() : Object.entries(obj);
    for (const [k, v] of pairs) {
      if (v !== undefined) out[String(k)] = clean(String(k), v, depth + 1, seen);
    }
    return out;
  } finally {
    seen.delete(obj);
  }
}

function isHarmless(value: unknown): boolean {
  return value === null || value === undefined || typeof value === "number" ||
    typeof value === "boolean";
}

/** `message (cause: message (cause: …))`, a few levels deep. */
function errorText(err: Error, depth: number): string {
  const msg = redactUrl(err.message || err.name);
  const cause: unknown = err.cause;
  if (cause === undefined || depth >= 3) return msg;
  const causeText = cause instanceof Error
    ? errorText(cause, depth + 1)
    : redactUrl(typeof cause === "string" ? cause : safeJson(cause));
  return `${msg} (cause: ${causeText})`;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(clean("cause", value, 0, new Set())) ?? String(value);
  } catch {
    return String(value);
  }
}

function formatJson(
  time: string,
  level: LogLevel,
  logger: string,
  msg: string,
  fields: [string, unknown][],
): string {
  const obj: Record<string, unknown> = { time, level: level.toLowerCase(), logger, msg };
  for (const [k, v] of fields) obj[k] = v;
  return JSON.stringify(obj);
}

function formatLogfmt(
  time: string,
  level: LogLevel,
  logger: string,
  msg: string,
  fields: [string, unknown][],
): string {
  let line = `time=${time} level=${level.toLowerCase()} logger=${logfmtValue(logger)} msg=${
    logfmtValue(msg)
  }`;
  for (const [k, v] of fields) line += ` ${logfmtKey(k)}=${logfmtValue(v)}`;
  return line;
}

function formatText(
  time: string,
  level: LogLevel,
  logger: string,
  msg: string,
  fields: [string, unknown][],
): string {
  let line = `${time} ${level.padEnd(5)} ${logger} ${escapeControl(msg)}`;
  for (const [k, v] of fields) line += ` ${logfmtKey(k)}=${logfmtValue(v)}`;
  return line;
}

const FORMATTERS: Readonly<Record<LogFormat, Formatter>> = {
  json: formatJson,
  logfmt: formatLogfmt,
  text: formatText,
};

/** Keys cannot be quoted in logfmt, so characters that would break parsing become `_`. */
function logfmtKey(key: string): string {
  const k = key.replace(/[\s="\\\p{Cc}]/gu, "_");
  return k === "" ? "_" : k;
}

function logfmtValue(value: unknown): string {
  const s = typeof value === "string" ? value : JSON.stringify(value) ?? "null";
  if (s !== "" && !/[\s="\\\p{Cc}]/u.test(s)) return s;
  return `"${escapeControl(s.replace(/\\/g, "\\\\").replace(/"/g, '\\"'))}"`;
}

/** Keeps one record per line whatever the message holds. */
function escapeControl(s: string): string {
  return s.replace(/\p{Cc}/gu, (c) => {
    switch (c) {
      case "\n":
        return "\\n";
      case "\r":
        return "\\r";
      case "\t":
        return "\\t";
      default:
        return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
    }
  });
}

function writeStdout(line: string): void {
  const bytes = encoder.encode(line + "\n");
  // writeSync may write only part of a large line to a pipe.
  let off = 0;
  while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
}
