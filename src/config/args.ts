/**
 * The command line. Settings come from the environment; the command line takes only `--help`,
 * `--config PATH` and, under `COMPAT=kiwigrid`, kiwigrid's own flags (`--req-username-file`,
 * `--req-password-file`, with argparse's `--flag=value` form and unambiguous abbreviations).
 * Anything else is an error: an argument silently ignored is a setting silently lost.
 *
 * @module
 */

/** What {@linkcode parseArgs} understood. */
export interface ParsedArgs {
  /** `--help` or `-h`: print the variables and exit 0. */
  help: boolean;
  /** `--config`'s value (the last one wins); `""` when the flag had none. */
  configPath?: string | undefined;
  /** Variables set by kiwigrid's flags (they win over the environment, as in kiwigrid). */
  env: Record<string, string>;
  errors: string[];
}

/** kiwigrid's argparse flags and the variables they stand for. */
const KIWIGRID_FLAGS: Readonly<Record<string, string>> = {
  "--req-username-file": "REQ_USERNAME_FILE",
  "--req-password-file": "REQ_PASSWORD_FILE",
};

/**
 * Parses `args` (without the program name). `compat` is whether `COMPAT=kiwigrid` is set.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseArgs } from "./args.ts";
 * const a = parseArgs(["--req-username-file=/creds/user"], true);
 * assert(a.env.REQ_USERNAME_FILE === "/creds/user" && a.errors.length === 0);
 * assert(parseArgs(["--verbose"], false).errors.length === 1);
 * ```
 */
export function parseArgs(args: readonly string[], compat: boolean): ParsedArgs {
  const out: ParsedArgs = { help: false, env: {}, errors: [] };
  const flags = ["--help", "--config", ...(compat ? Object.keys(KIWIGRID_FLAGS) : [])];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      for (const rest of args.slice(i + 1)) out.errors.push(unexpected(rest));
      break;
    }
    if (arg === "-h") {
      out.help = true;
      continue;
    }
    if (!arg.startsWith("--")) {
      out.errors.push(unexpected(arg));
      continue;
    }
    const eq = arg.indexOf("=");
    const given = eq >= 0 ? arg.slice(0, eq) : arg;
    const inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
    // argparse accepts unambiguous prefixes of long flags; kiwigrid users may rely on that.
    const matches = flags.filter((f) => f === given || (compat && f.startsWith(given)));
    const flag = matches.includes(given) ? given : matches.length === 1 ? matches[0] : undefined;
    if (flag === undefined) {
      out.errors.push(
        matches.length > 1
          ? `command-line argument ${JSON.stringify(given)} is ambiguous: ${matches.join(", ")}`
          : unknown(given, compat),
      );
      continue;
    }
    if (flag === "--help") {
      if (inline !== undefined) out.errors.push("--help takes no value");
      out.help = true;
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = args[i + 1];
      if (next !== undefined && !next.startsWith("--")) {
        value = next;
        i++;
      }
    }
    if (flag === "--config") {
      // An empty path is reported by readConfigFile, which names the flag.
      out.configPath = value ?? "";
      continue;
    }
    const name = KIWIGRID_FLAGS[flag]!;
    if (value === undefined || value === "") {
      out.errors.push(`${flag} needs a value: the path of a file (like ${name})`);
    } else {
      out.env[name] = value;
    }
  }
  return out;
}

function unexpected(arg: string): string {
  return `unexpected command-line argument ${
    JSON.stringify(arg)
  }: settings come from environment variables (see --help)`;
}

function unknown(flag: string, compat: boolean): string {
  const variable = KIWIGRID_FLAGS[flag];
  if (variable !== undefined && !compat) {
    return `command-line argument ${flag} is kiwigrid/k8s-sidecar's: set ${variable} instead, ` +
      "or COMPAT=kiwigrid to accept kiwigrid's flags";
  }
  return `unknown command-line argument ${
    JSON.stringify(flag)
  }: this program takes --config PATH ` +
    `and --help${compat ? ", --req-username-file, --req-password-file" : ""}; ` +
    "settings come from environment variables (see --help)";
}
