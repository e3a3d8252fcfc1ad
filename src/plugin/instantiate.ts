/**
 * Creates plugin instances from a definition and raw options: validates the options with the
 * definition's Standard Schema and calls `create` through the hook wrapper.
 *
 * @module
 */
import type {
  AnyNotifierDefinition,
  AnyWriterDefinition,
  FileSink,
  Notifier,
  Writer,
} from "./contract.ts";
import { invokeHook } from "./invoke.ts";
import type { Logger } from "./logger.ts";
import { validate } from "./standard_schema.ts";

/**
 * Options problems of one instance; the message names the instance and each field.
 *
 * @example
 * ```ts
 * import { PluginOptionsError } from "./instantiate.ts";
 * const e = new PluginOptionsError("writers[1]", "yaml-file", ["keys: expected array"]);
 * console.assert(e.message.includes('writers[1] "yaml-file"'));
 * ```
 */
export class PluginOptionsError extends Error {
  readonly issues: string[];
  /** Creates the error. */
  constructor(instance: string, plugin: string, issues: string[]) {
    super(`${instance} "${plugin}": invalid options: ${issues.join("; ")}`);
    this.name = "PluginOptionsError";
    this.issues = issues;
  }
}

/** A created plugin with the labels every call is made under. */
export interface Slot<T> {
  plugin: string;
  instance: string;
  timeoutMs: number;
  logger: Logger;
  impl: T;
}

const DEFAULT_TIMEOUT_MS = 30_000;

async function options<O>(
  def: { name: string; options?: { "~standard": unknown } | undefined },
  raw: unknown,
  instance: string,
): Promise<O> {
  if (!def.options) return raw as O;
  const r = await validate(def.options as Parameters<typeof validate<O>>[0], raw ?? {});
  if ("issues" in r) throw new PluginOptionsError(instance, def.name, r.issues);
  return r.value;
}

/**
 * Validates options and creates a writer instance.
 *
 * @example
 * ```ts ignore
 * const slot = await createWriter(jsonFile, {}, { instance: "writers[0]", logger, signal, sink });
 * ```
 */
export async function createWriter(
  def: AnyWriterDefinition,
  raw: unknown,
  ctx: {
    instance: string;
    logger: Logger;
    signal: AbortSignal;
    sink: FileSink;
    timeoutMs?: number | undefined;
  },
): Promise<Slot<Writer>> {
  const opts = await options<never>(def, raw, ctx.instance);
  const timeoutMs = ctx.timeoutMs ?? def.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const label = { plugin: def.name, instance: ctx.instance, hook: "create" };
  const impl = await invokeHook(label, timeoutMs, ctx.signal, () => def.create(opts, ctx));
  return { plugin: def.name, instance: ctx.instance, timeoutMs, logger: ctx.logger, impl };
}

/**
 * Validates options and creates a notifier instance.
 *
 * @example
 * ```ts ignore
 * const slot = await createNotifier(httpBasic, { url }, { instance: "notifiers[0]", logger, signal });
 * ```
 */
export async function createNotifier(
  def: AnyNotifierDefinition,
  raw: unknown,
  ctx: { instance: string; logger: Logger; signal: AbortSignal; timeoutMs?: number | undefined },
): Promise<Slot<Notifier>> {
  const opts = await options<never>(def, raw, ctx.instance);
  const timeoutMs = ctx.timeoutMs ?? def.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const label = { plugin: def.name, instance: ctx.instance, hook: "create" };
  // The context's signal is the long-lived one: the per-call signal would abort when create returns.
  const impl = await invokeHook(label, timeoutMs, ctx.signal, () => def.create(opts, ctx));
  return { plugin: def.name, instance: ctx.instance, timeoutMs, logger: ctx.logger, impl };
}
