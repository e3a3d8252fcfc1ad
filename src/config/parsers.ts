/**
 * Parsers for one environment value each: booleans, bounded numbers, enumerations, comma lists,
 * octal modes, Kubernetes names, hosts and origins. A parser returns the value or throws
 * {@linkcode Invalid}; the reader (`vars.ts`) puts the variable's name and value in front.
 *
 * @module
 */
import { isAbsolute, resolve } from "../util/posix_path.ts";

/**
 * A value a parser refuses. `problem` completes `NAME="value" …`; with `whole`, each of
 * `messages` is a complete message (used for list entries, which name the entry instead).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Invalid } from "./parsers.ts";
 * const e = new Invalid("is not a number");
 * assert(e.messages[0] === "is not a number" && !e.whole);
 * ```
 */
export class Invalid extends Error {
  override name = "Invalid";
  /** Problems: completions of `NAME="value"`, or whole messages with `whole`. */
  readonly messages: string[];
  /** Whether `messages` are complete messages. */
  readonly whole: boolean;

  /** One problem with the value, or several whole messages. */
  constructor(problem: string | string[], whole = false) {
    const messages = typeof problem === "string" ? [problem] : problem;
    super(messages.join("; "));
    this.messages = messages;
    this.whole = whole;
  }
}

/**
 * The largest delay `setTimeout` honours is 2^31-1 ms (24.8 days); longer ones fire at once.
 * Timers are bounded below that, to 24 days.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_TIMER_SECONDS } from "./parsers.ts";
 * assert(MAX_TIMER_SECONDS * 1000 < 2 ** 31);
 * ```
 */
export const MAX_TIMER_SECONDS = 24 * 24 * 3600;

const TRUE_WORDS = new Set(["true", "1", "yes", "on"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off"]);

/**
 * `true/false`, `1/0`, `yes/no`, `on/off`, any case.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bool } from "./parsers.ts";
 * assert(bool("Yes") === true && bool("off") === false);
 * ```
 */
export function bool(value: string): boolean {
  const lower = value.toLowerCase();
  if (TRUE_WORDS.has(lower)) return true;
  if (FALSE_WORDS.has(lower)) return false;
  throw new Invalid("is not a boolean (true/false, 1/0, yes/no, on/off)");
}

const DECIMAL = /^(\d+(\.\d*)?|\.\d+)$/;
const INTEGER = /^\d+$/;

/** Bounds of {@linkcode number}. */
export interface NumberRule {
  /** Whole numbers only. */
  integer?: boolean;
  /** Smallest value; 0 allowed only with `min: 0`. Default: greater than 0. */
  min?: number;
  /** Largest value. */
  max: number;
  /** Unit shown in messages, e.g. `s`. */
  unit?: string;
}

/**
 * A decimal number (no sign, exponent or unit) within `rule`'s bounds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { number } from "./parsers.ts";
 * assert(number("0.5", { max: 10 }) === 0.5);
 * assert(number("0", { integer: true, min: 0, max: 65535 }) === 0);
 * ```
 */
export function number(value: string, rule: NumberRule): number {
  const n = Number(value);
  const syntax = rule.integer ? INTEGER : DECIMAL;
  const unit = rule.unit ? ` ${rule.unit}` : "";
  const low = rule.min === undefined ? "above 0" : `from ${rule.min}`;
  const what = rule.integer ? "a whole number" : "a number (e.g. 5 or 0.5)";
  const range = `${low} up to ${rule.max}${unit}`;
  if (!syntax.test(value) || !Number.isFinite(n)) throw new Invalid(`is not ${what} ${range}`);
  if (rule.min === undefined ? n <= 0 : n < rule.min) throw new Invalid(`is not ${range}`);
  if (n > rule.max) {
    const why = rule.unit === "s" && rule.max === MAX_TIMER_SECONDS
      ? " (timers longer than 24 days cannot be kept)"
      : "";
    throw new Invalid(`is more than ${rule.max}${unit}${why}`);
  }
  return n;
}

/**
 * A case-insensitive choice from `table`; the message lists `accepted`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { choice } from "./parsers.ts";
 * assert(choice("JSON", { json: "json" }, "json") === "json");
 * ```
 */
export function choice<T>(value: string, table: Readonly<Record<string, T>>, accepted: string): T {
  const key = value.toLowerCase();
  const hit = Object.hasOwn(table, key) ? table[key] : undefined;
  if (hit === undefined) throw new Invalid(`is not one of ${accepted}`);
  return hit;
}

/**
 * A comma list: entries trimmed; an empty entry is an error (`a,,b`, `a,`), because it is
 * usually a template that rendered nothing. Each entry goes through `entry`, whose
 * {@linkcode Invalid} problems are reported per entry and all together.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { list } from "./parsers.ts";
 * assert(list("NAMESPACE", " a, b ", (e) => e).join() === "a,b");
 * ```
 */
export function list<T>(name: string, value: string, entry: (e: string) => T): T[] {
  const out: T[] = [];
  const problems: string[] = [];
  const parts = value.split(",").map((p) => p.trim());
  const empty = parts.flatMap((p, i) => p === "" ? [i + 1] : []);
  if (empty.length > 0) {
    const which = empty.length === 1 ? `entry ${empty[0]}` : `entries ${empty.join(", ")}`;
    problems.push(
      `${name}=${JSON.stringify(value)} has an empty entry (${which} of ${parts.length})`,
    );
  }
  parts.forEach((part) => {
    if (part === "") return;
    try {
      out.push(entry(part));
    } catch (e) {
      if (!(e instanceof Invalid)) throw e;
      for (const m of e.messages) {
        problems.push(e.whole ? m : `${name} entry ${JSON.stringify(part)} ${m}`);
      }
    }
  });
  if (problems.length > 0) throw new Invalid(problems, true);
  return out;
}

/**
 * An octal file mode up to `777` (`644`, `0644`, `0o644`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileMode } from "./parsers.ts";
 * assert(fileMode("0o640") === 0o640);
 * ```
 */
export function fileMode(value: string): number {
  const m = /^(?:0o)?([0-7]{1,4})$/i.exec(value);
  const mode = m?.[1] === undefined ? NaN : parseInt(m[1], 8);
  if (!(mode <= 0o777)) {
    throw new Invalid("is not an octal file mode up to 777 (e.g. 644, 0644 or 0o644)");
  }
  return mode;
}

/**
 * A path, made absolute against `cwd`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { path } from "./parsers.ts";
 * assert(path("out", () => "/work") === "/work/out");
 * ```
 */
export function path(value: string, cwd: () => string): string {
  return isAbsolute(value) ? resolve(value) : resolve(cwd(), value);
}

/**
 * An absolute path; relative ones are refused (`example` shows one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { absolutePath } from "./parsers.ts";
 * assert(absolutePath("/var/lib/x/", "/var/lib/rules") === "/var/lib/x");
 * ```
 */
export function absolutePath(value: string, example: string): string {
  if (!isAbsolute(value)) throw new Invalid(`is not an absolute path (e.g. ${example})`);
  return resolve(value);
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** What a namespace name may be. */
export const DNS_LABEL_RULE =
  "lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";
/** What an object name may be. */
export const DNS_SUBDOMAIN_RULE =
  "lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters";
/** What a label or annotation key may be. */
export const LABEL_KEY_RULE =
  "an optional DNS subdomain prefix and '/', then a name of at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
/** What a label value may be. */
export const LABEL_VALUE_RULE =
  "at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";

/**
 * Whether `key` is a valid label or annotation key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isLabelKey } from "./parsers.ts";
 * assert(isLabelKey("example.com/dash") && !isLabelKey("-x"));
 * ```
 */
export function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && !(prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix))) return false;
  return name.length <= 63 && QUALIFIED_NAME.test(name);
}

/**
 * Whether `value` is a valid label value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isLabelValue } from "./parsers.ts";
 * assert(isLabelValue("1") && !isLabelValue("a b"));
 * ```
 */
export function isLabelValue(value: string): boolean {
  return value.length <= 63 && QUALIFIED_NAME.test(value);
}

/**
 * Whether `name` is a valid namespace name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isNamespace } from "./parsers.ts";
 * assert(isNamespace("monitoring") && !isNamespace("Bad_NS"));
 * ```
 */
export function isNamespace(name: string): boolean {
  return name.length <= 63 && DNS_LABEL.test(name);
}

/**
 * Whether `name` is a valid ConfigMap or Secret name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isObjectName } from "./parsers.ts";
 * assert(isObjectName("grafana.dash-1") && !isObjectName("UPPER"));
 * ```
 */
export function isObjectName(name: string): boolean {
  return name.length <= 253 && DNS_SUBDOMAIN.test(name);
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$/;

/**
 * A host to listen on: an IPv4 or IPv6 address (brackets optional) or a host name. Returns it
 * without brackets.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listenHost } from "./parsers.ts";
 * assert(listenHost("[::1]") === "::1" && listenHost("0.0.0.0") === "0.0.0.0");
 * ```
 */
export function listenHost(value: string): string {
  const bare = value.startsWith("[") && value.endsWith("]") ? value.slice(1, -1) : value;
  if (IPV4.test(bare)) return bare;
  if (bare.includes(":")) {
    try {
      // The URL parser validates IPv6 literals (zones are not allowed in URLs: keep them out).
      new URL(`http://[${bare}]/`);
      return bare;
    } catch {
      throw new Invalid("is not a valid IPv6 address");
    }
  }
  // Digits and dots only: meant as an IPv4 address, not a host name.
  if (/^[\d.]+$/.test(bare)) throw new Invalid("is not a valid IPv4 address");
  if (HOSTNAME.test(bare)) return bare;
  throw new Invalid("is not an IP address or host name (e.g. 0.0.0.0, ::, 127.0.0.1 or localhost)");
}

/**
 * An http(s) origin (`https://host[:port]`, no path, query or credentials), as `URL.origin`
 * spells it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { origin } from "./parsers.ts";
 * assert(origin("HTTPS://Files.example.com:443/") === "https://files.example.com");
 * ```
 */
export function origin(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new Invalid("is not an origin (e.g. https://files.example.com or http://10.0.0.1:8080)");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new Invalid("is not an http:// or https:// origin");
  }
  if (u.username !== "" || u.password !== "") {
    throw new Invalid("has credentials in it: give only scheme, host and port");
  }
  if (u.pathname !== "/" || u.search !== "" || u.hash !== "") {
    throw new Invalid("has a path, query or fragment: give only scheme, host and port");
  }
  return u.origin;
}
