/**
 * `yaml-file`: writes keys ending in `.yaml` or `.yml` whose content parses as YAML. Multi-document
 * files (`---`) are fine; aliases must resolve. A key that does not parse is refused with the
 * first error (line, column and the parser's message, never the offending text, which may be a
 * Secret value), and its last good file stays.
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
import { parseAllDocuments } from "yaml";
import { defineKeyWriter } from "../../src/writers/key_writer.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Returns why `text` is not valid YAML, or undefined when every document in it parses.
 *
 * @example
 * ```ts
 * import { yamlProblem } from "./mod.ts";
 * console.assert(yamlProblem("a: 1\n---\nb: 2\n") === undefined);
 * console.assert(yamlProblem("a: 1\na: 2\n")?.includes("line 2, column 1"));
 * ```
 */
export function yamlProblem(text: string): string | undefined {
  // Without pretty errors the parser does not quote the source line into the message.
  const docs = parseAllDocuments(text, { prettyErrors: false });
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error !== undefined) {
      const { line, column } = lineColumn(text, error.pos[0]);
      return `not valid YAML at line ${line}, column ${column}: ${
        withoutQuotedToken(error.message)
      }`;
    }
  }
  for (const doc of docs) {
    try {
      // Resolves aliases (and bounds their expansion), which parsing alone does not check.
      doc.toJS();
    } catch (e) {
      return `not valid YAML: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
  return undefined;
}

/** Some messages end in the offending token (`…: "value"`); that may be a Secret value. */
function withoutQuotedToken(message: string): string {
  return message.replace(/:\s*".*"$/s, "");
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
 * ```ts ignore
 * import yamlFile from "./mod.ts";
 * const slot = await createWriter(yamlFile, { keys: ["*.yaml"] }, ctx);
 * ```
 */
const yamlFile: ReturnType<typeof defineKeyWriter> = defineKeyWriter({
  name: "yaml-file",
  version: "1.0.0",
  defaultKeys: ["*.yaml", "*.yml"],
  check(content) {
    let text: string;
    try {
      text = decoder.decode(content);
    } catch {
      return "not valid YAML: not UTF-8 text";
    }
    return yamlProblem(text);
  },
});
export default yamlFile;
