/**
 * Plugin instances as the configuration declares them: what the config file (or the environment)
 * says, before anything is loaded.
 *
 * @module
 */

/** One plugin instance as declared in the configuration. */
export interface PluginInstanceSpec {
  /**
   * A built-in plugin name (`json-file`), an absolute path, or a `file:`, `https:`, `npm:` or
   * `jsr:` specifier. Relative paths in a config file are made absolute by
   * {@linkcode readConfigFile}.
   */
  use: string;
  /** Instance label used in logs and file ownership; default `writers[i]` / `notifiers[i]`. */
  id?: string | undefined;
  /** Raw options, validated later with the plugin's schema. */
  options?: unknown;
  /** Per-call timeout of this instance's hooks (ms); overrides the plugin's own. */
  timeoutMs?: number | undefined;
  /** A writer: `false` hands it `.gz` keys as they are instead of decompressed. */
  gunzip?: boolean | undefined;
}

/** The writer and notifier instances to run, in order. */
export interface PipelineSpec {
  writers: PluginInstanceSpec[];
  notifiers: PluginInstanceSpec[];
}
