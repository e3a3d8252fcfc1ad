/**
 * The logger interface handed to plugins and used by the core.
 *
 * @module
 */

/** Structured fields of one log line. Never put Secret values or passwords here. */
export type LogFields = Record<string, unknown>;

/** A category logger. */
export interface Logger {
  /** Category path, e.g. `["writer", "json-file#0"]`. */
  readonly category: readonly string[];
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger for a sub-category. */
  child(...category: string[]): Logger;
}
