/**
 * Bounded gunzip: decompresses gzip bytes with a limit on the output, so that a small key holding
 * a zip bomb is refused after at most a few MiB of work instead of filling the memory.
 *
 * The input is fed to a `DecompressionStream` in small slices: each slice can expand to at most
 * about 1032 times its size (the DEFLATE limit), so the output is counted, and the bound enforced,
 * every few MiB at worst.
 *
 * @module
 */

/** Input slice fed at a time: bounds the output made between two checks to about 4 MiB. */
const SLICE = 4096;

/**
 * Why {@linkcode gunzip} refused its input. The message never quotes the input or the output,
 * which may be a Secret's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gunzip, GunzipError } from "./gunzip.ts";
 * const err = await gunzip(new TextEncoder().encode("plain"), 100).catch((e) => e);
 * assert(err instanceof GunzipError && err.reason === "invalid");
 * ```
 */
export class GunzipError extends Error {
  /** `invalid`: not gzip (or damaged); `too-large`: the output passes the bound. */
  readonly reason: "invalid" | "too-large";

  constructor(reason: "invalid" | "too-large", message: string) {
    super(message);
    this.name = "GunzipError";
    this.reason = reason;
  }
}

/**
 * Decompresses one gzip member (what `gzip` and every library write) into at most `maxBytes`
 * bytes. Throws a {@linkcode GunzipError} saying "not valid gzip" (bad header, damaged data, bad
 * checksum, trailing bytes, truncated input) or "decompresses to more than N bytes" as soon as the
 * output passes `maxBytes`, without decompressing the rest.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gunzip } from "./gunzip.ts";
 * const packed = await new Response(
 *   new Blob(["hello"]).stream().pipeThrough(new CompressionStream("gzip")),
 * ).bytes();
 * const text = new TextDecoder().decode(await gunzip(packed, 1024));
 * assert(text === "hello");
 * ```
 */
export async function gunzip(data: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new RangeError(`maxBytes must be a whole number of bytes, got ${maxBytes}`);
  }
  const stream = new DecompressionStream("gzip");
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  // Errors of the feeding side reappear on the reading side, which reports them.
  const feeding = (async () => {
    for (let i = 0; i < data.length; i += SLICE) {
      // A view of a SharedArrayBuffer would be refused by the stream like any bad input.
      await writer.write(data.subarray(i, i + SLICE) as Uint8Array<ArrayBuffer>);
    }
    await writer.close();
  })().catch(() => {});

  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        throw new GunzipError("too-large", `decompresses to more than ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  } catch (e) {
    await reader.cancel().catch(() => {});
    await writer.abort().catch(() => {});
    await feeding;
    if (e instanceof GunzipError) throw e;
    throw new GunzipError("invalid", `not valid gzip${detail(e)}`);
  }
  await feeding;
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/**
 * The decompressor's own reason ("invalid gzip header", "corrupt gzip stream…"), kept only when it
 * is plain words: it comes from the runtime, but nothing of the input may slip into a message.
 */
function detail(e: unknown): string {
  const message = e instanceof Error ? e.message : "";
  return /^[A-Za-z ,]{1,80}$/.test(message) ? ` (${message})` : "";
}
