/**
 * Owner key → the paths it claims. Nearly every owner (one writer's files of one object) has one
 * path, so a lone path is kept as a string and a `Set` exists only for more: at 10,000 objects a
 * `Set` per owner was about 4 MiB of the store's heap (BENCHMARKS.md, "Memory").
 *
 * @module
 */

/** Owner key → paths, a lone path inline. */
export class PathsByOwner {
  readonly #paths = new Map<string, string | Set<string>>();

  /**
   * Records that `owner` claims `path`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PathsByOwner } from "./_paths_by_owner.ts";
   * const index = new PathsByOwner();
   * index.add("o", "/f/b");
   * index.add("o", "/f/a");
   * index.delete("o", "/f/b");
   * assert.deepEqual(index.of("o"), ["/f/a"]);
   * index.delete("o", "/f/a");
   * assert.deepEqual([...index.owners()], []);
   * ```
   */
  add(owner: string, path: string): void {
    const now = this.#paths.get(owner);
    if (now === undefined || now === path) {
      this.#paths.set(owner, path);
    } else if (typeof now === "string") {
      this.#paths.set(owner, new Set([now, path]));
    } else {
      now.add(path);
    }
  }

  /** Records that `owner` no longer claims `path`. */
  delete(owner: string, path: string): void {
    const now = this.#paths.get(owner);
    if (now === path) {
      this.#paths.delete(owner);
    } else if (now instanceof Set) {
      now.delete(path);
      if (now.size === 1) this.#paths.set(owner, now.values().next().value!);
    }
  }

  /** The paths `owner` claims (a copy; empty for an unknown owner). */
  of(owner: string): string[] {
    const now = this.#paths.get(owner);
    if (now === undefined) return [];
    return typeof now === "string" ? [now] : [...now];
  }

  /** Every owner that claims at least one path. */
  owners(): IterableIterator<string> {
    return this.#paths.keys();
  }
}
