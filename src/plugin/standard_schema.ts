/**
 * The Standard Schema interface (https://standardschema.dev), copied as its authors intend, so
 * that plugin options can be declared with zod, valibot, arktype or any other implementation.
 *
 * @module
 */

/** A schema that validates `Input` into `Output`. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The Standard Schema properties. */
  readonly "~standard": StandardSchemaV1.Props<Input, Output>;
}

/** Types of the Standard Schema interface. */
export declare namespace StandardSchemaV1 {
  /** The properties of a schema. */
  export interface Props<Input = unknown, Output = Input> {
    /** The version of the Standard Schema interface. */
    readonly version: 1;
    /** The library that made the schema, e.g. `zod`. */
    readonly vendor: string;
    /** Validates an unknown value. */
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    /** Types for inference only; absent at run time. */
    readonly types?: Types<Input, Output> | undefined;
  }
  /** The result of validation. */
  export type Result<Output> = SuccessResult<Output> | FailureResult;
  /** A successful validation. */
  export interface SuccessResult<Output> {
    /** The validated (and possibly transformed) value. */
    readonly value: Output;
    /** Absent on success. */
    readonly issues?: undefined;
  }
  /** A failed validation. */
  export interface FailureResult {
    /** What is wrong, at least one. */
    readonly issues: ReadonlyArray<Issue>;
  }
  /** One problem. */
  export interface Issue {
    /** What is wrong. */
    readonly message: string;
    /** Where, from the root value. */
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }
  /** A path segment with a key. */
  export interface PathSegment {
    /** The key of this step. */
    readonly key: PropertyKey;
  }
  /** Input and output types. */
  export interface Types<Input = unknown, Output = Input> {
    /** What the schema takes. */
    readonly input: Input;
    /** What it produces. */
    readonly output: Output;
  }
  /** The output type of a schema. */
  export type InferOutput<S extends StandardSchemaV1> = NonNullable<
    S["~standard"]["types"]
  >["output"];
}

/**
 * Validates `value` with `schema`; returns the output or a list of `field: message` strings.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validate } from "./standard_schema.ts";
 * import { object, string } from "./_schema.ts";
 * const r = await validate(object({ url: string() }), { url: 1 });
 * assert("issues" in r && r.issues[0] === "url: expected string, received number");
 * ```
 */
export async function validate<O>(
  schema: StandardSchemaV1<unknown, O>,
  value: unknown,
): Promise<{ value: O } | { issues: string[] }> {
  const result = await schema["~standard"].validate(value);
  if (result.issues) {
    return {
      issues: result.issues.map((i) => {
        const path = (i.path ?? []).map((p) => String(typeof p === "object" ? p.key : p)).join(".");
        return path ? `${path}: ${i.message}` : i.message;
      }),
    };
  }
  return { value: result.value };
}
