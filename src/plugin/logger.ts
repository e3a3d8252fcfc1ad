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
  /** Detail for finding a fault; off unless `LOG_LEVEL=DEBUG`. */
  debug(message: string, fields?: LogFields): void;
  /** Something the operator may want to know happened. */
  info(message: string, fields?: LogFields): void;
  /** Something went wrong and syncing goes on (a refused key, a failed notification). */
  warn(message: string, fields?: LogFields): void;
  /** Something went wrong that needs the operator. */
  error(message: string, fields?: LogFields): void;
  /** A logger for a sub-category. */
  child(...category: string[]): Logger;
}
