/**
 * Resolves the plugin instances of a {@linkcode PipelineSpec} to definitions, before anything is
 * written: built-in names through the registry, everything else with a dynamic `import()`.
 *
 * - Built-in names (`json-file`, `http-basic`, …) load through `registry.ts`, whose literal
 *   `import()`s `deno compile` embeds.
 * - `./x.ts`, `../x.ts` (against `baseDir`), `/abs/x.ts`, `file:`, `https:`, `npm:` and `jsr:`
 *   specifiers are imported at run time. Under `deno compile` only absolute-path file plugins can
 *   load that way; the error says so.
 * - Each module's default export is checked to be a definition of the kind it is listed as, and
 *   {@linkcode validateOptions} checks each instance's options with the plugin's Standard Schema.
 *   Every problem is reported at once, naming the instance (`writers[1] "./w.ts"`).
 *
 * @module
 */
import { basename, resolve, toFileUrl } from "../util/posix_path.ts";
import type { PipelineSpec, PluginInstanceSpec } from "./spec.ts";
import type { AnyNotifierDefinition, AnyWriterDefinition } from "../plugin/contract.ts";
import { BUILTIN_NOTIFIERS, BUILTIN_WRITERS } from "../../plugins/registry.ts";
import type { StandardSchemaV1 } from "../plugin/standard_schema.ts";
import { errorMessage, messageOf } from "../util/errors.ts";

/** Plugin kinds. */
export type PluginKind = "writer" | "notifier";

/** One plugin instance whose module loaded and whose default export is a definition. */
export interface LoadedInstanceSpec {
  kind: PluginKind;
  /** The instance's `id`, else `writers[i]` / `notifiers[i]`. */
  label: string;
  definition: AnyWriterDefinition | AnyNotifierDefinition;
  /** Options from the configuration; after {@linkcode validateOptions}, the validated value. */
  options: unknown;
  /** The instance's timeout override (ms), if the configuration gives one. */
  timeoutMs?: number | undefined;
  /** A writer that wants `.gz` keys as they are (`gunzip: false`). */
  gunzip?: boolean | undefined;
  /** What the configuration's `use` said (after relative paths were made absolute). */
  use: string;
  /** Where the instance was declared (the config file path), prefixed to messages. */
  source?: string | undefined;
}

/** Result of {@linkcode loadPipeline}. */
export type LoadPipelineResult =
  | { ok: true; writers: LoadedInstanceSpec[]; notifiers: LoadedInstanceSpec[] }
  | { ok: false; errors: string[] };

/** Options of {@linkcode loadPipeline}. */
export interface LoadPipelineOptions {
  /** Directory `./` and `../` specifiers are resolved against; defaults to `Deno.cwd()`. */
  baseDir?: string | undefined;
  /** Running as a `deno compile` binary; defaults to {@linkcode isCompiledBinary}`()`. */
  compiled?: boolean | undefined;
  /** Where the spec came from (e.g. the config file path); prefixed to every message. */
  source?: string | undefined;
}

/**
 * The hint added to load failures in a compiled binary (DESIGN §2).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { COMPILED_HINT } from "./loader.ts";
 * assert(COMPILED_HINT.includes("compiled binary"));
 * ```
 */
export const COMPILED_HINT =
  "in a compiled binary only built-in plugins and absolute-path file plugins can load; npm:, jsr:, https: and relative specifiers need the sidecar run with deno";

const KEBAB = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
const EXTERNAL_SCHEME = /^(?:file|https|npm|jsr):/;
const ANY_SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

type Loader = () => Promise<{ default: unknown }>;

const REGISTRY: Readonly<Record<PluginKind, Readonly<Record<string, Loader>>>> = {
  writer: BUILTIN_WRITERS,
  notifier: BUILTIN_NOTIFIERS,
};

const SECTION: Readonly<Record<PluginKind, string>> = { writer: "writers", notifier: "notifiers" };
const DEFINE: Readonly<Record<PluginKind, string>> = {
  writer: "defineWriter",
  notifier: "defineNotifier",
};

/**
 * Resolves every instance of `spec` to its plugin definition and checks the module's shape;
 * reports every problem at once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPipeline } from "./loader.ts";
 * const r = await loadPipeline({ writers: [{ use: "json-file" }], notifiers: [] });
 * if (!r.ok) throw new Error(r.errors.join("\n"));
 * assert(r.writers[0]?.definition.name === "json-file");
 * assert(r.writers[0]?.label === "writers[0]");
 * ```
 */
export async function loadPipeline(
  spec: PipelineSpec,
  opts: LoadPipelineOptions = {},
): Promise<LoadPipelineResult> {
  const compiled = opts.compiled ?? isCompiledBinary();
  const baseDir = opts.baseDir ?? Deno.cwd();
  const prefix = opts.source === undefined ? "" : `${opts.source}: `;
  const errors: string[] = [];

  const labels = new Map<string, string>();
  const jobs: { kind: PluginKind; promise: Promise<LoadedInstanceSpec | string[]> }[] = [];
  for (const kind of ["writer", "notifier"] as const) {
    spec[`${kind}s`].forEach((instance, i) => {
      const where = `${SECTION[kind]}[${i}]`;
      const label = instance.id ?? where;
      const named = `${prefix}${label} ${JSON.stringify(instance.use)}`;
      const previous = labels.get(label);
      if (previous !== undefined) {
        errors.push(`${named}: id ${JSON.stringify(label)} is already used by ${previous}`);
      } else {
        labels.set(label, `${where} ${JSON.stringify(instance.use)}`);
      }
      jobs.push({
        kind,
        promise: loadOne(kind, label, instance, { baseDir, compiled, named, source: opts.source }),
      });
    });
  }

  const writers: LoadedInstanceSpec[] = [];
  const notifiers: LoadedInstanceSpec[] = [];
  const results = await Promise.all(jobs.map((j) => j.promise));
  results.forEach((r, i) => {
    if (Array.isArray(r)) errors.push(...r);
    else (jobs[i]?.kind === "writer" ? writers : notifiers).push(r);
  });
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, writers, notifiers };
}

/**
 * Validates each instance's options with its plugin's Standard Schema, so that bad options stop
 * the process before anything is written, and keeps the validated value (defaults applied) in
 * `options`: validated once, here, and handed to `create` as is. Returns every problem, naming
 * instance and field (`writers[1] "yaml-file": options.keys: expected array`); empty when all are
 * valid.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPipeline, validateOptions } from "./loader.ts";
 * const r = await loadPipeline({ writers: [{ use: "json-file", options: { keys: "*.json" } }], notifiers: [] });
 * if (!r.ok) throw new Error(r.errors.join("\n"));
 * const problems = await validateOptions(r.writers);
 * assert(problems[0]?.startsWith('writers[0] "json-file": options.keys: '));
 * ```
 */
export async function validateOptions(loaded: LoadedInstanceSpec[]): Promise<string[]> {
  const perInstance = await Promise.all(loaded.map(async (l) => {
    const named = `${l.source === undefined ? "" : `${l.source}: `}${l.label} ${
      JSON.stringify(l.use)
    }`;
    const r = await checkOptions(l.definition, l.options);
    if ("issues" in r) return r.issues.map((issue) => `${named}: ${issue}`);
    l.options = r.value;
    return [];
  }));
  return perInstance.flat();
}

/**
 * Checks `raw` against `def`'s options schema: the validated value (defaults applied), or every
 * issue as `options.<field>: <message>`. Without a schema, `raw` is the value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkOptions } from "./loader.ts";
 * import txtFile from "../../plugins/txt_file/mod.ts";
 * const r = await checkOptions(txtFile, { keys: "*.txt" });
 * assert("issues" in r && r.issues[0]!.startsWith("options.keys: "));
 * ```
 */
export async function checkOptions(
  def: AnyWriterDefinition | AnyNotifierDefinition,
  raw: unknown,
): Promise<{ value: unknown } | { issues: string[] }> {
  const schema = def.options as StandardSchemaV1 | undefined;
  if (schema === undefined) return { value: raw };
  try {
    const result = await schema["~standard"].validate(raw ?? {});
    if (!result.issues) return { value: result.value };
    return {
      issues: result.issues.map((issue) => {
        const path = (issue.path ?? []).map((p) =>
          String(typeof p === "object" && p !== null ? p.key : p)
        );
        return `${["options", ...path].join(".")}: ${issue.message}`;
      }),
    };
  } catch (e) {
    return { issues: [`options: the schema failed: ${errorMessage(e)}`] };
  }
}

/**
 * True in a `deno compile` binary: `Deno.build.standalone` where the runtime has it, else when the
 * executable is not called `deno`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isCompiledBinary } from "./loader.ts";
 * assert(isCompiledBinary() === false); // under `deno run` / `deno test`
 * ```
 */
export function isCompiledBinary(): boolean {
  const standalone = (Deno.build as { standalone?: unknown }).standalone;
  if (typeof standalone === "boolean") return standalone;
  const exe = basename(Deno.execPath()).toLowerCase();
  return exe !== "deno" && exe !== "deno.exe";
}

interface LoadContext {
  baseDir: string;
  compiled: boolean;
  /** `prefix + label + "use"`, the start of every message about this instance. */
  named: string;
  source: string | undefined;
}

async function loadOne(
  kind: PluginKind,
  label: string,
  instance: PluginInstanceSpec,
  ctx: LoadContext,
): Promise<LoadedInstanceSpec | string[]> {
  const { named } = ctx;
  const use = instance.use;
  const other: PluginKind = kind === "writer" ? "notifier" : "writer";

  let mod: unknown;
  const builtin = Object.hasOwn(REGISTRY[kind], use) ? REGISTRY[kind][use] : undefined;
  if (builtin !== undefined) {
    try {
      mod = await builtin();
    } catch (e) {
      return [`${named}: cannot load the built-in ${kind}: ${message(e)}`];
    }
  } else if (Object.hasOwn(REGISTRY[other], use)) {
    return [`${named}: is a ${other}, listed under ${SECTION[kind]}`];
  } else {
    const specifier = toSpecifier(use, ctx.baseDir);
    if ("error" in specifier) {
      const builtins = Object.keys(REGISTRY[kind]).join(", ");
      return [
        `${named}: ${
          specifier.error === "unknown"
            ? `no built-in ${kind} has this name (built-in ${SECTION[kind]}: ${builtins}); ` +
              "an external plugin needs a path (./x.ts, /x.ts) or a file:, https:, npm: or jsr: specifier"
            : specifier.error
        }`,
      ];
    }
    try {
      // A variable, not a literal: the module is chosen at run time and must not be bundled.
      const target: string = specifier.url;
      mod = await import(target);
    } catch (e) {
      return [
        `${named}: cannot load the module: ${message(e)}${
          ctx.compiled ? `; ${COMPILED_HINT}` : ""
        }`,
      ];
    }
  }

  const shape = checkDefinition(kind, mod);
  if (shape.length > 0) return shape.map((p) => `${named}: ${p}`);
  const definition = (mod as { default: AnyWriterDefinition | AnyNotifierDefinition }).default;
  const loaded: LoadedInstanceSpec = { kind, label, definition, options: instance.options, use };
  if (instance.timeoutMs !== undefined) loaded.timeoutMs = instance.timeoutMs;
  if (instance.gunzip !== undefined) loaded.gunzip = instance.gunzip;
  if (ctx.source !== undefined) loaded.source = ctx.source;
  return loaded;
}

function toSpecifier(use: string, baseDir: string): { url: string } | { error: string } {
  if (use.startsWith("./") || use.startsWith("../") || use.startsWith("/")) {
    return { url: toFileUrl(resolve(baseDir, use)).href };
  }
  if (EXTERNAL_SCHEME.test(use)) return { url: use };
  const scheme = ANY_SCHEME.exec(use)?.[1];
  if (scheme !== undefined) {
    return {
      error: `unsupported specifier scheme ${
        JSON.stringify(`${scheme}:`)
      } (expected a path, or a file:, https:, npm: or jsr: specifier)`,
    };
  }
  return { error: "unknown" };
}

/** Problems with `mod`'s default export as a `kind` definition; empty when it is one. */
function checkDefinition(kind: PluginKind, mod: unknown): string[] {
  const def = typeof mod === "object" && mod !== null
    ? (mod as Record<string, unknown>)["default"]
    : undefined;
  if (def === undefined) return ["module has no default export"];
  const notA = `default export is not a ${kind} definition (made with ${DEFINE[kind]})`;
  if (typeof def !== "object" || def === null || Array.isArray(def)) {
    return [`${notA}: it is ${describe(def)}`];
  }
  const d = def as Record<string, unknown>;
  const other: PluginKind = kind === "writer" ? "notifier" : "writer";
  if (d["kind"] === other) return [`is a ${other}, listed under ${SECTION[kind]}`];

  const problems: string[] = [];
  if (d["kind"] === undefined) problems.push("missing kind");
  else if (d["kind"] !== kind) {
    problems.push(`kind is ${JSON.stringify(d["kind"])}, expected ${JSON.stringify(kind)}`);
  }
  if (d["name"] === undefined) problems.push("missing name");
  else if (typeof d["name"] !== "string" || !KEBAB.test(d["name"])) {
    problems.push(`name ${JSON.stringify(d["name"])} is not kebab-case (e.g. my-writer)`);
  }
  if (typeof d["create"] !== "function") problems.push("missing create()");
  const options = d["options"];
  if (options !== undefined) {
    const standard = typeof options === "object" && options !== null
      ? (options as Record<string, unknown>)["~standard"]
      : undefined;
    const validate = typeof standard === "object" && standard !== null
      ? (standard as Record<string, unknown>)["validate"]
      : undefined;
    if (typeof validate !== "function") {
      problems.push(
        'options is not a Standard Schema (zod, valibot, …): no "~standard".validate function',
      );
    }
  }
  const timeoutMs = d["timeoutMs"];
  if (
    timeoutMs !== undefined &&
    !(typeof timeoutMs === "number" && Number.isFinite(timeoutMs) && timeoutMs > 0)
  ) {
    problems.push(`timeoutMs ${JSON.stringify(timeoutMs)} is not a positive number`);
  }
  return problems.length > 0 ? [`${notA}: ${problems.join("; ")}`] : [];
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "function") return "a function";
  return `a ${typeof v}`;
}

function message(e: unknown): string {
  const text = messageOf(e);
  // Deno ends some messages with a period; the caller may append more after a semicolon.
  return text.trim().replace(/\.$/, "");
}
