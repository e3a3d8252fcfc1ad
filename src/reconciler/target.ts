/**
 * Where an object's files go: `FOLDER`, or the folder its annotation names, which must stay
 * inside `FOLDER` or one of the allowed roots.
 *
 * @module
 */
import { isAbsolute, resolve } from "../util/posix_path.ts";
import { isWithin } from "../util/paths.ts";

/** Inputs of {@linkcode resolveTargetDir}. */
export interface TargetRules {
  folder: string;
  /** Absolute roots besides `folder` that absolute annotation values may point into. */
  roots: readonly string[];
}

/**
 * Resolves an annotation value to an absolute directory, or explains why it is refused.
 * Symlinks are checked again by the file sink when it writes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveTargetDir } from "./target.ts";
 * assert.deepEqual(resolveTargetDir({ folder: "/data", roots: [] }, "dashboards"), {
 *   dir: "/data/dashboards",
 * });
 * assert("error" in resolveTargetDir({ folder: "/data", roots: [] }, "../etc"));
 * ```
 */
export function resolveTargetDir(
  rules: TargetRules,
  annotation: string | undefined,
): { dir: string } | { error: string } {
  if (annotation === undefined || annotation.trim() === "") return { dir: rules.folder };
  const value = annotation.trim();
  if (value.includes("\0")) {
    return { error: `folder annotation ${JSON.stringify(value)} contains a NUL byte` };
  }
  const dir = resolve(rules.folder, value);
  if (isWithin(rules.folder, dir)) return { dir };
  if (isAbsolute(value) && rules.roots.some((root) => isWithin(root, dir))) return { dir };
  const allowed = [rules.folder, ...rules.roots].join(", ");
  return {
    error: `folder annotation ${
      JSON.stringify(value)
    } resolves to ${dir}, outside the allowed roots (${allowed})`,
  };
}
