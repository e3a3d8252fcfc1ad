import assert from "node:assert/strict";
import { join } from "node:path";
import { parseEnv } from "./env.ts";
import {
  pipelineFromEnv,
  type PipelineSpec,
  readConfigFile,
  type ReadConfigFileOptions,
} from "./file.ts";

/** Writes `text` as `name` in a fresh temp dir, runs `fn`, removes the dir. */
async function withFile(
  name: string,
  text: string,
  fn: (path: string, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "gsidecar-config-" });
  try {
    const path = join(dir, name);
    await Deno.writeTextFile(path, text);
    await fn(path, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function errorsOf(
  name: string,
  text: string,
  opts: ReadConfigFileOptions = {},
): Promise<string[]> {
  let errors: string[] = [];
  await withFile(name, text, async (path) => {
    const r = await readConfigFile(path, opts);
    if (r.ok) assert.fail(`expected errors, got ${JSON.stringify(r.file.spec)}`);
    errors = r.errors.map((e) => e.replaceAll(path, "FILE"));
  });
  return errors;
}

const ENV_SPEC: PipelineSpec = {
  writers: [{ use: "json-file", id: "json-file#0" }],
  notifiers: [{ use: "script", id: "script#0", options: { path: "/bin/reload" } }],
};

Deno.test("readConfigFile() reads a YAML file and resolves relative paths against its directory", async () => {
  const yaml = [
    "# the pipeline",
    "writers:",
    "  - use: json-file",
    "  - use: ./my_writer.ts",
    "    id: mine",
    "    options: { keys: ['*.conf'] }",
    "    timeoutMs: 5000",
    "  - use: ../shared/w.ts",
    "  - use: /opt/plugins/w.ts",
    "  - use: npm:@acme/gsidecar-writer@1",
    "notifiers:",
    "  - use: https://example.com/n.ts",
    "  - use: jsr:@acme/notify",
    "  - use: file:///opt/n.ts",
    "",
  ].join("\n");
  await withFile("config.yaml", yaml, async (path, dir) => {
    const r = await readConfigFile(path);
    if (!r.ok) assert.fail(r.errors.join("\n"));
    assert.equal(r.file.path, path);
    assert.deepEqual(r.file.spec, {
      writers: [
        { use: "json-file" },
        {
          use: join(dir, "my_writer.ts"),
          id: "mine",
          options: { keys: ["*.conf"] },
          timeoutMs: 5000,
        },
        { use: join(dir, "..", "shared", "w.ts") },
        { use: "/opt/plugins/w.ts" },
        { use: "npm:@acme/gsidecar-writer@1" },
      ],
      notifiers: [
        { use: "https://example.com/n.ts" },
        { use: "jsr:@acme/notify" },
        { use: "file:///opt/n.ts" },
      ],
    });
  });
});

Deno.test("readConfigFile() resolves a relative config path against cwd", async () => {
  await withFile("c.yml", "writers: []\nnotifiers: []\n", async (_path, dir) => {
    const r = await readConfigFile("c.yml", { cwd: dir });
    if (!r.ok) assert.fail(r.errors.join("\n"));
    assert.equal(r.file.path, join(dir, "c.yml"));
  });
});

Deno.test("readConfigFile() reads a JSON file", async () => {
  const json = JSON.stringify({
    writers: [{ use: "./w.ts", id: "w", options: { a: 1 } }],
    notifiers: [{ use: "http-basic", options: { url: "http://127.0.0.1/reload" } }],
  });
  await withFile("config.json", json, async (path, dir) => {
    const r = await readConfigFile(path);
    if (!r.ok) assert.fail(r.errors.join("\n"));
    assert.deepEqual(r.file.spec, {
      writers: [{ use: join(dir, "w.ts"), id: "w", options: { a: 1 } }],
      notifiers: [{ use: "http-basic", options: { url: "http://127.0.0.1/reload" } }],
    });
  });
});

Deno.test("readConfigFile() names the file, line and column of a YAML syntax error", async () => {
  const errors = await errorsOf(
    "config.yaml",
    "writers:\n  - use: json-file\n   id: [oops\nnotifiers: []\n",
  );
  assert.ok(errors.length >= 1, errors.join("\n"));
  assert.match(errors[0]!, /^FILE: line 3, column \d+: \S/);
  assert.ok(!errors[0]!.includes("\n"), "one line per error");
});

Deno.test("readConfigFile() reports a duplicate YAML key with its line", async () => {
  const errors = await errorsOf("config.yaml", "writers: []\nnotifiers: []\nwriters: []\n");
  assert.deepEqual(errors, ["FILE: line 3, column 1: Map keys must be unique"]);
});

Deno.test("readConfigFile() names the file, line and column of a JSON syntax error", async () => {
  const errors = await errorsOf("config.json", '{\n  "writers": [],\n}\n');
  assert.equal(errors.length, 1, errors.join("\n"));
  assert.match(errors[0]!, /^FILE: line 3, column 1: /);
});

Deno.test("readConfigFile() reports an unreadable, empty or non-mapping file", async () => {
  const r = await readConfigFile("/nonexistent/gsidecar/config.yaml");
  assert.deepEqual(r, {
    ok: false,
    errors: ["/nonexistent/gsidecar/config.yaml: cannot read the config file: no such file"],
  });
  assert.deepEqual(await readConfigFile(""), {
    ok: false,
    errors: ["--config/CONFIG is empty: give the path of the config file"],
  });
  assert.deepEqual(await errorsOf("c.yaml", "# nothing\n"), [
    "FILE: is empty; expected a mapping with writers and/or notifiers",
  ]);
  assert.deepEqual(await errorsOf("c.yaml", "- use: json-file\n"), [
    "FILE: expected a mapping with writers and/or notifiers, got a list",
  ]);
});

Deno.test("readConfigFile() reports every shape problem at once, naming instance and field", async () => {
  const yaml = [
    "writer: []",
    "extra: 1",
    "writers:",
    "  - use: json-file",
    "    timeoutMs: 5s",
    "  - plugin: yaml-file",
    "  - use: yaml-file",
    "    id: 'bad id'",
    "    timeout: 3",
    "  - json-file",
    "  - use: 42",
    "  - use: http://example.com/w.ts",
    "  - use: ''",
    "notifiers:",
    "",
  ].join("\n");
  assert.deepEqual(await errorsOf("config.yaml", yaml), [
    'FILE: unknown top-level key "writer" (expected writers, notifiers, syncs; did you mean writers?)',
    'FILE: unknown top-level key "extra" (expected writers, notifiers, syncs)',
    'FILE: writers[0] "json-file": timeoutMs: expected a positive whole number of milliseconds up to 2147483647, got the string "5s"',
    'FILE: writers[1]: unknown key "plugin" (expected use, id, options, timeoutMs, gunzip; did you mean use?)',
    "FILE: writers[1]: use: missing (a built-in name such as json-file, a path, or a specifier)",
    'FILE: writers[2] "yaml-file": unknown key "timeout" (expected use, id, options, timeoutMs, gunzip; did you mean timeoutMs?)',
    "FILE: writers[2] \"yaml-file\": id: \"bad id\" is not a valid id (1-63 letters, digits, '.', '_', '-' or '#', starting and ending with a letter or digit)",
    "FILE: writers[3]: expected a mapping, got a string (write `- use: json-file`)",
    "FILE: writers[4]: use: expected a string, got number 42",
    'FILE: writers[5] "http://example.com/w.ts": use: unsupported specifier scheme "http:" (expected a built-in name, a path, or a file:, https:, npm: or jsr: specifier)',
    'FILE: writers[6] "": use: must not be empty',
    "FILE: notifiers: expected a list, got null (write `notifiers: []` for none)",
  ]);
});

Deno.test("readConfigFile() rejects two instances with the same id, naming both", async () => {
  const yaml = [
    "writers:",
    "  - { use: json-file, id: main }",
    "  - { use: json-file, id: other }",
    "notifiers:",
    "  - { use: script, id: main, options: { path: /bin/true } }",
    "",
  ].join("\n");
  assert.deepEqual(await errorsOf("config.yaml", yaml), [
    'FILE: notifiers[0] "script": id: "main" is already used by writers[0] "json-file"; ids must be unique',
  ]);
});

Deno.test("readConfigFile() takes an absent section from the environment, a present one from the file", async () => {
  await withFile("c.yaml", "notifiers: []\n", async (path) => {
    const r = await readConfigFile(path, { fallback: ENV_SPEC });
    if (!r.ok) assert.fail(r.errors.join("\n"));
    assert.deepEqual(r.file.spec, { writers: ENV_SPEC.writers, notifiers: [] });
  });
  await withFile("c.yaml", "writers: [{ use: json-file }]\n", async (path) => {
    const r = await readConfigFile(path, { fallback: ENV_SPEC });
    if (!r.ok) assert.fail(r.errors.join("\n"));
    assert.deepEqual(r.file.spec, {
      writers: [{ use: "json-file" }],
      notifiers: ENV_SPEC.notifiers,
    });
  });
  await withFile("c.json", "{}", async (path) => {
    const r = await readConfigFile(path);
    if (!r.ok) assert.fail(r.errors.join("\n"));
    assert.deepEqual(r.file.spec, { writers: [], notifiers: [] });
  });
});

Deno.test("pipelineFromEnv() builds today's pipeline with today's instance labels", () => {
  const r = parseEnv({
    FOLDER: "/data",
    LABEL: "dash",
    WRITERS: "json-file",
    REQ_URL: "http://127.0.0.1:3000/reload",
    REQ_TIMEOUT: "40",
    SCRIPT: "/bin/reload.sh",
  }, { cwd: "/", knownWriters: ["json-file"] });
  if (!r.ok) assert.fail(r.errors.join("\n"));
  const spec = pipelineFromEnv(r.config);
  assert.deepEqual(spec.writers, [{ use: "json-file", id: "json-file#0" }]);
  assert.equal(spec.notifiers.length, 2);
  assert.deepEqual(spec.notifiers[0], {
    use: "http-basic",
    id: "http-basic#0",
    options: r.config.http,
    timeoutMs: 45_000,
  });
  assert.deepEqual(spec.notifiers[1], {
    use: "script",
    id: "script#0",
    options: { path: "/bin/reload.sh" },
  });

  const bare = parseEnv({ FOLDER: "/data", LABEL: "dash" }, { cwd: "/" });
  if (!bare.ok) assert.fail(bare.errors.join("\n"));
  assert.deepEqual(pipelineFromEnv(bare.config), {
    writers: [{ use: "json-file", id: "json-file#0" }],
    notifiers: [],
  });
});
