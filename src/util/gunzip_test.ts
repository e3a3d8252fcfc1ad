import assert from "node:assert/strict";
import { constants, crc32, deflateRawSync, gzipSync } from "node:zlib";
import { gunzip, GunzipError } from "./gunzip.ts";

const enc = new TextEncoder();
const MiB = 1 << 20;

/**
 * A gzip member that decompresses to `mib` MiB of zeros, built from one 1 MiB deflate segment
 * repeated (each ends byte-aligned with a full flush), so that the test never holds the output.
 */
function zeroBomb(mib: number): Uint8Array {
  const segment = deflateRawSync(new Uint8Array(MiB), { finishFlush: constants.Z_FULL_FLUSH });
  const zeros = new Uint8Array(MiB);
  let crc = 0;
  for (let i = 0; i < mib; i++) crc = crc32(zeros, crc);
  const header = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
  const out = new Uint8Array(header.length + segment.length * mib + 2 + 8);
  out.set(header, 0);
  let offset = header.length;
  for (let i = 0; i < mib; i++, offset += segment.length) out.set(segment, offset);
  // A final empty fixed-Huffman block ends the deflate stream.
  out.set([0x03, 0x00], offset);
  const trailer = new DataView(out.buffer, offset + 2, 8);
  trailer.setUint32(0, crc >>> 0, true);
  trailer.setUint32(4, (mib * MiB) >>> 0, true);
  return out;
}

Deno.test("gunzip() returns what gzip packed", async () => {
  const text = JSON.stringify({ panels: Array.from({ length: 5000 }, (_, i) => ({ id: i })) });
  const out = await gunzip(gzipSync(enc.encode(text)), 10 * MiB);
  assert.equal(new TextDecoder().decode(out), text);
  assert.deepEqual(await gunzip(gzipSync(new Uint8Array()), 0), new Uint8Array());
});

Deno.test("gunzip() accepts output of exactly maxBytes and refuses one byte more", async () => {
  const data = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 251);
  const packed = gzipSync(data);
  assert.deepEqual(await gunzip(packed, data.length), data);
  await assert.rejects(
    () => gunzip(packed, data.length - 1),
    (e: unknown) =>
      e instanceof GunzipError && e.reason === "too-large" &&
      e.message === `decompresses to more than ${data.length - 1} bytes`,
  );
});

Deno.test("gunzip() refuses a zip bomb without decompressing it", async () => {
  // 1 GiB of zeros in about 1 MiB. Decompressing all of it would raise the RSS by 1 GiB.
  const bomb = zeroBomb(1024);
  assert.ok(bomb.length < 2 * MiB);
  const before = Deno.memoryUsage().rss;
  const err = await gunzip(bomb, 8 * MiB).catch((e) => e);
  const grew = Deno.memoryUsage().rss - before;
  assert.ok(err instanceof GunzipError, String(err));
  assert.equal(err.message, `decompresses to more than ${8 * MiB} bytes`);
  assert.ok(grew < 256 * MiB, `RSS grew by ${Math.round(grew / MiB)} MiB`);
});

Deno.test("zeroBomb() builds valid gzip, so the bomb test fails only for the bound", async () => {
  // The bomb helper must produce valid gzip, or the test above would pass for the wrong reason.
  const small = zeroBomb(3);
  const out = await gunzip(small, 3 * MiB);
  assert.equal(out.length, 3 * MiB);
  assert.ok(out.every((b) => b === 0));
});

Deno.test("gunzip() says 'not valid gzip' for plain, truncated, damaged or trailing bytes", async () => {
  const secretText = "password=hunter2-very-secret";
  const packed = gzipSync(enc.encode(secretText.repeat(50)));
  const damaged = packed.slice();
  damaged[damaged.length - 6]! ^= 0xff;
  const cases: Record<string, Uint8Array> = {
    plain: enc.encode(secretText),
    empty: new Uint8Array(),
    truncated: packed.subarray(0, packed.length - 10),
    damaged,
    trailing: new Uint8Array([...packed, ...enc.encode(secretText)]),
  };
  for (const [name, input] of Object.entries(cases)) {
    const err = await gunzip(input, MiB).catch((e) => e);
    assert.ok(err instanceof GunzipError, `${name}: ${err}`);
    assert.equal(err.reason, "invalid", name);
    assert.match(err.message, /^not valid gzip/, name);
    assert.ok(!err.message.includes("hunter2"), `${name}: ${err.message}`);
  }
});

Deno.test("gunzip() refuses a bound that is not a whole number of bytes", async () => {
  await assert.rejects(() => gunzip(gzipSync(new Uint8Array(1)), -1), RangeError);
  await assert.rejects(() => gunzip(gzipSync(new Uint8Array(1)), 1.5), RangeError);
});
