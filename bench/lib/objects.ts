/**
 * The data every benchmark object holds, on its own so that the floor writer
 * ({@link ./write_floor.ts}) loads nothing else.
 *
 * @module
 */

/**
 * The `.json` key of object `i` at version `v`: about 4 KB of JSON whose `v` field tells versions
 * apart.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jsonPayload } from "./objects.ts";
 * assert(JSON.parse(jsonPayload(7, 2)).v === 2);
 * ```
 */
export function jsonPayload(i: number, v: number): string {
  const head = JSON.stringify({ i, v });
  // 4096 bytes in all: `{"i":…,"v":…,"pad":"xxx…"}`.
  return `${head.slice(0, -1)},"pad":"${"x".repeat(Math.max(0, 4096 - head.length - 9))}"}`;
}

/**
 * The data of object `i` at version `v`: `j-<i>.json` (4 KB) and `t-<i>.txt` (a short line).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { objectData } from "./objects.ts";
 * assert(Object.keys(objectData(3, 0)).join() === "j-3.json,t-3.txt");
 * ```
 */
export function objectData(i: number, v: number): Record<string, string> {
  return { [`j-${i}.json`]: jsonPayload(i, v), [`t-${i}.txt`]: `object ${i} version ${v}\n` };
}
