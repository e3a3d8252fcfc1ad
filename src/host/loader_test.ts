import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { readConfigFile } from "../config/file.ts";
import type { PipelineSpec } from "../config/file.ts";
import {
  COMPILED_HINT,
  isCompiledBinary,
  type LoadedInstanceSpec,
  loadPipeline,
  type LoadPipelineOptions,
  validateOptions,
} from "./loader.ts";
import { BUILTIN_WRITERS } from "../../plugins/registry.ts";

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "../../tests/fixtures/plugins");

async function loaded(
  spec: Partial<PipelineSpec>,
  opts: LoadPipelineOptions = {},
): Promise<{ writers: LoadedInstanceSpec[]; notifiers: LoadedInstanceSpec[] }> {
  const r = await loadPipeline({ writers: [], notifiers: [], ...spec }, opts);
  if (!r.ok) assert.fail(r.errors.join("\n"));
  return r;
}

async function loadErrors(
  spec: Partial<PipelineSpec>,
  opts: LoadPipelineOptions = {},
): Promise<string[]> {
  const r = await loadPipeline({ writers: [], notifiers: [], ...spec }, opts);
  if (r.ok) assert.fail("expected errors, got a pipeline");
  return r.errors;
}

Deno.test("loadPipeline() resolves built-in names through the registry", async () => {
  const r = await loaded({
    writers: [{ use: "json-file" }, { use: "json-file", id: "second", options: { keys: ["*"] } }],
    notifiers: [{ use: "http-basic", timeoutMs: 45_000 }, { use: "script", id: "s" }],
  });
  assert.deepEqual(
    r.writers.map((w) => [w.kind, w.label, w.definition.name, w.options]),
    [["writer", "writers[0]", "json-file", undefined], ["writer", "second", "json-file", {
      keys: ["*"],
    }]],
  );
  assert.deepEqual(
    r.notifiers.map((n) => [n.kind, n.label, n.definition.name, n.timeoutMs]),
    [["notifier", "notifiers[0]", "http-basic", 45_000], ["notifier", "s", "script", undefined]],
  );
  assert.equal(r.writers[0]!.definition.kind, "writer");
  assert.ok(!("timeoutMs" in r.writers[0]!), "no timeoutMs key when the spec gives none");
});

Deno.test("loadPipeline() loads external plugins by relative path, absolute path and file: URL", async () => {
  const absolute = join(FIXTURES, "valid_writer.ts");
  const r = await loaded({
    writers: [
      { use: "./valid_writer.ts" },
      { use: absolute, id: "abs" },
      { use: pathToFileURL(absolute).href, id: "url" },
    ],
    notifiers: [{ use: "../plugins/valid_notifier.ts" }],
  }, { baseDir: FIXTURES });
  assert.deepEqual(r.writers.map((w) => w.definition.name), [
    "fixture-writer",
    "fixture-writer",
    "fixture-writer",
  ]);
  assert.deepEqual(r.writers.map((w) => w.label), ["writers[0]", "abs", "url"]);
  assert.equal(r.notifiers[0]!.definition.name, "fixture-notifier");
  assert.equal(r.notifiers[0]!.definition.kind, "notifier");
});

Deno.test("loadPipeline() reports every shape error at once, naming the instance", async () => {
  const errors = await loadErrors({
    writers: [
      { use: "./valid_writer.ts" },
      { use: "./no_default.ts" },
      { use: "./not_definition.ts" },
      { use: "./valid_notifier.ts" },
      { use: "http-basic" },
      { use: "yaml-files" },
      { use: "ftp://example.com/w.ts" },
    ],
    notifiers: [{ use: "./valid_writer.ts" }, { use: "json-file" }],
  }, { baseDir: FIXTURES, source: "/etc/gsidecar/config.yaml" });
  assert.deepEqual(
    errors,
    [
      '/etc/gsidecar/config.yaml: writers[1] "./no_default.ts": module has no default export',
      '/etc/gsidecar/config.yaml: writers[2] "./not_definition.ts": default export is not a writer definition (made with defineWriter): missing create()',
      '/etc/gsidecar/config.yaml: writers[3] "./valid_notifier.ts": is a notifier, listed under writers',
      '/etc/gsidecar/config.yaml: writers[4] "http-basic": is a notifier, listed under writers',
      `/etc/gsidecar/config.yaml: writers[5] "yaml-files": no built-in writer has this name (built-in writers: json-file); ` +
      "an external plugin needs a path (./x.ts, /x.ts) or a file:, https:, npm: or jsr: specifier",
      '/etc/gsidecar/config.yaml: writers[6] "ftp://example.com/w.ts": unsupported specifier scheme "ftp:" (expected a path, or a file:, https:, npm: or jsr: specifier)',
      '/etc/gsidecar/config.yaml: notifiers[0] "./valid_writer.ts": is a writer, listed under notifiers',
      '/etc/gsidecar/config.yaml: notifiers[1] "json-file": is a writer, listed under notifiers',
    ].map((e) => e.replace("json-file);", `${Object.keys(BUILTIN_WRITERS).join(", ")});`)),
  );
});

Deno.test("loadPipeline() lists every definition problem of a default export", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gsidecar-loader-" });
  try {
    await Deno.writeTextFile(
      join(dir, "bad.ts"),
      'export default { kind: "exporter", name: "Bad_Name", options: { parse() {} }, timeoutMs: -1 };\n',
    );
    await Deno.writeTextFile(join(dir, "fn.ts"), "export default function () {}\n");
    const errors = await loadErrors({ writers: [{ use: "./bad.ts" }, { use: "./fn.ts" }] }, {
      baseDir: dir,
    });
    assert.deepEqual(errors, [
      'writers[0] "./bad.ts": default export is not a writer definition (made with defineWriter): ' +
      'kind is "exporter", expected "writer"; name "Bad_Name" is not kebab-case (e.g. my-writer); ' +
      'missing create(); options is not a Standard Schema (zod, valibot, …): no "~standard".validate function; ' +
      "timeoutMs -1 is not a positive number",
      'writers[1] "./fn.ts": default export is not a writer definition (made with defineWriter): it is a function',
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadPipeline() reports an import failure with its message", async () => {
  const errors = await loadErrors({ writers: [{ use: "./missing_plugin.ts" }] }, {
    baseDir: FIXTURES,
    compiled: false,
  });
  assert.equal(errors.length, 1, errors.join("\n"));
  assert.ok(
    errors[0]!.startsWith('writers[0] "./missing_plugin.ts": cannot load the module: '),
    String(errors[0]),
  );
  assert.ok(errors[0]!.includes("missing_plugin.ts"), String(errors[0]));
  assert.ok(!errors[0]!.includes(COMPILED_HINT), String(errors[0]));
});

Deno.test("loadPipeline() explains what a compiled binary can load when an external plugin fails", async () => {
  const errors = await loadErrors({
    writers: [{ use: "json-file" }],
    notifiers: [{ use: "./missing_plugin.ts" }],
  }, { baseDir: FIXTURES, compiled: true });
  assert.equal(errors.length, 1, errors.join("\n"));
  assert.ok(errors[0]!.startsWith('notifiers[0] "./missing_plugin.ts": cannot load the module: '));
  assert.ok(
    errors[0]!.endsWith(
      "; in a compiled binary only built-in plugins and absolute-path file plugins can load; " +
        "npm:, jsr:, https: and relative specifiers need the sidecar run with deno",
    ),
    String(errors[0]),
  );
});

Deno.test("loadPipeline() rejects two instances with the same id", async () => {
  const errors = await loadErrors({
    writers: [{ use: "json-file", id: "a" }, { use: "json-file", id: "a" }],
    notifiers: [{ use: "script", id: "writers[0]" }],
  });
  assert.deepEqual(errors, [
    'a "json-file": id "a" is already used by writers[0] "json-file"',
  ]);
});

Deno.test("validateOptions() names the instance and field of every bad option", async () => {
  const r = await loaded({
    writers: [
      { use: "./required_option_writer.ts", id: "pre", options: { keys: "*.txt", extra: 1 } },
      { use: "./required_option_writer.ts", options: { prefix: "p-" } },
      { use: "json-file", options: { keys: "*.json" } },
      { use: "./valid_writer.ts", options: { anything: true } },
    ],
    notifiers: [{ use: "http-basic", options: { url: "ftp://x" } }],
  }, { baseDir: FIXTURES, source: "config.yaml" });
  const problems = await validateOptions([...r.writers, ...r.notifiers]);
  const fields = problems.map((p) => p.slice(0, p.indexOf(": ", p.indexOf('": ') + 3)));
  assert.deepEqual(fields, [
    'config.yaml: pre "./required_option_writer.ts": options.prefix',
    'config.yaml: pre "./required_option_writer.ts": options.keys',
    'config.yaml: pre "./required_option_writer.ts": options',
    'config.yaml: writers[2] "json-file": options.keys',
    'config.yaml: notifiers[0] "http-basic": options.url',
  ]);
  assert.match(problems[1]!, /options\.keys: .*expected array/);
  assert.match(problems[2]!, /options: .*"extra"/);
  assert.deepEqual(await validateOptions(r.writers.slice(1, 2)), []);
});

Deno.test("validateOptions() reports a schema that throws instead of crashing", async () => {
  const definition = {
    kind: "writer" as const,
    name: "throws",
    options: {
      "~standard": {
        version: 1 as const,
        vendor: "test",
        validate: () => {
          throw new Error("boom");
        },
      },
    },
    create: () => ({ write: () => Promise.resolve({ written: [], removed: [], rejected: [] }) }),
  };
  const problems = await validateOptions([
    { kind: "writer", label: "t", definition, options: undefined, use: "./t.ts" },
  ]);
  assert.deepEqual(problems, ['t "./t.ts": options: the schema failed: boom']);
});

Deno.test("readConfigFile() and loadPipeline() name the file, instance and field of a bad option", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gsidecar-loader-" });
  try {
    const plugins = join(dir, "plugins");
    await Deno.mkdir(plugins);
    await Deno.copyFile(
      join(FIXTURES, "required_option_writer.ts"),
      join(plugins, "required_option_writer.ts"),
    );
    // The copy imports the contract and zod relative to the fixture folder: point it back there.
    const text = await Deno.readTextFile(join(plugins, "required_option_writer.ts"));
    await Deno.writeTextFile(
      join(plugins, "required_option_writer.ts"),
      text.replace(
        '"../../../src/plugin/contract.ts"',
        JSON.stringify(pathToFileURL(join(FIXTURES, "../../../src/plugin/contract.ts")).href),
      ),
    );
    const path = join(dir, "config.yaml");
    await Deno.writeTextFile(
      path,
      [
        "writers:",
        "  - use: json-file",
        "  - use: ./plugins/required_option_writer.ts",
        "    options: { prefix: '' }",
        "notifiers: []",
        "",
      ].join("\n"),
    );
    const file = await readConfigFile(path);
    if (!file.ok) assert.fail(file.errors.join("\n"));
    const absolute = join(plugins, "required_option_writer.ts");
    assert.equal(file.file.spec.writers[1]!.use, absolute);
    const r = await loadPipeline(file.file.spec, { source: path });
    if (!r.ok) assert.fail(r.errors.join("\n"));
    const problems = await validateOptions(r.writers);
    assert.equal(problems.length, 1, problems.join("\n"));
    assert.ok(
      problems[0]!.startsWith(`${path}: writers[1] ${JSON.stringify(absolute)}: options.prefix: `),
      String(problems[0]),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("isCompiledBinary() is false under deno test", () => {
  assert.equal(isCompiledBinary(), false);
});
