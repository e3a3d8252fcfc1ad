/**
 * The owners' claims on one path. Nearly every path has exactly one owner, so a lone claim is
 * kept inline and a `Map` exists only while there are rivals: at 10,000 objects a `Map` per path
 * was about 4 MiB of the store's heap (BENCHMARKS.md, "Memory").
 *
 * @module
 */

/** Owner key → claim; the smallest key wins. */
export class Claims<C> {
  #owner: string | undefined;
  #claim: C | undefined;
  #rivals: Map<string, C> | undefined;

  /**
   * Claims holding `owner`'s alone.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Claims } from "./_claims.ts";
   * assert.equal(Claims.of("a", 1).get("a"), 1);
   * ```
   */
  static of<C>(owner: string, claim: C): Claims<C> {
    const claims = new Claims<C>();
    claims.set(owner, claim);
    return claims;
  }

  /** How many owners claim the path. */
  get size(): number {
    return this.#rivals?.size ?? (this.#owner === undefined ? 0 : 1);
  }

  /** `owner`'s claim. */
  get(owner: string): C | undefined {
    if (this.#rivals !== undefined) return this.#rivals.get(owner);
    return owner === this.#owner ? this.#claim : undefined;
  }

  /** Whether `owner` claims the path. */
  has(owner: string): boolean {
    return this.#rivals?.has(owner) ?? owner === this.#owner;
  }

  /**
   * Sets `owner`'s claim.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Claims } from "./_claims.ts";
   * const claims = Claims.of("b", 1);
   * claims.set("a", 2);
   * assert.equal(claims.winner(), "a");
   * claims.delete("a");
   * assert.deepEqual(claims.owners(), ["b"]);
   * ```
   */
  set(owner: string, claim: C): void {
    if (this.#rivals !== undefined) {
      this.#rivals.set(owner, claim);
    } else if (this.#owner === undefined || this.#owner === owner) {
      this.#owner = owner;
      this.#claim = claim;
    } else {
      this.#rivals = new Map([[this.#owner, this.#claim as C], [owner, claim]]);
      this.#owner = this.#claim = undefined;
    }
  }

  /** Drops `owner`'s claim. */
  delete(owner: string): void {
    if (this.#rivals === undefined) {
      if (owner === this.#owner) this.#owner = this.#claim = undefined;
      return;
    }
    this.#rivals.delete(owner);
    if (this.#rivals.size > 1) return;
    const [last] = this.#rivals;
    this.#rivals = undefined;
    if (last !== undefined) [this.#owner, this.#claim] = last;
  }

  /** Every owner, in no particular order (a copy). */
  owners(): string[] {
    if (this.#rivals !== undefined) return [...this.#rivals.keys()];
    return this.#owner === undefined ? [] : [this.#owner];
  }

  /** The owner whose claim wins: the smallest key. */
  winner(): string | undefined {
    if (this.#rivals === undefined) return this.#owner;
    let min: string | undefined;
    for (const key of this.#rivals.keys()) if (min === undefined || key < min) min = key;
    return min;
  }
}
