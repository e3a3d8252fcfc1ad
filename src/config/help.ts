/**
 * Documentation rendered from the variable declarations: `main.ts --help`, and the README's
 * configuration table (a test keeps the README equal to {@linkcode envTableRows}).
 *
 * @module
 */
import type { VarDecl } from "./declare.ts";
import { ALL_VARS } from "./vars.ts";

/**
 * The text `--help` prints: usage, then every variable with its default and meaning.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderHelp } from "./help.ts";
 * assert(renderHelp().includes("SLEEP_TIME=60"));
 * ```
 */
export function renderHelp(vars: readonly VarDecl<unknown>[] = ALL_VARS): string {
  const lines = [
    "k8s-gsidecar keeps a folder in step with labelled ConfigMaps and Secrets and tells the",
    "application when files changed.",
    "",
    "Usage: k8s-gsidecar [--config PATH] [--help]",
    "",
    "Settings come from environment variables (NAME=default; empty counts as unset):",
    "",
  ];
  for (const v of vars) {
    const head = v.required !== undefined
      ? `${v.name} (required)`
      : v.shown === ""
      ? `${v.name} (no default)`
      : `${v.name}=${v.shown}`;
    lines.push(`  ${head}`);
    lines.push(...wrap(plain(v.description), 6));
    if (v.compat !== undefined) lines.push(...wrap(`COMPAT=kiwigrid: ${v.compat}`, 6));
  }
  lines.push(
    "",
    "COMPAT=kiwigrid also: /healthz answers 503 until the initial sync is written; Secret files",
    "get the umask; kiwigrid's --req-username-file and --req-password-file are accepted.",
    "Exit codes: 0 done (METHOD=sleep) or stopped by SIGTERM/SIGINT, 1 failure, 2 bad configuration.",
  );
  return lines.join("\n") + "\n";
}

/**
 * The README configuration table's rows, one per variable: name, description, default (`—`
 * for none), as Markdown cells.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { envTableRows } from "./help.ts";
 * const method = envTableRows().find((r) => r[0] === "`METHOD`");
 * assert(method?.[2] === "`watch`");
 * ```
 */
export function envTableRows(vars: readonly VarDecl<unknown>[] = ALL_VARS): string[][] {
  return vars.map((v) => [
    `\`${v.name}\``,
    v.description.replaceAll("|", "\\|"),
    v.shown === "" ? "—" : `\`${v.shown}\``,
  ]);
}

/**
 * The README configuration table as Markdown.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderEnvTable } from "./help.ts";
 * assert(renderEnvTable().startsWith("| Variable | Meaning | Default |"));
 * ```
 */
export function renderEnvTable(vars: readonly VarDecl<unknown>[] = ALL_VARS): string {
  const rows = [["Variable", "Meaning", "Default"], ["---", "---", "---"], ...envTableRows(vars)];
  return rows.map((r) => `| ${r.join(" | ")} |`).join("\n") + "\n";
}

function plain(markdown: string): string {
  return markdown.replaceAll("`", "");
}

function wrap(text: string, indent: number, width = 100): string[] {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line !== "" && indent + line.length + 1 + word.length > width) {
      out.push(" ".repeat(indent) + line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") out.push(" ".repeat(indent) + line);
  return out;
}
