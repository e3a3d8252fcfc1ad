/**
 * UTF-8 encoding into shared chunks of 256 KiB instead of one buffer per value.
 *
 * Each `Uint8Array` of its own is a `malloc` of its size: a sync of thousands of objects leaves
 * glibc's heap full of small holes that glibc keeps after they are freed (BENCHMARKS.md,
 * "Memory"). A chunk this large is a mapping of its own (the shipped program runs with
 * `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=65536`), handed back to the system as soon as no
 * value in it is referenced any more. One slab per list page: its chunks live as long as the page.
 *
 * @module
 */

const CHUNK = 256 * 1024;
const encoder = new TextEncoder();

/** UTF-8 encoder that packs small values into shared chunks. */
export class ByteSlab {
  #chunk = new Uint8Array(0);
  #used = 0;

  /**
   * `value` as UTF-8: a view into the current chunk, or a buffer of its own when it is larger than
   * a quarter of a chunk.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteSlab } from "./_byte_slab.ts";
   * const slab = new ByteSlab();
   * const a = slab.encode("é!");
   * const b = slab.encode("b");
   * assert.deepEqual([...a], [0xc3, 0xa9, 0x21]);
   * assert.equal(a.buffer, b.buffer);
   * ```
   */
  encode(value: string): Uint8Array {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const most = value.length * 3;
    if (most > CHUNK / 4) return encoder.encode(value);
    if (this.#used + most > this.#chunk.length) {
      this.#chunk = new Uint8Array(CHUNK);
      this.#used = 0;
    }
    const { written } = encoder.encodeInto(value, this.#chunk.subarray(this.#used));
    const out = this.#chunk.subarray(this.#used, this.#used + written);
    this.#used += written;
    return out;
  }
}
