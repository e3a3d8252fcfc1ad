/**
 * `yaml-file`: writes keys ending in `.yaml` or `.yml` whose content parses as YAML. Multi-document
 * files (`---`) are fine; aliases must resolve. A key that does not parse is refused with the
 * first error — line, column and a fixed description of the kind of error, never the parser's own
 * message, which can quote the offending text (a token, an alias name) and that text may be a
 * Secret value — and its last good file stays.
 *
 * Options: `keys` — globs of keys to write instead of `*.yaml`, `*.yml`.
 *
 * @example
 * ```yaml
 * writers:
 *   - use: yaml-file
 *     options: { keys: ["*.yaml", "*.yml", "*.rules"] }
 * ```
 *
 * @module
 */
import { isAlias, parseAllDocuments, visit } from "yaml";
import { defineKeyWriter } from "../../src/plugin/mod.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Returns why `text` is not valid YAML, or undefined when every document in it parses.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { yamlProblem } from "./mod.ts";
 * assert(yamlProblem("a: 1\n---\nb: 2\n") === undefined);
 * assert(yamlProblem("a: 1\na: 2\n")?.includes("line 2, column 1"));
 * ```
 */
export function yamlProblem(text: string): string | undefined {
  // Without pretty errors the parser does not quote the source line into the message.
  const docs = parseAllDocuments(text, { prettyErrors: false });
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error !== undefined) {
      const { line, column } = lineColumn(text, error.pos[0]);
      return `not valid YAML at line ${line}, column ${column}: ${describe(error.code)}`;
    }
  }
  for (const doc of docs) {
    try {
      // Resolves aliases (and bounds their expansion), which parsing alone does not check.
      doc.toJS();
    } catch (e) {
      // The message names the alias, which is text of the value: report where it is instead.
      let at: number | undefined;
      visit(doc, {
        Alias(_, node) {
          if (at === undefined && isAlias(node) && node.resolve(doc) === undefined) {
            at = node.range?.[0];
          }
        },
      });
      const why = e instanceof Error && e.message.startsWith("Excessive alias count")
        ? "aliases expand to too much data"
        : "an alias refers to an anchor that is not defined before it";
      if (at === undefined) return `not valid YAML: ${why}`;
      const { line, column } = lineColumn(text, at);
      return `not valid YAML at line ${line}, column ${column}: ${why}`;
    }
  }
  return undefined;
}

/** Fixed descriptions of the parser's error codes (its messages may quote the content). */
const DESCRIPTIONS: Readonly<Record<string, string>> = {
  ALIAS_PROPS: "an alias cannot have a tag or anchor",
  BAD_ALIAS: "an alias is not valid here",
  BAD_DIRECTIVE: "a directive is not valid",
  BAD_DQ_ESCAPE: "a double-quoted string has an invalid escape",
  BAD_INDENT: "indentation is wrong",
  BAD_PROP_ORDER: "anchor and tag are in the wrong order",
  BAD_SCALAR_START: "a plain value starts with a reserved character",
  BLOCK_AS_IMPLICIT_KEY: "nested mappings are not allowed in compact mappings",
  BLOCK_IN_FLOW: "a block collection cannot be inside a flow collection",
  DUPLICATE_KEY: "map keys must be unique",
  KEY_OVER_1024_CHARS: "an implicit key is longer than 1024 characters",
  MISSING_CHAR: "a closing quote or bracket is missing",
  MULTILINE_IMPLICIT_KEY: "implicit keys must be on a single line",
  MULTIPLE_ANCHORS: "a node has more than one anchor",
  MULTIPLE_TAGS: "a node has more than one tag",
  NON_STRING_KEY: "a key is not a string",
  TAB_AS_INDENT: "tabs are not allowed as indentation",
  TAG_RESOLVE_FAILED: "a tag cannot be resolved",
  UNEXPECTED_TOKEN: "unexpected token",
  BAD_COLLECTION_TYPE: "a collection has the wrong type for its tag",
};

function describe(code: string): string {
  return DESCRIPTIONS[code] ?? code.toLowerCase().replaceAll("_", " ");
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

/**
 * The `yaml-file` writer definition.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import yamlFile from "./mod.ts";
 * import { changeSetOf, runWriter, tempSink } from "../../src/testing/mod.ts";
 * await using tmp = await tempSink();
 * const run = await runWriter(yamlFile, { keys: ["*.rules"] }, changeSetOf([
 *   { name: "prom", data: { "alerts.rules": "groups: []\n" }, dir: tmp.dir },
 * ]), tmp);
 * assert(run.result.written.length === 1);
 * ```
 */
const yamlFile: ReturnType<typeof defineKeyWriter> = defineKeyWriter({
  name: "yaml-file",
  version: "1.0.0",
  defaultKeys: ["*.yaml", "*.yml"],
  fileContent(_key, bytes) {
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      return { refuse: "not valid YAML: not UTF-8 text" };
    }
    const problem = yamlProblem(text);
    return problem === undefined ? bytes : { refuse: problem };
  },
});
export default yamlFile;
