/**
 * The Standard Schema interface (https://standardschema.dev), copied as its authors intend, so
 * that plugin options can be declared with zod, valibot, arktype or any other implementation.
 *
 * @module
 */

/** A schema that validates `Input` into `Output`. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly "~standard": StandardSchemaV1.Props<Input, Output>;
}

/** Types of the Standard Schema interface. */
export declare namespace StandardSchemaV1 {
  /** The properties of a schema. */
  export interface Props<Input = unknown, Output = Input> {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    readonly types?: Types<Input, Output> | undefined;
  }
  /** The result of validation. */
  export type Result<Output> = SuccessResult<Output> | FailureResult;
  /** A successful validation. */
  export interface SuccessResult<Output> {
    readonly value: Output;
    readonly issues?: undefined;
  }
  /** A failed validation. */
  export interface FailureResult {
    readonly issues: ReadonlyArray<Issue>;
  }
  /** One problem. */
  export interface Issue {
    readonly message: string;
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }
  /** A path segment with a key. */
  export interface PathSegment {
    readonly key: PropertyKey;
  }
  /** Input and output types. */
  export interface Types<Input = unknown, Output = Input> {
    readonly input: Input;
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
 * ```ts ignore
 * const r = await validate(schema, { url: 1 });
 * if ("issues" in r) console.log(r.issues); // ["url: expected string"]
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
