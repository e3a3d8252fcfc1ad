/**
 * The configuration file (`CONFIG=/path/config.yaml` or `--config PATH`): which writer and
 * notifier instances to run, and their options.
 *
 * ```yaml
 * writers:
 *   - use: json-file
 *   - use: ./my_writer.ts        # relative to this file's directory
 *     id: mine
 *     options: { keys: ["*.conf"] }
 *     timeoutMs: 5000
 * notifiers:
 *   - use: http-basic
 *     options: { url: "http://127.0.0.1:3000/reload", method: POST }
 * ```
 *
 * - `.json` files are parsed as JSON, every other name as YAML (a superset of JSON).
 * - A section that is absent (`writers` or `notifiers`) is taken from the environment, as without
 *   a file: `WRITERS` for writers, `REQ_URL`/`SCRIPT` for notifiers. A section that is present,
 *   even `[]`, replaces it.
 * - Relative `use` paths (`./x.ts`, `../x.ts`) are resolved against the file's directory and
 *   recorded as absolute paths.
 * - Every problem is reported at once; each message names the file and the instance
 *   (`writers[1] "yaml-file"`) and, where there is one, the field.
 *
 * Plugin options are not checked here: that needs the plugin's schema, see
 * `validateOptions()` in `../host/loader.ts`.
 *
 * @module
 */
import { dirname, extname, isAbsolute, resolve } from "../util/posix_path.ts";
import type { Config } from "./types.ts";
import { loadYaml } from "../util/load_yaml.ts";
import { messageOf } from "../util/errors.ts";

export type { PipelineSpec, PluginInstanceSpec } from "../host/spec.ts";
import type { PipelineSpec, PluginInstanceSpec } from "../host/spec.ts";

/** One sync declared in a config file's `syncs:` list. */
export interface SyncFileEntry {
  /** The sync's name, unique in the file; in logs, metrics and `/readyz`. */
  name: string;
  /** Where it was declared, for messages: `config.yaml: syncs[1] "datasources"`. */
  where: string;
  /**
   * Its settings as the environment variables they stand for (`label` → `LABEL`, lists joined
   * with commas), laid over the process's environment: an unset one is the environment's.
   */
  env: Record<string, string>;
  /** Its own plugin instances; a section left out is the environment's, as without a file. */
  writers?: PluginInstanceSpec[] | undefined;
  notifiers?: PluginInstanceSpec[] | undefined;
}

/** A config file that parsed and has the right shape. */
export interface LoadedConfigFile {
  /** Absolute path of the file. */
  path: string;
  /** The one pipeline of a file without `syncs:`. */
  spec: PipelineSpec;
  /** The sections the file gives; the others came from the fallback (or are empty). */
  sections: ("writers" | "notifiers")[];
  /** The syncs of a file with `syncs:` (then `spec` is unused). */
  syncs?: SyncFileEntry[] | undefined;
}

/** Keys of a sync entry: the environment variables' names in camelCase. */
const SYNC_VARS: Readonly<Record<string, string>> = {
  label: "LABEL",
  labelValue: "LABEL_VALUE",
  namespace: "NAMESPACE",
  namespaces: "NAMESPACE",
  namespaceSelector: "NAMESPACE_SELECTOR",
  resource: "RESOURCE",
  resources: "RESOURCE",
  resourceName: "RESOURCE_NAME",
  resourceNames: "RESOURCE_NAME",
  folder: "FOLDER",
  folderAnnotation: "FOLDER_ANNOTATION",
  folderAnnotationRoots: "FOLDER_ANNOTATION_ROOTS",
  method: "METHOD",
  sleepTime: "SLEEP_TIME",
  uniqueFilenames: "UNIQUE_FILENAMES",
  defaultFileMode: "DEFAULT_FILE_MODE",
  stateDir: "STATE_DIR",
  atomicSet: "ATOMIC_SET",
  gunzip: "GUNZIP",
  maxDecompressedSize: "MAX_DECOMPRESSED_SIZE",
};
const SYNC_NAME = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

/** Result of {@linkcode readConfigFile}. */
export type ConfigFileResult =
  | { ok: true; file: LoadedConfigFile }
  | { ok: false; errors: string[] };

/** Options of {@linkcode readConfigFile}. */
export interface ReadConfigFileOptions {
  /**
   * Sections the file leaves out are taken from here, normally
   * {@linkcode pipelineFromEnv}`(config)`. Without it an absent section is empty.
   */
  fallback?: PipelineSpec | undefined;
  /** Directory a relative `path` is resolved against; defaults to `Deno.cwd()`. */
  cwd?: string | undefined;
}

const SECTIONS = ["writers", "notifiers"] as const;
const TOP_KEYS = [...["writers", "notifiers"], "syncs"];
type Section = typeof SECTIONS[number];
const ENTRY_KEYS = ["use", "id", "options", "timeoutMs", "gunzip"];
/** Keys people write by habit (or from other tools), and the key they meant. */
const MEANT: Readonly<Record<string, string>> = {
  plugin: "use",
  name: "use",
  type: "use",
  uses: "use",
  option: "options",
  config: "options",
  settings: "options",
  with: "options",
  timeout: "timeoutMs",
  timeout_ms: "timeoutMs",
  timeoutms: "timeoutMs",
  instance: "id",
  label: "id",
};
const TOP_MEANT: Readonly<Record<string, string>> = {
  writer: "writers",
  notifier: "notifiers",
  notifications: "notifiers",
  notify: "notifiers",
  sinks: "writers",
  outputs: "writers",
};
/** Instance ids: letters, digits, `.`, `_`, `-`, `#` (so `json-file#0` keeps the env's label). */
const ID = /^[A-Za-z0-9](?:[A-Za-z0-9._#-]{0,61}[A-Za-z0-9])?$/;
const ID_RULE =
  "1-63 letters, digits, '.', '_', '-' or '#', starting and ending with a letter or digit";
const SUPPORTED_SCHEME = /^(?:file|https|npm|jsr):/;
const ANY_SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
/** Largest delay `setTimeout` honours. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * Reads and validates a config file: YAML, or JSON for a `.json` name. Every problem is reported
 * at once, each naming the file, and the instance and field where there is one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readConfigFile } from "./file.ts";
 * const dir = await Deno.makeTempDir();
 * try {
 *   await Deno.writeTextFile(`${dir}/config.yaml`, "writers:\n  - use: json-file\nnotifiers: []\n");
 *   const r = await readConfigFile(`${dir}/config.yaml`);
 *   if (!r.ok) throw new Error(r.errors.join("\n"));
 *   assert(r.file.spec.writers[0]?.use === "json-file");
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function readConfigFile(
  path: string,
  opts: ReadConfigFileOptions = {},
): Promise<ConfigFileResult> {
  if (path.trim() === "") {
    return { ok: false, errors: ["--config/CONFIG is empty: give the path of the config file"] };
  }
  const absPath = resolve(opts.cwd ?? Deno.cwd(), path);
  let text: string;
  try {
    text = await Deno.readTextFile(absPath);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "no such file"
      : e instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : e instanceof Error
      ? e.message
      : String(e);
    return { ok: false, errors: [`${path}: cannot read the config file: ${why}`] };
  }
  const parsed = extname(absPath).toLowerCase() === ".json"
    ? parseJson(text, path)
    : await parseYaml(text, path);
  if (!parsed.ok) return parsed;
  const errors: string[] = [];
  const spec = checkShape(parsed.value, {
    display: path,
    baseDir: dirname(absPath),
    fallback: opts.fallback,
    errors,
  });
  const syncs = isRecord(parsed.value) && Object.hasOwn(parsed.value, "syncs")
    ? checkSyncs(parsed.value, { display: path, baseDir: dirname(absPath), errors })
    : undefined;
  if (errors.length > 0) return { ok: false, errors };
  const sections = isRecord(parsed.value)
    ? SECTIONS.filter((section) => Object.hasOwn(parsed.value as object, section))
    : [];
  return { ok: true, file: { path: absPath, spec, sections, ...(syncs ? { syncs } : {}) } };
}

/**
 * The pipeline the environment alone describes (what runs without a config file): one writer per
 * `WRITERS` entry, `http-basic` when `REQ_URL` is set, `script` when `SCRIPT` is set. Instance ids
 * are `json-file#0`, `http-basic#0`, `script#0`, as before config files existed, so that files a
 * previous run wrote keep their owner.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseEnv } from "./env.ts";
 * import { pipelineFromEnv } from "./file.ts";
 * const r = parseEnv({ FOLDER: "/data", LABEL: "dash", SCRIPT: "/bin/reload" });
 * if (!r.ok) throw new Error(r.errors.join("\n"));
 * const spec = pipelineFromEnv(r.config);
 * assert(spec.writers[0]?.id === "json-file#0");
 * assert(spec.notifiers[0]?.use === "script");
 * ```
 */
export function pipelineFromEnv(config: Config): PipelineSpec {
  const writers: PluginInstanceSpec[] = config.writers.map((name, i) => ({
    use: name,
    id: `${name}#${i}`,
  }));
  const notifiers: PluginInstanceSpec[] = [];
  if (config.http) {
    notifiers.push({
      use: "http-basic",
      id: "http-basic#0",
      options: config.http,
      // The request has its own REQ_TIMEOUT; the hook must not give up before it does.
      timeoutMs: Math.max(30_000, config.http.timeoutMs + 5_000),
    });
  }
  if (config.script) {
    notifiers.push({ use: "script", id: "script#0", options: { path: config.script } });
  }
  return { writers, notifiers };
}

type Parsed = { ok: true; value: unknown } | { ok: false; errors: string[] };

async function parseYaml(text: string, display: string): Promise<Parsed> {
  // Loaded only when a config file is used: the environment-only path stays lighter.
  const { parseDocument } = await loadYaml();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => {
        const at = e.linePos?.[0];
        const message = firstLine(e.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, ""));
        return at
          ? `${display}: line ${at.line}, column ${at.col}: ${message}`
          : `${display}: ${message}`;
      }),
    };
  }
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: 100 }) };
  } catch (e) {
    return { ok: false, errors: [`${display}: ${messageOf(e)}`] };
  }
}

function parseJson(text: string, display: string): Parsed {
  const source = text.startsWith("\uFEFF") ? text.slice(1) : text;
  try {
    return { ok: true, value: JSON.parse(source) };
  } catch (e) {
    const message = messageOf(e);
    let line: number | undefined;
    let col: number | undefined;
    const lc = /\(line (\d+) column (\d+)\)/.exec(message);
    const pos = /at position (\d+)/.exec(message);
    if (lc) {
      line = Number(lc[1]);
      col = Number(lc[2]);
    } else if (pos) {
      const before = source.slice(0, Number(pos[1]));
      line = before.split("\n").length;
      col = before.length - before.lastIndexOf("\n");
    } else if (/end of JSON input/i.test(message)) {
      const lines = source.split("\n");
      line = lines.length;
      col = (lines[lines.length - 1] ?? "").length + 1;
    }
    const what = message.replace(/ in JSON at position \d+.*$/s, "").replace(/ \(line \d+.*$/s, "");
    return {
      ok: false,
      errors: [
        line === undefined
          ? `${display}: ${what}`
          : `${display}: line ${line}, column ${col}: ${what}`,
      ],
    };
  }
}

interface ShapeContext {
  display: string;
  baseDir: string;
  fallback: PipelineSpec | undefined;
  errors: string[];
}

function checkShape(value: unknown, ctx: ShapeContext): PipelineSpec {
  const { display, errors } = ctx;
  const spec: PipelineSpec = { writers: [], notifiers: [] };
  if (value === null || value === undefined) {
    errors.push(`${display}: is empty; expected a mapping with writers and/or notifiers`);
    return spec;
  }
  if (!isRecord(value)) {
    errors.push(
      `${display}: expected a mapping with writers and/or notifiers, got ${describe(value)}`,
    );
    return spec;
  }
  for (const key of Object.keys(value)) {
    if (TOP_KEYS.includes(key)) continue;
    const meant = TOP_MEANT[key.toLowerCase()] ??
      TOP_KEYS.find((s) => s.toLowerCase() === key.toLowerCase());
    errors.push(
      `${display}: unknown top-level key ${
        JSON.stringify(key)
      } (expected writers, notifiers, syncs${meant ? `; did you mean ${meant}?` : ""})`,
    );
  }
  if (Object.hasOwn(value, "syncs")) {
    for (const section of SECTIONS) {
      if (Object.hasOwn(value, section)) {
        errors.push(
          `${display}: ${section}: with syncs, give each sync its own ${section} (syncs[i].${section})`,
        );
      }
    }
    return spec;
  }
  const ids = new Map<string, string>();
  for (const section of SECTIONS) {
    if (!Object.hasOwn(value, section)) {
      spec[section] = [...(ctx.fallback?.[section] ?? [])];
      continue;
    }
    const list = value[section];
    if (!Array.isArray(list)) {
      errors.push(
        `${display}: ${section}: expected a list, got ${describe(list)}${
          list === null ? ` (write \`${section}: []\` for none)` : ""
        }`,
      );
      continue;
    }
    list.forEach((entry, i) => {
      const instance = checkEntry(entry, section, i, ctx, ids);
      if (instance) spec[section].push(instance);
    });
  }
  return spec;
}

function checkEntry(
  entry: unknown,
  section: Section,
  i: number,
  ctx: ShapeContext,
  ids: Map<string, string>,
): PluginInstanceSpec | undefined {
  const { display, errors } = ctx;
  const where = `${section}[${i}]`;
  if (typeof entry === "string") {
    errors.push(
      `${display}: ${where}: expected a mapping, got a string (write \`- use: ${entry}\`)`,
    );
    return undefined;
  }
  if (!isRecord(entry)) {
    errors.push(`${display}: ${where}: expected a mapping with use, got ${describe(entry)}`);
    return undefined;
  }
  const rawUse = entry["use"];
  const label = typeof rawUse === "string" ? `${where} ${JSON.stringify(rawUse)}` : where;
  const bad = (problem: string) => errors.push(`${display}: ${label}: ${problem}`);
  const before = errors.length;

  for (const key of Object.keys(entry)) {
    if (ENTRY_KEYS.includes(key)) continue;
    const meant = MEANT[key.toLowerCase()] ?? ENTRY_KEYS.find((k) => k.toLowerCase() === key);
    bad(
      `unknown key ${JSON.stringify(key)} (expected ${ENTRY_KEYS.join(", ")}${
        meant ? `; did you mean ${meant}?` : ""
      })`,
    );
  }

  let use: string | undefined;
  if (rawUse === undefined) {
    bad("use: missing (a built-in name such as json-file, a path, or a specifier)");
  } else if (typeof rawUse !== "string") {
    bad(`use: expected a string, got ${describe(rawUse)}`);
  } else if (rawUse.trim() === "") {
    bad("use: must not be empty");
  } else {
    use = resolveUse(rawUse.trim(), ctx.baseDir, bad);
  }

  let id: string | undefined;
  if (Object.hasOwn(entry, "id")) {
    const rawId = entry["id"];
    if (typeof rawId !== "string") {
      bad(`id: expected a string, got ${describe(rawId)}`);
    } else if (!ID.test(rawId)) {
      bad(`id: ${JSON.stringify(rawId)} is not a valid id (${ID_RULE})`);
    } else {
      const previous = ids.get(rawId);
      if (previous !== undefined) {
        bad(`id: ${JSON.stringify(rawId)} is already used by ${previous}; ids must be unique`);
      } else {
        ids.set(rawId, label);
        id = rawId;
      }
    }
  }

  let timeoutMs: number | undefined;
  if (Object.hasOwn(entry, "timeoutMs")) {
    const t = entry["timeoutMs"];
    if (typeof t !== "number" || !Number.isInteger(t) || t <= 0 || t > MAX_TIMEOUT_MS) {
      bad(
        `timeoutMs: expected a positive whole number of milliseconds up to ${MAX_TIMEOUT_MS}, got ${
          describe(t)
        }`,
      );
    } else {
      timeoutMs = t;
    }
  }

  if (errors.length > before || use === undefined) return undefined;
  const spec: PluginInstanceSpec = { use };
  if (id !== undefined) spec.id = id;
  if (Object.hasOwn(entry, "options") && entry["options"] !== null) {
    spec.options = entry["options"];
  }
  if (timeoutMs !== undefined) spec.timeoutMs = timeoutMs;
  if (Object.hasOwn(entry, "gunzip")) {
    if (typeof entry["gunzip"] !== "boolean") {
      bad(`gunzip: expected true or false, got ${describe(entry["gunzip"])}`);
      return undefined;
    }
    if (section !== "writers") {
      bad("gunzip: only writers take it (it says whether .gz keys reach the writer decompressed)");
      return undefined;
    }
    spec.gunzip = entry["gunzip"];
  }
  return spec;
}

function checkSyncs(
  value: Record<string, unknown>,
  ctx: { display: string; baseDir: string; errors: string[] },
): SyncFileEntry[] {
  const { display, errors } = ctx;
  const list = value["syncs"];
  if (!Array.isArray(list) || list.length === 0) {
    errors.push(`${display}: syncs: expected a list of at least one sync, got ${describe(list)}`);
    return [];
  }
  const names = new Map<string, string>();
  const out: SyncFileEntry[] = [];
  list.forEach((entry, i) => {
    const at = `syncs[${i}]`;
    if (!isRecord(entry)) {
      errors.push(
        `${display}: ${at}: expected a mapping with name, label, folder…, got ${describe(entry)}`,
      );
      return;
    }
    const rawName = entry["name"];
    const where = `${display}: ${at}${
      typeof rawName === "string" ? ` ${JSON.stringify(rawName)}` : ""
    }`;
    const bad = (problem: string) => errors.push(`${where}: ${problem}`);
    const before = errors.length;
    if (typeof rawName !== "string" || !SYNC_NAME.test(rawName)) {
      const rule =
        "1-63 lowercase letters, digits and '-', starting and ending with a letter or digit";
      bad(
        rawName === undefined
          ? `name: missing (a sync name: ${rule})`
          : `name: ${describe(rawName)} is not a sync name (${rule})`,
      );
    } else if (names.has(rawName)) {
      bad(`name: ${JSON.stringify(rawName)} is already used by ${names.get(rawName)}`);
    } else {
      names.set(rawName, at);
    }
    const env: Record<string, string> = {};
    for (const [key, v] of Object.entries(entry)) {
      if (key === "name" || (SECTIONS as readonly string[]).includes(key)) continue;
      const variable = Object.hasOwn(SYNC_VARS, key) ? SYNC_VARS[key] : undefined;
      if (variable === undefined) {
        const meant = closest(key, [...Object.keys(SYNC_VARS), "name", "writers", "notifiers"]);
        bad(
          `unknown key ${JSON.stringify(key)} (expected name, writers, notifiers, ${
            Object.keys(SYNC_VARS).join(", ")
          }${meant ? `; did you mean ${meant}?` : ""})`,
        );
        continue;
      }
      if (Object.hasOwn(env, variable)) {
        bad(`${key}: ${variable} is already given by another key of this sync`);
        continue;
      }
      const text = syncValue(key, v);
      if (typeof text !== "string") {
        bad(`${key}: ${text.error}`);
        continue;
      }
      // Relative folders in a config file are relative to the file, as relative plugin paths are.
      env[variable] = (key === "folder" || key === "stateDir") && !isAbsolute(text)
        ? resolve(ctx.baseDir, text)
        : text;
    }
    const sections: Partial<Record<Section, PluginInstanceSpec[]>> = {};
    const ids = new Map<string, string>();
    for (const section of SECTIONS) {
      if (!Object.hasOwn(entry, section)) continue;
      const items = entry[section];
      if (!Array.isArray(items)) {
        bad(`${section}: expected a list, got ${describe(items)}`);
        continue;
      }
      sections[section] = items.flatMap((item, j) => {
        const instance = checkEntry(item, section, j, {
          ...ctx,
          display: where,
          fallback: undefined,
        }, ids);
        return instance ? [instance] : [];
      });
    }
    if (errors.length > before || typeof rawName !== "string") return;
    out.push({
      name: rawName,
      where,
      env,
      writers: sections.writers,
      notifiers: sections.notifiers,
    });
  });
  return out;
}

/** The candidate `word` was probably meant to be: same letters in another case, or 2 edits away. */
function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = editDistance(lower, c.toLowerCase());
    if (d <= 2 && (best === undefined || d < best.d)) best = { c, d };
  }
  return best?.c;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        prev[j]! + 1,
        row[j - 1]! + 1,
        prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** A sync entry's value as the environment variable's text; lists are joined with commas. */
function syncValue(key: string, v: unknown): string | { error: string } {
  if (Array.isArray(v)) {
    if (!v.every((x) => typeof x === "string" && x.trim() !== "")) {
      return { error: "expected a list of non-empty strings" };
    }
    if (key === "resources") {
      const kinds = new Set(v.map((x) => String(x).toLowerCase().replace(/s$/, "")));
      if (kinds.size === 2 && kinds.has("configmap") && kinds.has("secret")) return "both";
    }
    return v.join(",");
  }
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return String(v);
  return { error: `expected a string, number, boolean or list, got ${describe(v)}` };
}

/** Makes relative paths absolute; checks the scheme of specifiers. */
function resolveUse(use: string, baseDir: string, bad: (p: string) => void): string | undefined {
  if (use.startsWith("./") || use.startsWith("../") || use === "." || use === "..") {
    return resolve(baseDir, use);
  }
  if (isAbsolute(use)) return resolve(use);
  const scheme = ANY_SCHEME.exec(use)?.[1];
  if (scheme !== undefined && !SUPPORTED_SCHEME.test(use)) {
    bad(
      `use: unsupported specifier scheme ${
        JSON.stringify(`${scheme}:`)
      } (expected a built-in name, a path, or a file:, https:, npm: or jsr: specifier)`,
    );
    return undefined;
  }
  return use;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `the string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}

function firstLine(s: string): string {
  return s.split("\n", 1)[0] ?? s;
}
