/**
 * The file operations of the file store: atomic replacement, reading without following a planted
 * symlink, resolving paths whose tail does not exist yet, and a cheap signature to tell whether a
 * file changed since it was written.
 *
 * They use Deno's synchronous calls behind async signatures: a change set writes hundreds of small
 * files, and each asynchronous call costs a hop to the blocking thread pool (about 30 µs, more than
 * the system call itself on a quiet disk) and keeps extra threads, and their memory, alive. The
 * event loop turns between change sets.
 *
 * @module
 */
import { basename, dirname, join } from "../util/posix_path.ts";
import { Hash64 } from "../util/hash64.ts";

/**
 * Name prefix of temporary files (written next to their target, then renamed over it). Paths
 * whose base name starts with it are refused, and leftovers of a crash are removed on open.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TEMP_PREFIX } from "./fs_ops.ts";
 * assert(TEMP_PREFIX.startsWith("."));
 * ```
 */
export const TEMP_PREFIX = ".k8s-gsidecar-tmp-";

/**
 * What `lstat` says about a file (size, modification time, inode); equal signatures mean the file
 * was not replaced or edited. A string: the store keeps one per file, and an object of three
 * numbers cost twice as much heap (BENCHMARKS.md, "Memory").
 */
export type StatSignature = `${number}:${number}:${string}`;

/**
 * The signature of what `lstat` (or `stat`) returned.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signatureOf } from "./fs_ops.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.json`, "{}");
 * assert.match(signatureOf(await Deno.lstat(`${dir}/a.json`)), /^2:\d+:\d+$/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function signatureOf(info: Deno.FileInfo): StatSignature {
  // join() makes one flat string; a template literal would keep a rope of five.
  return [info.size, info.mtime?.getTime() ?? 0, info.ino].join(":") as StatSignature;
}

/**
 * The hash the file store records for a file's content: 16 hex digits of {@linkcode Hash64}.
 *
 * It answers "is this still the content k8s-gsidecar wrote?", which an accidental collision
 * (one in 2⁶⁴) could get wrong; anyone who could craft one can write the folder anyway. Computed
 * in JavaScript, synchronously, because a change set hashes every file it writes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { contentHash } from "./fs_ops.ts";
 * assert.match(contentHash(new TextEncoder().encode("{}")), /^[0-9a-f]{16}$/);
 * ```
 */
export function contentHash(content: Uint8Array): string {
  return new Hash64().bytes(content).hex();
}

/**
 * True for a hash of a record written before {@linkcode contentHash} (a SHA-256 digest, 64 hex
 * digits): the file store compares it with {@linkcode sha256Hex} once, when it opens the record.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isLegacyHash } from "./fs_ops.ts";
 * assert(isLegacyHash("e3b0c442".repeat(8)) && !isLegacyHash("e3b0c442".repeat(2)));
 * ```
 */
export function isLegacyHash(hash: string): boolean {
  return hash.length === 64;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * SHA-256 of `content`, hex, through WebCrypto (asynchronous; no Node compatibility needed). For
 * the few places that need a stable digest, not for each file of a change set.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sha256Hex } from "./fs_ops.ts";
 * assert((await sha256Hex(new Uint8Array())).startsWith("e3b0c442"));
 * ```
 */
export async function sha256Hex(content: Uint8Array<ArrayBuffer>): Promise<string> {
  let hex = "";
  for (const byte of new Uint8Array(await crypto.subtle.digest("SHA-256", content))) {
    hex += HEX[byte];
  }
  return hex;
}

/**
 * Random hex for temp names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { randomHex } from "./fs_ops.ts";
 * assert(randomHex().length === 16);
 * ```
 */
export function randomHex(): string {
  // One call of the random source per 512 names: a change set names a temp file per file.
  if (randomAt >= randomPool.length) {
    crypto.getRandomValues(randomPool);
    randomAt = 0;
  }
  let hex = "";
  for (const end = randomAt + 8; randomAt < end; randomAt++) hex += HEX[randomPool[randomAt]!];
  return hex;
}

const randomPool = new Uint8Array(4096);
let randomAt = randomPool.length;

/**
 * The signature of the file at `path` (not following a symlink there); `undefined` when nothing
 * is there, `"other"` when it is not a regular file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { statSignature } from "./fs_ops.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.json`, "{}");
 * const sig = await statSignature(`${dir}/a.json`);
 * assert.match(sig ?? "", /^2:/);
 * assert.equal(await statSignature(dir), "other");
 * assert.equal(await statSignature(`${dir}/missing.json`), undefined);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function statSignature(path: string): Promise<StatSignature | "other" | undefined> {
  await undefined;
  try {
    const info = Deno.lstatSync(path);
    if (!info.isFile) return "other";
    return signatureOf(info);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw e;
  }
}

/**
 * True when both signatures are known and equal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sameSignature } from "./fs_ops.ts";
 * assert(sameSignature("1:2:3", "1:2:3") && !sameSignature("1:2:3", "2:2:3"));
 * assert(!sameSignature("other", "other") && !sameSignature(undefined, undefined));
 * ```
 */
export function sameSignature(
  a: StatSignature | "other" | undefined,
  b: StatSignature | "other" | undefined,
): boolean {
  return a !== undefined && a !== "other" && a === b;
}

/**
 * The content of a regular file (not following a symlink at `path`), or undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readRegularFile } from "./fs_ops.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.json`, "{}");
 * await Deno.symlink(`${dir}/a.json`, `${dir}/link.json`);
 * assert.equal(new TextDecoder().decode(await readRegularFile(`${dir}/a.json`)), "{}");
 * assert.equal(await readRegularFile(`${dir}/link.json`), undefined);
 * assert.equal(await readRegularFile(`${dir}/missing.json`), undefined);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readRegularFile(path: string): Promise<Uint8Array | undefined> {
  await undefined;
  try {
    const info = Deno.lstatSync(path);
    if (!info.isFile) return undefined;
    return Deno.readFileSync(path);
  } catch {
    return undefined;
  }
}

/**
 * The real path of `path`'s deepest existing ancestor, with the missing rest appended.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { realPathOfMaybeMissing } from "./fs_ops.ts";
 * const dir = await Deno.realPath(await Deno.makeTempDir());
 * await Deno.mkdir(`${dir}/real`);
 * await Deno.symlink(`${dir}/real`, `${dir}/link`);
 * assert.equal(await realPathOfMaybeMissing(`${dir}/link/new/dir`), `${dir}/real/new/dir`);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function realPathOfMaybeMissing(path: string): Promise<string> {
  await undefined;
  const rest: string[] = [];
  let current = path;
  for (;;) {
    try {
      return join(Deno.realPathSync(current), ...rest.reverse());
    } catch (e) {
      const missing = e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory;
      const parent = dirname(current);
      if (!missing || parent === current) throw e;
      rest.push(basename(current));
      current = parent;
    }
  }
}

/**
 * Writes a temp file next to `path` and renames it over `path`, so a reader sees the old or the
 * new content, never a part; returns the new file's signature. `createNew` refuses to follow a
 * symlink planted at the temp name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sameSignature, statSignature, writeAtomic } from "./fs_ops.ts";
 * const dir = await Deno.makeTempDir();
 * const sig = await writeAtomic(`${dir}/sub/a.json`, new TextEncoder().encode("{}"), 0o664);
 * assert.equal(await Deno.readTextFile(`${dir}/sub/a.json`), "{}");
 * assert.equal((await Deno.stat(`${dir}/sub/a.json`)).mode! & 0o777, 0o664);
 * assert.ok(sameSignature(sig, await statSignature(`${dir}/sub/a.json`)));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeAtomic(
  path: string,
  content: Uint8Array,
  mode: number | undefined,
): Promise<StatSignature> {
  await undefined;
  try {
    return replaceSync(path, content, mode, false);
  } catch (e) {
    // The directory may have gone since it was made (or never existed): make it and try once more.
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    return replaceSync(path, content, mode, true);
  }
}

function replaceSync(
  path: string,
  content: Uint8Array,
  mode: number | undefined,
  makeDir: boolean,
): StatSignature {
  const dir = dirname(path);
  if (makeDir || !knownDirs.has(dir)) {
    Deno.mkdirSync(dir, { recursive: true });
    remember(dir);
  }
  const tmp = join(dir, TEMP_PREFIX + randomHex());
  try {
    Deno.writeFileSync(tmp, content, { createNew: true, ...(mode === undefined ? {} : { mode }) });
    // The mode given at creation is masked by the umask; an explicit mode must hold exactly.
    if (mode !== undefined) Deno.chmodSync(tmp, mode);
    const sig = signatureOf(Deno.lstatSync(tmp));
    Deno.renameSync(tmp, path);
    return sig;
  } catch (e) {
    knownDirs.delete(dir);
    try {
      Deno.removeSync(tmp);
    } catch {
      // nothing was created
    }
    throw e;
  }
}

/** Directories `writeAtomic` made or found (bounded): a `mkdir` per file is a system call saved. */
const knownDirs = new Set<string>();
const MAX_KNOWN_DIRS = 4096;

function remember(dir: string): void {
  if (knownDirs.size >= MAX_KNOWN_DIRS) knownDirs.clear();
  knownDirs.add(dir);
}

/**
 * Writes all of `bytes` to `file`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeAll } from "./fs_ops.ts";
 * const path = await Deno.makeTempFile();
 * {
 *   using file = await Deno.open(path, { append: true });
 *   await writeAll(file, new TextEncoder().encode("line\n"));
 * }
 * assert.equal(await Deno.readTextFile(path), "line\n");
 * await Deno.remove(path);
 * ```
 */
export async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
}
