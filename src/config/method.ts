/**
 * `METHOD`, the one variable whose names mean opposite things here and in kiwigrid/k8s-sidecar:
 * its `LIST` syncs once and exits, its `SLEEP` relists every `SLEEP_TIME`; here `list` relists
 * and `sleep` syncs once (the seed's meanings). `COMPAT=kiwigrid` reads kiwigrid's names;
 * without it, `LIST` and `SLEEP` work as documented here and a warning says so.
 *
 * @module
 */
import { choice, Invalid } from "./parsers.ts";
import type { Method } from "./types.ts";

const METHODS: Readonly<Record<string, Method>> = {
  watch: "watch",
  list: "list",
  sleep: "sleep",
  once: "sleep",
  poll: "list",
};

/**
 * This project's `METHOD`: `watch`, `list`, `sleep` in any case, aliases `once` = sleep and
 * `poll` = list. `LIST` and `SLEEP` (any case) also warn, since kiwigrid users mean the reverse.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseMethod } from "./method.ts";
 * const warnings: string[] = [];
 * assert(parseMethod("LIST", (w) => warnings.push(w)) === "list");
 * assert(warnings.length === 1 && warnings[0]!.includes("COMPAT=kiwigrid"));
 * ```
 */
export function parseMethod(value: string, warn: (message: string) => void): Method {
  const method = choice(value, METHODS, "watch, list, sleep (aliases: once = sleep, poll = list)");
  const lower = value.toLowerCase();
  if (lower === "list") {
    warn(
      `METHOD=${value} relists every SLEEP_TIME seconds here and never exits; in kiwigrid/k8s-sidecar ` +
        "LIST syncs once and exits. Set COMPAT=kiwigrid for kiwigrid's meaning, or write METHOD=poll " +
        "to keep this one without this warning",
    );
  } else if (lower === "sleep") {
    warn(
      `METHOD=${value} syncs once, notifies and exits here; in kiwigrid/k8s-sidecar SLEEP relists ` +
        "every SLEEP_TIME seconds. Set COMPAT=kiwigrid for kiwigrid's meaning, or write METHOD=once " +
        "to keep this one without this warning",
    );
  }
  return method;
}

/**
 * kiwigrid's `METHOD`, compared as kiwigrid compares it (case-sensitively): `LIST` = one sync
 * then exit, `SLEEP` = relist every `SLEEP_TIME`, `WATCH` = watch. Another case of those words
 * watches, as kiwigrid does, with a warning; this project's `once` and `poll` keep their
 * meaning; anything else is refused (kiwigrid would silently watch).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseKiwigridMethod } from "./method.ts";
 * assert(parseKiwigridMethod("LIST", () => {}) === "sleep");
 * assert(parseKiwigridMethod("SLEEP", () => {}) === "list");
 * assert(parseKiwigridMethod("list", () => {}) === "watch");
 * ```
 */
export function parseKiwigridMethod(value: string, warn: (message: string) => void): Method {
  switch (value) {
    case "LIST":
      return "sleep";
    case "SLEEP":
      return "list";
    case "WATCH":
      return "watch";
  }
  const lower = value.toLowerCase();
  if (lower === "once" || lower === "poll") return METHODS[lower]!;
  if (lower === "list" || lower === "sleep" || lower === "watch") {
    if (lower !== "watch") {
      warn(
        `METHOD=${value} watches under COMPAT=kiwigrid, as in kiwigrid/k8s-sidecar, which compares ` +
          `METHOD case-sensitively: write ${value.toUpperCase()} for kiwigrid's ${
            lower === "list" ? "one sync then exit" : "relist every SLEEP_TIME"
          }`,
      );
    }
    return "watch";
  }
  throw new Invalid(
    "is not one of LIST (one sync, then exit), SLEEP (relist every SLEEP_TIME), WATCH " +
      "(COMPAT=kiwigrid reads kiwigrid's names; once and poll are accepted too)",
  );
}
