import assert from "node:assert/strict";
import * as s from "./_schema.ts";
import { type StandardSchemaV1, validate } from "./standard_schema.ts";

/** Compile-time equality of two types: `true` only when they are the same. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
function assertType<_T extends true>(): void {}

function messages(schema: s.Schema<unknown, unknown>, value: unknown): string[] {
  return (schema.safeParse(value).issues ?? []).map((i) => {
    const path = i.path.map(String).join(".");
    return path ? `${path}: ${i.message}` : i.message;
  });
}

Deno.test("schemas implement Standard Schema v1 and render through validate()", async () => {
  const options = s.object({ keys: s.array(s.string().min(1)).min(1).optional() });
  const standard: StandardSchemaV1<unknown, { keys?: string[] | undefined }> = options;
  assert.equal(standard["~standard"].version, 1);
  assert.equal(standard["~standard"].vendor, "gsidecar");
  assert.equal(typeof standard["~standard"].validate, "function");
  assert.deepEqual(await validate(options, { keys: ["*.json"] }), { value: { keys: ["*.json"] } });
  assert.deepEqual(await validate(options, { keys: "*.json" }), {
    issues: ["keys: expected array, received string"],
  });
  assert.deepEqual(await validate(options, { keys: [] }), {
    issues: ["keys: expected at least 1 item, received 0"],
  });
  assert.deepEqual(await validate(options, { keys: ["a", ""] }), {
    issues: ["keys.1: expected non-empty string, received empty string"],
  });
  assert.deepEqual(await validate(options, "everything"), {
    issues: ["expected object, received string"],
  });
  // The result is synchronous, as Standard Schema allows.
  assert.deepEqual(options["~standard"].validate({}), { value: {} });
});

Deno.test("object() refuses unknown keys by name, after the known keys' issues", () => {
  const options = s.object({ path: s.string().min(1), timeoutMs: s.number().default(1) });
  assert.deepEqual(messages(options, { path: "/x", tiemout: 1 }), ['unknown key "tiemout"']);
  assert.deepEqual(messages(options, { a: 1, timeoutMs: "1", b: 2 }), [
    "path: required",
    "timeoutMs: expected number, received string",
    'unknown key "a"',
    'unknown key "b"',
  ]);
  for (const bad of [null, [], 1, true]) {
    assert.match(
      messages(options, bad)[0]!,
      /^expected object, received (null|array|number|boolean)$/,
    );
  }
  assert.deepEqual(messages(options, undefined), ["required"]);
});

Deno.test("object() keeps missing optional keys missing and applies defaults", () => {
  const options = s.object({
    a: s.string().optional(),
    b: s.boolean().default(false),
    c: s.array(s.string()).default([]),
  });
  assert.deepEqual(options.safeParse({}), { value: { b: false, c: [] } });
  assert.ok(!Object.hasOwn(options.safeParse({}).value!, "a"));
  assert.deepEqual(options.safeParse({ a: undefined, b: true }), {
    value: { a: undefined, b: true, c: [] },
  });
  const first = options.safeParse({}).value!;
  first.c.push("x");
  assert.deepEqual(options.safeParse({}).value!.c, [], "defaults are copied, not shared");
});

Deno.test("object() treats __proto__ as an unknown key and never touches prototypes", () => {
  const options = s.object({ a: s.string().optional() });
  assert.deepEqual(messages(options, JSON.parse('{"__proto__": {"a": 1}}')), [
    'unknown key "__proto__"',
  ]);
  const headers = s.record(s.string());
  const r = headers.safeParse(JSON.parse('{"__proto__": "x"}'));
  assert.ok(r.value);
  assert.equal(Object.getPrototypeOf(r.value), Object.prototype);
  assert.deepEqual(Object.keys(r.value), ["__proto__"]);
});

Deno.test("string() checks type, length and pattern without quoting the value", () => {
  assert.deepEqual(messages(s.string(), 1), ["expected string, received number"]);
  assert.deepEqual(messages(s.string().min(3), "ab"), [
    "expected at least 3 characters, received 2",
  ]);
  assert.deepEqual(messages(s.string().min(1), "").length, 1);
  const re = /^[a-z]+$/g;
  const name = s.string().regex(re);
  assert.deepEqual(messages(name, "abc"), []);
  assert.deepEqual(messages(name, "abc"), [], "a g flag leaves no state between calls");
  assert.deepEqual(messages(name, "secret-Value"), ["expected string matching /^[a-z]+$/"]);
  assert.deepEqual(messages(s.string().regex(/^x/, "starts with x"), "y"), ["starts with x"]);
  // Every failing check is an issue, in order.
  assert.deepEqual(messages(s.string().min(1).regex(/^x/), ""), [
    "expected non-empty string, received empty string",
    "expected string matching /^x/",
  ]);
});

Deno.test("number() checks type, integer and range", () => {
  assert.deepEqual(messages(s.number(), "1"), ["expected number, received string"]);
  assert.deepEqual(messages(s.number(), NaN), ["expected number, received NaN"]);
  assert.deepEqual(messages(s.number(), Infinity), ["expected finite number, received Infinity"]);
  assert.deepEqual(messages(s.number().int(), 1.5), ["expected integer, received 1.5"]);
  assert.deepEqual(messages(s.number().min(0), -1), ["expected number >= 0, received -1"]);
  assert.deepEqual(messages(s.number().max(10), 11), ["expected number <= 10, received 11"]);
  assert.deepEqual(messages(s.number().positive(), 0), ["expected number > 0, received 0"]);
  const ms = s.number().int().positive().max(600_000);
  assert.deepEqual(ms.safeParse(600_000), { value: 600_000 });
  assert.deepEqual(messages(ms, -0.5), [
    "expected integer, received -0.5",
    "expected number > 0, received -0.5",
  ]);
  assert.deepEqual(s.number().min(0).safeParse(1.1), { value: 1.1 });
});

Deno.test("boolean(), literal() and enum() accept exactly their values", () => {
  assert.deepEqual(messages(s.boolean(), "true"), ["expected boolean, received string"]);
  assert.deepEqual(s.boolean().safeParse(false), { value: false });
  assert.deepEqual(messages(s.literal("v1"), "v2"), ['expected "v1"']);
  assert.deepEqual(messages(s.literal(1), "1"), ["expected 1, received string"]);
  assert.deepEqual(s.literal(null).safeParse(null), { value: null });
  const method = s.enum(["GET", "POST"]);
  assert.equal(method, method);
  assert.deepEqual(method.safeParse("POST"), { value: "POST" });
  assert.deepEqual(messages(method, "PUT"), ['expected one of "GET" | "POST"']);
  assert.deepEqual(messages(method, 1), ['expected one of "GET" | "POST", received number']);
  assert.deepEqual(messages(method, undefined), ["required"]);
  assert.deepEqual(messages(s.oneOf(["a"], "not a letter we know"), "b"), ["not a letter we know"]);
  assert.equal(s.enum, s.oneOf);
});

Deno.test("url() accepts http and https URLs only, as given", () => {
  const u = s.url();
  assert.deepEqual(u.safeParse("http://127.0.0.1:1/x?y=1"), { value: "http://127.0.0.1:1/x?y=1" });
  assert.deepEqual(u.safeParse("HTTPS://Example.com"), { value: "HTTPS://Example.com" });
  for (const bad of ["ftp://h/", "hooks.slack.com/x", "", "mailto:a@b", "file:///etc/passwd", 1]) {
    assert.deepEqual(messages(u, bad), ["must be an http:// or https:// URL"], String(bad));
  }
  assert.deepEqual(messages(u, undefined), ["required"]);
  assert.deepEqual(messages(s.url("bad webhook"), "x"), ["bad webhook"]);
});

Deno.test("array() and record() put indexes and keys in issue paths", () => {
  assert.deepEqual(messages(s.array(s.number()), [1, "2", 3, null]), [
    "1: expected number, received string",
    "3: expected number, received null",
  ]);
  assert.deepEqual(messages(s.array(s.number()).min(2), [1]), [
    "expected at least 2 items, received 1",
  ]);
  const headers = s.record(
    s.string().refine((v) => !/[\r\n]/.test(v), "one line"),
    { keys: s.string().regex(/^[A-Za-z-]+$/, "not a header name") },
  );
  assert.deepEqual(headers.safeParse({ "X-A": "1" }), { value: { "X-A": "1" } });
  assert.deepEqual(messages(headers, { "X A": "1", "X-B": "a\nb", "X-C": 3 }), [
    "X A: not a header name",
    "X-B: one line",
    "X-C: expected string, received number",
  ]);
  assert.deepEqual(messages(headers, ["a"]), ["expected object, received array"]);
});

Deno.test("refine() runs once the value is valid, every check in order, with an optional path", () => {
  const calls: unknown[] = [];
  const options = s.object({
    pidFile: s.string().min(1).optional(),
    processName: s.string().min(1).refine((n) => !n.includes("/"), "a process name, not a path")
      .optional(),
  }).refine(
    (o) => {
      calls.push(o);
      return (o.pidFile === undefined) !== (o.processName === undefined);
    },
    "give exactly one of pidFile or processName",
    {
      path: (o) => [o.pidFile === undefined ? "pidFile" : "processName"],
    },
  ).refine(() => false, (o) => `second check sees ${JSON.stringify(o)}`);
  assert.deepEqual(messages(options, {}), [
    "pidFile: give exactly one of pidFile or processName",
    "second check sees {}",
  ]);
  assert.deepEqual(messages(options, { pidFile: "/p", processName: "x" }), [
    "processName: give exactly one of pidFile or processName",
    'second check sees {"pidFile":"/p","processName":"x"}',
  ]);
  assert.deepEqual(messages(options, { processName: "/usr/bin/app", pidFile: "" }), [
    "pidFile: expected non-empty string, received empty string",
    "processName: a process name, not a path",
  ]);
  assert.equal(calls.length, 2, "object checks do not run while a key is invalid");
  assert.deepEqual(messages(options, { pidFile: "/p" }), ['second check sees {"pidFile":"/p"}']);
  assert.deepEqual(messages(s.number().refine(() => true, "x", { path: ["a", 0] }), 1), []);
  assert.deepEqual(
    s.number().refine(() => false, "x", { path: ["a", 0] }).safeParse(1).issues,
    [{ message: "x", path: ["a", 0] }],
  );
});

Deno.test("schemas are immutable: methods return new schemas of the same kind", () => {
  const base = s.string();
  const min = base.min(2);
  assert.ok(min instanceof s.StringSchema);
  assert.notEqual(min, base);
  assert.deepEqual(base.safeParse(""), { value: "" });
  assert.ok(s.number().int() instanceof s.NumberSchema);
  assert.ok(s.array(s.string()).refine(() => true, "x") instanceof s.ArraySchema);
  // Chaining after refine() keeps the subclass methods.
  assert.deepEqual(messages(s.string().refine(() => true, "x").min(1), ""), [
    "expected non-empty string, received empty string",
  ]);
});

Deno.test("optional() and default() leave other values to the schema", () => {
  assert.deepEqual(s.string().optional().safeParse(undefined), { value: undefined });
  assert.deepEqual(messages(s.string().optional(), null), ["expected string, received null"]);
  assert.deepEqual(s.enum(["GET", "POST"]).default("GET").safeParse(undefined), { value: "GET" });
  assert.deepEqual(messages(s.enum(["GET", "POST"]).default("GET"), "PUT"), [
    'expected one of "GET" | "POST"',
  ]);
});

Deno.test("Input and Infer give the configuration and the validated types", () => {
  const options = s.object({
    url: s.url(),
    method: s.enum(["GET", "POST"]).default("GET"),
    payload: s.string().optional(),
    headers: s.record(s.string()).default({}),
    keys: s.array(s.string()).min(1).optional(),
    on: s.literal(true).optional(),
  });
  assertType<
    Equal<s.Input<typeof options>, {
      url: string;
      method?: "GET" | "POST" | undefined;
      payload?: string | undefined;
      headers?: Record<string, string> | undefined;
      keys?: string[] | undefined;
      on?: true | undefined;
    }>
  >();
  assertType<
    Equal<s.Infer<typeof options>, {
      url: string;
      method: "GET" | "POST";
      payload?: string | undefined;
      headers: Record<string, string>;
      keys?: string[] | undefined;
      on?: true | undefined;
    }>
  >();
  // @ts-expect-error: url is required in the input
  const missing: s.Input<typeof options> = {};
  assert.ok(missing);
  const r = options.safeParse({ url: "http://h/" });
  if (r.issues) assert.fail(r.issues.map((i) => i.message).join("; "));
  const method: "GET" | "POST" = r.value.method;
  assert.equal(method, "GET");
});
