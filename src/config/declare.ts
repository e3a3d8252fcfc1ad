/**
 * How an environment variable is declared, once: name, default, description and parser, as
 * git-sync declares its flags. The declaration drives parsing (`env.ts`), `main.ts --help` and
 * the README's table (checked by a test).
 *
 * @module
 */
import { redactUrl } from "../util/redact.ts";
import { Invalid } from "./parsers.ts";

/** What a parser or default may consult, and where it reports. */
export interface ParseContext {
  /** `COMPAT=kiwigrid` is set. */
  readonly compat: boolean;
  /** Directory relative paths resolve against. */
  cwd(): string;
  /** Writer names `WRITERS` may list. */
  readonly knownWriters: readonly string[];
  /** The pod's own namespace; reports an error (and returns undefined) when it cannot be read. */
  ownNamespace(): string | undefined;
  /** A whole warning message. */
  warn(message: string): void;
  /** A whole error message. */
  error(message: string): void;
}

/**
 * One environment variable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { declare } from "./declare.ts";
 * import { bool } from "./parsers.ts";
 * const UNIQUE = declare({
 *   name: "UNIQUE_FILENAMES",
 *   shown: "false",
 *   description: "name files `namespace_{ns}.{kind}_{name}.{key}`",
 *   default: false,
 *   parse: bool,
 * });
 * assert(UNIQUE.name === "UNIQUE_FILENAMES");
 * ```
 */
export interface VarDecl<T> {
  readonly name: string;
  /** The default as a user writes it, for `--help` and the README; `""` when there is none. */
  readonly shown: string;
  /** One line; Markdown code spans allowed (`--help` drops the backticks). */
  readonly description: string;
  /** What `COMPAT=kiwigrid` changes, shown by `--help`; the README has a table of its own. */
  readonly compat?: string | undefined;
  /** The value is a credential: never repeated in a message. */
  readonly secret?: boolean | undefined;
  /** Keep leading and trailing blanks (a payload, a password); otherwise the value is trimmed. */
  readonly raw?: boolean | undefined;
  /** Message when unset; makes the variable required. */
  readonly required?: string | undefined;
  /** Value when unset (or when its value is refused, after the error is recorded). */
  readonly default: T | ((ctx: ParseContext) => T);
  /** Parses a set, non-blank value; throws {@linkcode Invalid}. */
  readonly parse: (value: string, ctx: ParseContext) => T;
}

/**
 * Declares a variable (an identity function that fixes the type).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { declare } from "./declare.ts";
 * const SCRIPT = declare<string | undefined>({
 *   name: "SCRIPT",
 *   shown: "",
 *   description: "executable run after files changed",
 *   default: undefined,
 *   parse: (v) => v,
 * });
 * assert(SCRIPT.default === undefined);
 * ```
 */
export function declare<T>(decl: VarDecl<T>): VarDecl<T> {
  return decl;
}

/**
 * Reads declared variables from one environment, collecting every error and warning.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { declare, EnvReader } from "./declare.ts";
 * import { number } from "./parsers.ts";
 * const SLEEP = declare({
 *   name: "SLEEP_TIME",
 *   shown: "60",
 *   description: "relist interval (s)",
 *   default: 60,
 *   parse: (v) => number(v, { max: 100, unit: "s" }),
 * });
 * const r = new EnvReader({ SLEEP_TIME: "soon" }, {});
 * assert(r.get(SLEEP) === 60 && r.errors.length === 1);
 * ```
 */
export class EnvReader {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  /** The context handed to parsers. */
  readonly ctx: ParseContext;
  readonly #env: Record<string, string | undefined>;

  /** Reads `env`; `ctx` fills in the parts of {@linkcode ParseContext} other than reporting. */
  constructor(
    env: Record<string, string | undefined>,
    ctx: Partial<Omit<ParseContext, "warn" | "error">>,
  ) {
    this.#env = env;
    let cwd: string | undefined;
    this.ctx = {
      compat: ctx.compat ?? false,
      cwd: ctx.cwd ?? (() => cwd ??= Deno.cwd()),
      knownWriters: ctx.knownWriters ?? [],
      ownNamespace: ctx.ownNamespace ?? (() => undefined),
      warn: (m) => this.warnings.push(redactUrl(m)),
      error: (m) => this.errors.push(redactUrl(m)),
    };
  }

  /** The value as set (trimmed unless `raw`), or undefined when unset or blank. */
  value(decl: VarDecl<unknown>): string | undefined {
    const v = this.#env[decl.name];
    if (v === undefined || v.trim() === "") return undefined;
    return decl.raw ? v : v.trim();
  }

  /** Whether the variable is set to something other than blanks. */
  isSet(decl: VarDecl<unknown>): boolean {
    return this.value(decl) !== undefined;
  }

  /** The parsed value, or the default when unset or refused (the refusal is recorded). */
  get<T>(decl: VarDecl<T>): T {
    const v = this.value(decl);
    if (v === undefined) {
      if (decl.required !== undefined) this.ctx.error(`${decl.name} is required: ${decl.required}`);
      return this.#default(decl);
    }
    try {
      return decl.parse(v, this.ctx);
    } catch (e) {
      if (!(e instanceof Invalid)) throw e;
      const shown = decl.secret ? decl.name : `${decl.name}=${JSON.stringify(v)}`;
      for (const m of e.messages) this.ctx.error(e.whole ? m : `${shown} ${m}`);
      return this.#default(decl);
    }
  }

  #default<T>(decl: VarDecl<T>): T {
    return typeof decl.default === "function"
      ? (decl.default as (ctx: ParseContext) => T)(this.ctx)
      : decl.default;
  }
}
