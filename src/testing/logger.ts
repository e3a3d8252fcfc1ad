/**
 * A logger that records what it is given, for tests of plugins and of the core.
 *
 * @module
 */
import type { LogFields, Logger } from "../plugin/logger.ts";

/** One recorded log call. */
export interface LogRecord {
  /** The method called. */
  level: "debug" | "info" | "warn" | "error";
  /** The logger's category, dot-joined, e.g. `test.writer`. */
  category: string;
  /** The message as given. */
  message: string;
  /** The fields as given (`{}` when none). */
  fields: LogFields;
}

/**
 * Creates a logger and the array it records into; `text()` joins everything for searching.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recordingLogger } from "./logger.ts";
 * const { logger, records } = recordingLogger();
 * logger.child("x").warn("careful", { n: 1 });
 * assert(records[0]?.category === "test.x");
 * ```
 */
export function recordingLogger(category: readonly string[] = ["test"]): {
  logger: Logger;
  records: LogRecord[];
  text: () => string;
} {
  const records: LogRecord[] = [];
  const make = (cat: readonly string[]): Logger => {
    const log = (level: LogRecord["level"]) => (message: string, fields: LogFields = {}) =>
      void records.push({ level, category: cat.join("."), message, fields });
    return {
      category: cat,
      debug: log("debug"),
      info: log("info"),
      warn: log("warn"),
      error: log("error"),
      child: (...sub: string[]) => make([...cat, ...sub]),
    };
  };
  return {
    logger: make(category),
    records,
    text: () =>
      records.map((r) => `${r.level} ${r.category} ${r.message} ${JSON.stringify(r.fields)}`).join(
        "\n",
      ),
  };
}
