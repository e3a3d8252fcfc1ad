/**
 * The plugin host: the one owner of every call into a plugin (rollup's PluginDriver is the
 * model). It creates each instance with the options the loader validated, and calls `write`,
 * `notify` and `close` — each through {@linkcode invokeHook}, which labels failures with plugin,
 * instance and hook and enforces the timeout. Nothing else in the sidecar calls a plugin.
 *
 * It also keeps protocols away from writers: when the content of some keys could not be obtained
 * this time (a `.url` download failed), the sink it hands a writer keeps that object's other
 * files as they are, so no writer can remove the last good file by not knowing about it.
 *
 * @module
 */
import { resolve } from "../util/posix_path.ts";
import { type ChangeSet, emptyResult, refKey, type WriteResult } from "../model.ts";
import type {
  AnyNotifierDefinition,
  AnyWriterDefinition,
  FileSink,
  Notifier,
  PluginContext,
  SinkItem,
  Writer,
} from "../plugin/contract.ts";
import type { Logger } from "../plugin/logger.ts";
import { errorMessage } from "../util/errors.ts";
import { type Decompressed, decompressEntries } from "./compressed_entries.ts";
import { invokeHook } from "./invoke.ts";
import type { LoadedInstanceSpec } from "./loader.ts";

/** Per-call timeout of a hook when neither the configuration nor the plugin gives one. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** One created plugin instance and the labels its hooks are called under. */
export interface Instance<T> {
  plugin: string;
  instance: string;
  /** This writer gets `.gz` keys decompressed. */
  gunzip?: boolean | undefined;
  version?: string | undefined;
  timeoutMs: number;
  logger: Logger;
  impl: T;
}

/** Keys whose content could not be obtained this time, per object ({@linkcode refKey}). */
export type HeldKeys = ReadonlyMap<string, ReadonlySet<string>>;

/** What {@linkcode PluginHost.create} needs. */
export interface PluginHostOptions {
  writers: readonly LoadedInstanceSpec[];
  notifiers: readonly LoadedInstanceSpec[];
  /** The file sink of one writer instance (the file store's `scoped`). */
  sinkFor: (instance: string) => FileSink;
  logger: Logger;
  /** Aborted on shutdown; handed to every instance. */
  signal: AbortSignal;
  /**
   * `.gz` keys are decompressed (to at most `maxBytes`) for writers that do not opt out
   * (`gunzip: false` on the instance); undefined: off for all.
   */
  gunzip?: { maxBytes: number } | undefined;
}

/** What one {@linkcode PluginHost.write} did. */
export interface HostWriteResult {
  result: WriteResult;
  /** Writers whose `write` threw or timed out (their files stay as they were), with the error. */
  failed: { plugin: string; instance: string; error: unknown }[];
}

/**
 * Creates, calls and closes the plugin instances of one sync.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PluginHost } from "./plugin_host.ts";
 * import { loadPipeline } from "./loader.ts";
 * import { recordingLogger } from "../testing/logger.ts";
 * import { FileStore } from "../writers/file_store.ts";
 *
 * const loaded = await loadPipeline({ writers: [{ use: "txt-file" }], notifiers: [] });
 * if (!loaded.ok) throw new Error(loaded.errors.join("\n"));
 * const { logger } = recordingLogger();
 * const dir = await Deno.makeTempDir();
 * const store = await FileStore.open({ folder: dir, logger });
 * const host = await PluginHost.create({
 *   ...loaded,
 *   sinkFor: (instance) => store.scoped(instance),
 *   logger,
 *   signal: new AbortController().signal,
 * });
 * const ref = { kind: "configmap" as const, namespace: "ns", name: "app" };
 * const { result } = await host.write({
 *   seq: 1,
 *   initial: true,
 *   changes: [{
 *     type: "upsert",
 *     ref,
 *     labels: {},
 *     annotations: {},
 *     entries: new Map([["a.txt", new TextEncoder().encode("hi")]]),
 *     dir,
 *     namePrefix: "",
 *   }],
 * }, new Map());
 * assert(result.written[0] === `${dir}/a.txt`);
 * await host.close();
 * await store.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class PluginHost {
  readonly writers: readonly Instance<Writer>[];
  readonly notifiers: readonly Instance<Notifier>[];
  readonly #logger: Logger;
  readonly #gunzipMax: number | undefined;
  /** Held keys of the change set being written, read by the writers' sinks. */
  #held: HeldKeys = new Map();

  private constructor(
    writers: Instance<Writer>[],
    notifiers: Instance<Notifier>[],
    logger: Logger,
    gunzipMax: number | undefined,
  ) {
    this.writers = writers;
    this.notifiers = notifiers;
    this.#logger = logger;
    this.#gunzipMax = gunzipMax;
  }

  /**
   * Creates every instance, in order, through the hook wrapper. When one cannot be created, the
   * ones already created are closed and the error (labelled with plugin and instance) is thrown.
   */
  static async create(opts: PluginHostOptions): Promise<PluginHost> {
    const writers: Instance<Writer>[] = [];
    const notifiers: Instance<Notifier>[] = [];
    const host = new PluginHost(writers, notifiers, opts.logger, opts.gunzip?.maxBytes);
    try {
      for (const spec of opts.writers) {
        const def = spec.definition as AnyWriterDefinition;
        const sink = holdingSink(opts.sinkFor(spec.label), () => host.#held);
        const w = await instantiate<Writer>(
          spec,
          opts,
          (ctx) => def.create(spec.options, { ...ctx, sink }),
        );
        w.gunzip = opts.gunzip !== undefined && spec.gunzip !== false;
        writers.push(w);
      }
      for (const spec of opts.notifiers) {
        const def = spec.definition as AnyNotifierDefinition;
        notifiers.push(
          await instantiate<Notifier>(spec, opts, (ctx) => def.create(spec.options, ctx)),
        );
      }
    } catch (e) {
      await host.close();
      throw e;
    }
    return host;
  }

  /**
   * Calls every writer's `write(changeSet)`, in order. `held` names keys whose content is missing
   * this time; their objects' files are kept.
   */
  async write(changeSet: ChangeSet, held: HeldKeys): Promise<HostWriteResult> {
    const result = emptyResult();
    const failed: HostWriteResult["failed"] = [];
    // Decompressed once, for the writers that want `.gz` keys decompressed.
    let decompressed: Promise<Decompressed> | undefined;
    try {
      for (const w of this.writers) {
        let view = changeSet;
        this.#held = held;
        if (w.gunzip && this.#gunzipMax !== undefined) {
          const first = decompressed === undefined;
          decompressed ??= decompressEntries(changeSet, this.#gunzipMax, this.#logger);
          const d = await decompressed;
          if (first) result.rejected.push(...d.rejected);
          view = d.changeSet;
          this.#held = mergeHeld(held, d.held);
        }
        try {
          // No shutdown signal: SIGTERM lets the write in progress finish (the timeout applies).
          const r = await call(w, "write", undefined, () => w.impl.write(view));
          result.written.push(...(r?.written ?? []));
          result.removed.push(...(r?.removed ?? []));
          result.rejected.push(...(r?.rejected ?? []));
        } catch (e) {
          failed.push({ plugin: w.plugin, instance: w.instance, error: e });
        }
      }
    } finally {
      this.#held = new Map();
    }
    return { result, failed };
  }

  /**
   * Whether any writer takes `key`: `undefined` when a writer does not say which keys it takes
   * (it may take any).
   */
  takes(key: string): boolean | undefined {
    if (this.writers.some((w) => w.impl.accepts === undefined)) return undefined;
    return this.writers.some((w) => w.impl.accepts!(key));
  }

  /** One `notify` call of `n` through the wrapper; `signal` aborts it (shutdown). */
  notify(
    n: Instance<Notifier>,
    changeSet: ChangeSet,
    result: WriteResult,
    signal: AbortSignal,
  ): Promise<void> {
    return call(n, "notify", signal, () => n.impl.notify(changeSet, result));
  }

  /** Closes every instance through the wrapper; a failing `close` is logged, the others go on. */
  async close(): Promise<void> {
    for (const i of [...this.writers, ...this.notifiers] as Instance<Writer | Notifier>[]) {
      const close = i.impl.close;
      if (close === undefined) continue;
      try {
        await call(i, "close", undefined, async () => await close.call(i.impl));
      } catch (e) {
        this.#logger.warn("plugin close failed", { error: errorMessage(e) });
      }
    }
  }
}

async function instantiate<T>(
  spec: LoadedInstanceSpec,
  opts: PluginHostOptions,
  create: (ctx: PluginContext) => T | Promise<T>,
): Promise<Instance<T>> {
  const def = spec.definition;
  const logger = opts.logger.child(spec.kind, spec.label);
  const timeoutMs = spec.timeoutMs ?? def.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const label = { plugin: def.name, instance: spec.label, hook: "create" };
  // The context's signal is the long-lived one: the per-call signal aborts when create returns.
  const impl = await invokeHook(
    label,
    timeoutMs,
    opts.signal,
    () => create({ instance: spec.label, logger, signal: opts.signal }),
  );
  logger.debug("plugin created", { plugin: def.name, version: def.version ?? "unversioned" });
  return { plugin: def.name, instance: spec.label, version: def.version, timeoutMs, logger, impl };
}

function call<T>(
  i: Instance<unknown>,
  hook: string,
  signal: AbortSignal | undefined,
  fn: () => T | Promise<T>,
): Promise<T> {
  return invokeHook({ plugin: i.plugin, instance: i.instance, hook }, i.timeoutMs, signal, fn);
}

function mergeHeld(a: HeldKeys, b: HeldKeys): HeldKeys {
  if (b.size === 0) return a;
  const out = new Map<string, ReadonlySet<string>>(a);
  for (const [object, keys] of b) out.set(object, new Set([...(a.get(object) ?? []), ...keys]));
  return out;
}

/**
 * A writer's sink that keeps, for an object with held keys, every file the writer made for it and
 * does not write now: the writer cannot tell a key that is missing this time from a key removed.
 */
function holdingSink(sink: FileSink, held: () => HeldKeys): FileSink {
  const hold = (item: SinkItem): SinkItem => {
    if (!held().get(refKey(item.ref))?.size) return item;
    const listed = new Set(item.files.map((f) => resolve(f.path)));
    const kept = sink.owned(item.ref).filter((p) => !listed.has(p));
    return { ...item, keep: [...(item.keep ?? []), ...kept] };
  };
  return {
    sync: (ref, files, opts) => {
      const keep = hold({ ref, files, keep: opts?.keep }).keep;
      return sink.sync(ref, files, keep === undefined ? {} : { keep });
    },
    remove: (ref) => sink.remove(ref),
    syncAll: (items) => sink.syncAll(items.map(hold)),
    owned: (ref) => sink.owned(ref),
  };
}
