/**
 * A small, dependency-free schema builder for the options of the built-in plugins. Every schema
 * implements Standard Schema v1 (see {@linkcode StandardSchemaV1}), so it goes wherever a zod or
 * valibot schema goes, and carries its input and output types ({@linkcode Input},
 * {@linkcode Infer}).
 *
 * It covers what the built-ins need and no more: plugin authors keep using any Standard Schema
 * library they like. Objects refuse unknown keys. Every problem found is reported, as an issue
 * with the path of the bad value inside the input and a message of the form
 * `expected X, received Y`, `required` or `unknown key "x"`. String content is never quoted in a
 * message: option values may be secrets.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as s from "./_schema.ts";
 *
 * const options = s.object({
 *   url: s.url(),
 *   method: s.enum(["GET", "POST"]).default("GET"),
 *   retries: s.number().int().min(0).default(5),
 * });
 * type Options = s.Input<typeof options>; // { url: string; method?: "GET" | "POST" | undefined; … }
 * const given: Options = { url: "http://127.0.0.1:3000/reload" };
 * const r = options.safeParse(given);
 * assert(r.issues === undefined && r.value.method === "GET" && r.value.retries === 5);
 * const bad = options.safeParse({ url: "http://h/", retries: "3", tries: 1 });
 * assert(
 *   JSON.stringify(bad.issues) ===
 *     '[{"message":"expected number, received string","path":["retries"]},' +
 *       '{"message":"unknown key \\"tries\\"","path":[]}]',
 * );
 * ```
 *
 * @module
 */
import type { StandardSchemaV1 } from "./standard_schema.ts";

/**
 * One validation problem: `message`, and `path`, the keys and indexes leading from the validated
 * value to the bad one (empty for the value itself).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { array, type Issue, string } from "./_schema.ts";
 * const issues: readonly Issue[] = array(string()).safeParse(["a", 1]).issues ?? [];
 * assert(issues[0]?.message === "expected string, received number");
 * assert(issues[0]?.path[0] === 1);
 * ```
 */
export interface Issue extends StandardSchemaV1.Issue {
  /** What is wrong, e.g. `expected string, received number`. */
  readonly message: string;
  /** Keys and indexes from the root value to the bad one. */
  readonly path: readonly PropertyKey[];
}

/**
 * What {@linkcode Schema.safeParse} returns: the output value, or the issues.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { number, type Result } from "./_schema.ts";
 * const r: Result<number> = number().positive().safeParse(0);
 * assert(r.issues?.[0]?.message === "expected number > 0, received 0");
 * ```
 */
export type Result<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly value?: undefined; readonly issues: readonly Issue[] };

/**
 * How a schema checks and converts a value before its refinements run (see
 * {@linkcode Schema.refine}). Building blocks for schemas this module does not offer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Schema, type SchemaDef } from "./_schema.ts";
 * const def: SchemaDef = {
 *   parse: (value) =>
 *     typeof value === "bigint"
 *       ? { value }
 *       : { issues: [{ message: "expected bigint", path: [] }] },
 * };
 * const big = new Schema<bigint, bigint>(def);
 * assert(big.safeParse(1n).issues === undefined);
 * ```
 */
export interface SchemaDef {
  /** Checks the type of `value`: its output, or issues with paths relative to `value`. */
  readonly parse: (value: unknown) => Result<unknown>;
}

/**
 * Input type of a Standard Schema (of this module or any other): what the configuration may
 * hold. Keys with a default or `.optional()` are optional.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as s from "./_schema.ts";
 * const options = s.object({ keys: s.array(s.string()).optional(), n: s.number().default(1) });
 * const a: s.Input<typeof options> = {};
 * const b: s.Input<typeof options> = { keys: ["*.json"], n: 2 };
 * assert(a !== b);
 * ```
 */
export type Input<S extends StandardSchemaV1> = NonNullable<S["~standard"]["types"]>["input"];

/**
 * Output type of a Standard Schema (of this module or any other): what `create` receives, with
 * defaults applied.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as s from "./_schema.ts";
 * const options = s.object({ n: s.number().default(1) });
 * const value: s.Infer<typeof options> = { n: 1 }; // `n` is required here
 * assert(value.n === 1);
 * ```
 */
export type Infer<S extends StandardSchemaV1> = NonNullable<S["~standard"]["types"]>["output"];

/** One refinement: a test on the output, the message when it fails, and where it points. */
interface Check {
  readonly test: (value: unknown) => boolean;
  readonly message: string | ((value: unknown) => string);
  readonly path?: readonly PropertyKey[] | ((value: unknown) => readonly PropertyKey[]) | undefined;
}

/** What `.refine()` takes besides the test and the message. */
interface RefineOptions<O> {
  /** Where the issue points, relative to this value (default: the value itself). */
  readonly path?: readonly PropertyKey[] | ((value: O) => readonly PropertyKey[]) | undefined;
}

function fail(message: string, path: readonly PropertyKey[] = []): Result<never> {
  return { issues: [{ message, path }] };
}

function under(key: PropertyKey, issues: readonly Issue[]): Issue[] {
  return issues.map((i) => ({ message: i.message, path: [key, ...i.path] }));
}

/** The kind of `value` as messages name it: `string`, `array`, `null`, `NaN`… */
function kind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number" && Number.isNaN(value)) return "NaN";
  return typeof value;
}

/** `required` for a missing value, else `expected <what>, received <kind>`. */
function wrongType(what: string, value: unknown): Result<never> {
  return fail(value === undefined ? "required" : `expected ${what}, received ${kind(value)}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Sets `key` as an own data property, even for `__proto__`. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * A schema from `Input` to `Output`, implementing Standard Schema v1. Schemas are immutable:
 * every method returns a new one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { number, type Schema } from "./_schema.ts";
 * const port: Schema<number | undefined, number> = number().int().min(1).max(65535).default(80);
 * assert(port.safeParse(undefined).value === 80);
 * const r = await port["~standard"].validate(0);
 * assert(r.issues?.[0]?.message === "expected number >= 1, received 0");
 * ```
 */
export class Schema<I, O> implements StandardSchemaV1<I, O> {
  /** The Standard Schema interface; `types` exists only for the type checker. */
  readonly "~standard": StandardSchemaV1.Props<I, O>;
  readonly #def: SchemaDef;
  #checks: readonly Check[] = [];

  /**
   * A schema that checks values with `def`; prefer the functions of this module.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Schema } from "./_schema.ts";
   * const anything = new Schema<unknown, unknown>({ parse: (value) => ({ value }) });
   * assert(anything.safeParse(null).value === null);
   * ```
   */
  constructor(def: SchemaDef) {
    this.#def = def;
    this["~standard"] = {
      version: 1,
      vendor: "gsidecar",
      validate: (value) => this.safeParse(value),
    };
  }

  /**
   * Validates `value`: the output, or every issue found.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { string } from "./_schema.ts";
   * const r = string().min(1).safeParse("");
   * assert(r.issues?.[0]?.message === "expected non-empty string, received empty string");
   * ```
   */
  safeParse(value: unknown): Result<O> {
    const parsed = this.#def.parse(value);
    if (parsed.issues) return parsed;
    const issues: Issue[] = [];
    for (const check of this.#checks) {
      if (check.test(parsed.value)) continue;
      const message = typeof check.message === "function"
        ? check.message(parsed.value)
        : check.message;
      const path = typeof check.path === "function" ? check.path(parsed.value) : check.path ?? [];
      issues.push({ message, path });
    }
    return issues.length > 0 ? { issues } : parsed as Result<O>;
  }

  /**
   * Adds a check on the output, run once the value has the right type (for an object: once every
   * key is valid). When `test` returns false, `message` is an issue at `options.path` below this
   * value (default: the value itself). Checks run in order, and each one that fails is an issue.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import * as s from "./_schema.ts";
   * const options = s.object({ a: s.string().optional(), b: s.string().optional() })
   *   .refine((o) => (o.a === undefined) !== (o.b === undefined), "give exactly one of a or b", {
   *     path: (o) => [o.a === undefined ? "a" : "b"],
   *   });
   * const r = options.safeParse({});
   * assert(r.issues?.[0]?.message === "give exactly one of a or b");
   * assert(r.issues?.[0]?.path[0] === "a");
   * ```
   */
  refine(
    test: (value: O) => boolean,
    message: string | ((value: O) => string),
    options: RefineOptions<O> = {},
  ): this {
    const next = new (this.constructor as new (def: SchemaDef) => this)(this.#def);
    next.#checks = [...this.#checks, {
      test: test as (value: unknown) => boolean,
      message: message as Check["message"],
      path: options.path as Check["path"],
    }];
    return next;
  }

  /**
   * Also accepts `undefined` (a missing key of an object).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { string } from "./_schema.ts";
   * assert(string().optional().safeParse(undefined).issues === undefined);
   * assert(string().safeParse(undefined).issues?.[0]?.message === "required");
   * ```
   */
  optional(): Schema<I | undefined, O | undefined> {
    return new Schema({
      parse: (value) => value === undefined ? { value: undefined } : this.safeParse(value),
    });
  }

  /**
   * Outputs a copy of `value` for `undefined` (a missing key of an object); the default itself
   * is not validated.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { array, string } from "./_schema.ts";
   * const keys = array(string()).default(["*"]);
   * const a = keys.safeParse(undefined).value;
   * a?.push("x");
   * assert(keys.safeParse(undefined).value?.length === 1, "every default is a fresh copy");
   * ```
   */
  default(value: Exclude<O, undefined>): Schema<I | undefined, Exclude<O, undefined>> {
    return new Schema({
      parse: (given) =>
        given === undefined ? { value: structuredClone(value) } : this.safeParse(given),
    });
  }
}

/**
 * A string schema, with length and pattern checks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { string, type StringSchema } from "./_schema.ts";
 * const name: StringSchema = string().min(1).regex(/^[a-z-]+$/, "kebab-case");
 * assert(name.safeParse("Bad").issues?.[0]?.message === "kebab-case");
 * ```
 */
export class StringSchema extends Schema<string, string> {
  /**
   * At least `n` characters (UTF-16 code units).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { string } from "./_schema.ts";
   * assert(string().min(2).safeParse("a").issues?.[0]?.message ===
   *   "expected at least 2 characters, received 1");
   * ```
   */
  min(n: number): this {
    return this.refine(
      (v) => v.length >= n,
      (v) =>
        n === 1
          ? "expected non-empty string, received empty string"
          : `expected at least ${plural(n, "character", "characters")}, received ${v.length}`,
    );
  }

  /**
   * Matches `pattern` (its `g` and `y` flags are ignored); `message` replaces the default
   * `expected string matching /…/`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { string } from "./_schema.ts";
   * assert(string().regex(/^\d+$/).safeParse("1a").issues?.[0]?.message ===
   *   "expected string matching /^\\d+$/");
   * ```
   */
  regex(pattern: RegExp, message?: string): this {
    const re = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ""));
    return this.refine((v) => re.test(v), message ?? `expected string matching ${re}`);
  }
}

/**
 * A number schema (finite numbers only), with integer and range checks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { number, type NumberSchema } from "./_schema.ts";
 * const ms: NumberSchema = number().int().positive().max(600_000);
 * assert(ms.safeParse(700_000).issues?.[0]?.message ===
 *   "expected number <= 600000, received 700000");
 * ```
 */
export class NumberSchema extends Schema<number, number> {
  /**
   * A whole number.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { number } from "./_schema.ts";
   * assert(number().int().safeParse(1.5).issues?.[0]?.message ===
   *   "expected integer, received 1.5");
   * ```
   */
  int(): this {
    return this.refine(Number.isInteger, (v) => `expected integer, received ${v}`);
  }

  /**
   * At least `n`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { number } from "./_schema.ts";
   * assert(number().min(0).safeParse(-1).issues?.[0]?.message ===
   *   "expected number >= 0, received -1");
   * ```
   */
  min(n: number): this {
    return this.refine((v) => v >= n, (v) => `expected number >= ${n}, received ${v}`);
  }

  /**
   * At most `n`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { number } from "./_schema.ts";
   * assert(number().max(10).safeParse(11).issues?.[0]?.message ===
   *   "expected number <= 10, received 11");
   * ```
   */
  max(n: number): this {
    return this.refine((v) => v <= n, (v) => `expected number <= ${n}, received ${v}`);
  }

  /**
   * Greater than 0.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { number } from "./_schema.ts";
   * assert(number().positive().safeParse(0).issues?.[0]?.message ===
   *   "expected number > 0, received 0");
   * ```
   */
  positive(): this {
    return this.refine((v) => v > 0, (v) => `expected number > 0, received ${v}`);
  }
}

/**
 * An array schema, with a length check.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { array, type ArraySchema, string } from "./_schema.ts";
 * const keys: ArraySchema<string, string> = array(string()).min(1);
 * assert(keys.safeParse([]).issues?.[0]?.message === "expected at least 1 item, received 0");
 * ```
 */
export class ArraySchema<I, O> extends Schema<I[], O[]> {
  /**
   * At least `n` items.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { array, number } from "./_schema.ts";
   * assert(array(number()).min(2).safeParse([1]).issues?.[0]?.message ===
   *   "expected at least 2 items, received 1");
   * ```
   */
  min(n: number): this {
    return this.refine(
      (v) => v.length >= n,
      (v) => `expected at least ${plural(n, "item", "items")}, received ${v.length}`,
    );
  }
}

/**
 * A string.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { string } from "./_schema.ts";
 * assert(string().safeParse(1).issues?.[0]?.message === "expected string, received number");
 * ```
 */
export function string(): StringSchema {
  return new StringSchema({
    parse: (value) => typeof value === "string" ? { value } : wrongType("string", value),
  });
}

/**
 * A finite number (not `NaN` nor ±`Infinity`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { number } from "./_schema.ts";
 * assert(number().safeParse("1").issues?.[0]?.message === "expected number, received string");
 * assert(number().safeParse(NaN).issues?.[0]?.message === "expected number, received NaN");
 * ```
 */
export function number(): NumberSchema {
  return new NumberSchema({
    parse: (value) => {
      if (typeof value !== "number" || Number.isNaN(value)) return wrongType("number", value);
      if (!Number.isFinite(value)) return fail(`expected finite number, received ${value}`);
      return { value };
    },
  });
}

/**
 * `true` or `false`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { boolean } from "./_schema.ts";
 * assert(boolean().safeParse("true").issues?.[0]?.message ===
 *   "expected boolean, received string");
 * ```
 */
export function boolean(): Schema<boolean, boolean> {
  return new Schema({
    parse: (value) => typeof value === "boolean" ? { value } : wrongType("boolean", value),
  });
}

/**
 * An http:// or https:// URL, as a string (not normalised). Anything else, a string that is not
 * a URL included, gets `message`; its content is never quoted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { url } from "./_schema.ts";
 * assert(url().safeParse("http://127.0.0.1:9090/-/reload").value === "http://127.0.0.1:9090/-/reload");
 * assert(url().safeParse("ftp://h/").issues?.[0]?.message ===
 *   "must be an http:// or https:// URL");
 * ```
 */
export function url(message = "must be an http:// or https:// URL"): Schema<string, string> {
  return new Schema({
    parse: (value) => {
      if (typeof value !== "string") return value === undefined ? fail("required") : fail(message);
      let parsed: URL;
      try {
        parsed = new URL(value);
      } catch {
        return fail(message);
      }
      return parsed.protocol === "http:" || parsed.protocol === "https:"
        ? { value }
        : fail(message);
    },
  });
}

/**
 * Exactly `value`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { literal } from "./_schema.ts";
 * assert(literal("v1").safeParse("v2").issues?.[0]?.message === 'expected "v1"');
 * assert(literal(1).safeParse("1").issues?.[0]?.message === "expected 1, received string");
 * ```
 */
export function literal<const T extends string | number | boolean | null>(
  value: T,
): Schema<T, T> {
  return new Schema({
    parse: (given) => {
      if (given === value) return { value };
      if (given === undefined) return fail("required");
      // A string of the right type is not quoted back: option values may be secrets.
      const received = typeof given === typeof value ? "" : `, received ${kind(given)}`;
      return fail(`expected ${JSON.stringify(value)}${received}`);
    },
  });
}

/**
 * One of `values`; `message` replaces the default `expected one of "a" | "b"`. Also exported as
 * `enum` (`s.enum([…])` with `import * as s`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { oneOf } from "./_schema.ts";
 * const method = oneOf(["GET", "POST"]);
 * assert(method.safeParse("PUT").issues?.[0]?.message === 'expected one of "GET" | "POST"');
 * assert(method.safeParse(1).issues?.[0]?.message ===
 *   'expected one of "GET" | "POST", received number');
 * ```
 */
export function oneOf<const T extends string | number>(
  values: readonly T[],
  message?: string,
): Schema<T, T> {
  const allowed = new Set<unknown>(values);
  const expected = `expected one of ${values.map((v) => JSON.stringify(v)).join(" | ")}`;
  return new Schema({
    parse: (value) => {
      if (allowed.has(value)) return { value };
      if (value === undefined) return fail("required");
      if (message !== undefined) return fail(message);
      // A string of the right type is not quoted back: option values may be secrets.
      const sameType = values.some((v) => typeof v === typeof value);
      return fail(sameType ? expected : `${expected}, received ${kind(value)}`);
    },
  });
}
export { oneOf as enum };

/**
 * An array of `item`; issues of an item have its index in their path.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { array, string } from "./_schema.ts";
 * const r = array(string()).safeParse("*.json");
 * assert(r.issues?.[0]?.message === "expected array, received string");
 * ```
 */
export function array<I, O>(item: Schema<I, O>): ArraySchema<I, O> {
  return new ArraySchema({
    parse: (value) => {
      if (!Array.isArray(value)) return wrongType("array", value);
      const out: unknown[] = [];
      const issues: Issue[] = [];
      value.forEach((v: unknown, i) => {
        const r = item.safeParse(v);
        if (r.issues) issues.push(...under(i, r.issues));
        else out.push(r.value);
      });
      return issues.length > 0 ? { issues } : { value: out };
    },
  });
}

/**
 * An object with any string keys and values of `value`; `options.keys` checks the keys too.
 * Issues of a key or its value have the key in their path.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { record, string } from "./_schema.ts";
 * const headers = record(string(), { keys: string().regex(/^[A-Za-z-]+$/, "not a header name") });
 * assert(headers.safeParse({ "X-A": "1" }).issues === undefined);
 * const r = headers.safeParse({ "X A": "1" });
 * assert(r.issues?.[0]?.message === "not a header name" && r.issues[0].path[0] === "X A");
 * ```
 */
export function record<I, O>(
  value: Schema<I, O>,
  options: { readonly keys?: Schema<string, string> | undefined } = {},
): Schema<Record<string, I>, Record<string, O>> {
  return new Schema({
    parse: (given) => {
      if (!isRecord(given)) return wrongType("object", given);
      const out: Record<string, unknown> = {};
      const issues: Issue[] = [];
      for (const key of Object.keys(given)) {
        const k = options.keys?.safeParse(key);
        if (k?.issues) issues.push(...under(key, k.issues));
        const r = value.safeParse(given[key]);
        if (r.issues) issues.push(...under(key, r.issues));
        else setOwn(out, key, r.value);
      }
      return issues.length > 0 ? { issues } : { value: out };
    },
  });
}

/**
 * The schemas of an object's keys.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { number, type Shape, string } from "./_schema.ts";
 * const shape: Shape = { name: string(), port: number().optional() };
 * assert(Object.keys(shape).length === 2);
 * ```
 */
export type Shape = { readonly [key: string]: Schema<unknown, unknown> };

/** `T` with the keys whose type admits `undefined` made optional. */
type WithOptionalKeys<T> =
  & {
    [K in keyof T as undefined extends T[K] ? never : K]: T[K];
  }
  & {
    [K in keyof T as undefined extends T[K] ? K : never]?: T[K];
  };
type Flat<T> = { [K in keyof T]: T[K] } & unknown;

/**
 * Input type of {@linkcode object}(shape).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ObjectInput, string } from "./_schema.ts";
 * const shape = { a: string(), b: string().optional() };
 * const value: ObjectInput<typeof shape> = { a: "x" };
 * assert(value.a === "x");
 * ```
 */
export type ObjectInput<S extends Shape> = Flat<
  WithOptionalKeys<{ [K in keyof S]: Input<S[K]> }>
>;

/**
 * Output type of {@linkcode object}(shape).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { number, type ObjectOutput } from "./_schema.ts";
 * const shape = { n: number().default(1) };
 * const value: ObjectOutput<typeof shape> = { n: 1 };
 * assert(value.n === 1);
 * ```
 */
export type ObjectOutput<S extends Shape> = Flat<
  WithOptionalKeys<{ [K in keyof S]: Infer<S[K]> }>
>;

/**
 * An object with the keys of `shape` and no other: an unknown key is an issue, `unknown key
 * "x"`, at the object's path. A key missing from the input stays missing from the output unless
 * its schema has a default. Refinements of the object (`.refine()`) run only when every key is
 * valid, and see the output.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as s from "./_schema.ts";
 * const options = s.object({ keys: s.array(s.string().min(1)).min(1).optional() });
 * assert(options.safeParse({}).issues === undefined);
 * const issues = options.safeParse({ keys: [""], kyes: [] }).issues ?? [];
 * assert(issues.length === 2);
 * assert(issues[0]?.path.join(".") === "keys.0");
 * assert(issues[1]?.message === 'unknown key "kyes"');
 * ```
 */
export function object<S extends Shape>(shape: S): Schema<ObjectInput<S>, ObjectOutput<S>> {
  const keys = Object.keys(shape);
  return new Schema({
    parse: (value) => {
      if (!isRecord(value)) return wrongType("object", value);
      const out: Record<string, unknown> = {};
      const issues: Issue[] = [];
      for (const key of keys) {
        const given = Object.hasOwn(value, key);
        const r = shape[key]!.safeParse(given ? value[key] : undefined);
        if (r.issues) issues.push(...under(key, r.issues));
        else if (given || r.value !== undefined) setOwn(out, key, r.value);
      }
      for (const key of Object.keys(value)) {
        if (!Object.hasOwn(shape, key)) {
          issues.push({ message: `unknown key ${JSON.stringify(key)}`, path: [] });
        }
      }
      return issues.length > 0 ? { issues } : { value: out };
    },
  });
}
