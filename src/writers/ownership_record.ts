/**
 * The ownership record: which files the sidecar wrote, for which owner, with which content hash.
 * It survives restarts, so that files of objects deleted while the sidecar was away are removed,
 * and never anything else.
 *
 * An append-only journal of JSON lines, compacted at start and when it grows:
 *
 * ```text
 * {"op":"meta","version":1}
 * {"op":"claim","path":"/config/a.json","owner":"json-file#0|configmap/ns/dash","hash":"<16 hex>","mode":420,"prev":"<16 hex>"}
 * {"op":"release","path":"/config/a.json"}
 * ```
 *
 * A `claim` says "the file at `path` is (or is about to be) the one `owner` wrote, with content of
 * this hash"; `prev` is the hash it replaces, so that a crash between the claim and the rename
 * still recognises the old file as the sidecar's. The last line for a path wins; `release` forgets
 * it. Hashes are `contentHash()`'s; records written before it hold SHA-256 digests (64 hex), which
 * the file store checks once and rewrites when it opens the record. Claims are synced before the files are written; releases follow removals.
 *
 * Damaged lines (a crash mid-append, a disk error, an edit) are reported and skipped: the store
 * then adopts the files whose bytes equal what it would write, so a damaged record heals itself.
 *
 * @module
 */
import { dirname, isAbsolute, join, resolve } from "../util/posix_path.ts";
import type { Logger } from "../plugin/logger.ts";
import { randomHex, TEMP_PREFIX, writeAll } from "./fs_ops.ts";

function writeAllSync(file: Deno.FsFile, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) offset += file.writeSync(bytes.subarray(offset));
}

/**
 * File name of the ownership record (inside the target folder unless `STATE_DIR` is set). A
 * dotfile without a `.json`/`.yaml` extension, so applications that load `*.json` or `*.yaml` from
 * the folder never pick it up.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RECORD_NAME } from "./ownership_record.ts";
 * assert(RECORD_NAME.startsWith("."));
 * ```
 */
export const RECORD_NAME = ".k8s-gsidecar-owned";

const RECORD_VERSION = 1;
// contentHash(), or a SHA-256 digest in a record from before it.
const HASH_RE = /^(?:[0-9a-f]{16}|[0-9a-f]{64})$/;

/** What the record says about one path. */
export interface RecordedFile {
  owner: string;
  hash: string;
  mode?: number | undefined;
  /** Hash of the file this claim replaces, while the replacement may not have happened. */
  prev?: string | undefined;
}

/** One line of the journal. */
export type RecordLine =
  | { op: "meta"; version: number }
  | { op: "claim"; path: string; owner: string; hash: string; mode?: number; prev?: string }
  | { op: "release"; path: string };

/**
 * The claim line for `file` at `path`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { claimLine } from "./ownership_record.ts";
 * const hash = "0".repeat(64);
 * assert.deepEqual(claimLine("/c/a.json", { owner: "o", hash }), {
 *   op: "claim",
 *   path: "/c/a.json",
 *   owner: "o",
 *   hash,
 * });
 * ```
 */
export function claimLine(path: string, file: RecordedFile): RecordLine {
  const line: RecordLine = { op: "claim", path, owner: file.owner, hash: file.hash };
  if (file.mode !== undefined) line.mode = file.mode;
  if (file.prev !== undefined && file.prev !== file.hash) line.prev = file.prev;
  return line;
}

/**
 * Parses one journal line; `undefined` when it is damaged.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRecordLine } from "./ownership_record.ts";
 * assert(parseRecordLine('{"op":"release","path":"/c/a.json"}')?.op === "release");
 * assert(parseRecordLine('{"op":"claim","path":"/c/a') === undefined);
 * ```
 */
export function parseRecordLine(raw: string): RecordLine | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const validPath = typeof v.path === "string" && isAbsolute(v.path) && resolve(v.path) === v.path;
  switch (v.op) {
    case "meta":
      return typeof v.version === "number" ? { op: "meta", version: v.version } : undefined;
    case "release":
      return validPath ? { op: "release", path: v.path as string } : undefined;
    case "claim": {
      const validMode = v.mode === undefined ||
        (Number.isInteger(v.mode) && (v.mode as number) >= 0 && (v.mode as number) <= 0o7777);
      const validPrev = v.prev === undefined ||
        (typeof v.prev === "string" && HASH_RE.test(v.prev));
      if (
        !validPath || typeof v.owner !== "string" || v.owner === "" ||
        typeof v.hash !== "string" || !HASH_RE.test(v.hash) || !validMode || !validPrev
      ) {
        return undefined;
      }
      return claimLine(v.path as string, {
        owner: v.owner,
        hash: v.hash,
        mode: v.mode as number | undefined,
        prev: v.prev as string | undefined,
      });
    }
    default:
      return undefined;
  }
}

function encode(lines: readonly RecordLine[]): Uint8Array {
  return new TextEncoder().encode(lines.map((l) => JSON.stringify(l) + "\n").join(""));
}

/**
 * The record file: read once at start, then appended to and compacted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OwnershipRecord } from "./ownership_record.ts";
 * import type { Logger } from "../plugin/logger.ts";
 * const logger: Logger = {
 *   category: [],
 *   debug() {},
 *   info() {},
 *   warn() {},
 *   error() {},
 *   child: () => logger,
 * };
 * const dir = await Deno.makeTempDir();
 * const { record, files } = await OwnershipRecord.open(`${dir}/.k8s-gsidecar-owned`, logger);
 * assert.equal(files.size, 0);
 * await record.compact(files);
 * await record.append([{ op: "release", path: `${dir}/a.json` }], { sync: true });
 * await record.close();
 * assert((await Deno.stat(`${dir}/.k8s-gsidecar-owned`)).isFile);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class OwnershipRecord {
  readonly path: string;
  #file: Deno.FsFile | undefined;
  #lines = 0;
  /** An append failed part-way: the journal may end in a torn line, so rewrite it first. */
  #torn = false;
  /** Calls of `append` that synced to disk, for metrics. */
  syncs = 0;

  private constructor(path: string) {
    this.path = path;
  }

  /**
   * Reads the record at `path` (a missing one is empty) and returns what it says. A path that
   * exists but is not a regular file is an error naming it; damaged lines are logged and skipped.
   * The journal is not writable until {@linkcode OwnershipRecord.compact} has run once.
   */
  static async open(
    path: string,
    logger: Logger,
    readFrom: string = path,
  ): Promise<{ record: OwnershipRecord; files: Map<string, RecordedFile>; damaged: number }> {
    for (const p of new Set([path, readFrom])) {
      let info: Deno.FileInfo | undefined;
      try {
        info = await Deno.lstat(p);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
      if (info !== undefined && !info.isFile) {
        throw new Error(
          `the ownership record ${p} is not a regular file; move it away so the sidecar can ` +
            "recreate it (files whose content matches what the sidecar writes are adopted again)",
        );
      }
    }
    let text = "";
    try {
      text = await Deno.readTextFile(readFrom);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const files = new Map<string, RecordedFile>();
    let damaged = 0;
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i]?.trim() ?? "";
      if (raw === "") continue;
      const line = parseRecordLine(raw);
      if (line === undefined) {
        damaged++;
        logger.warn("skipping a damaged line of the ownership record", {
          record: readFrom,
          line: i + 1,
        });
        continue;
      }
      if (line.op === "claim") {
        files.set(line.path, {
          owner: line.owner,
          hash: line.hash,
          mode: line.mode,
          prev: line.prev,
        });
      } else if (line.op === "release") {
        files.delete(line.path);
      }
    }
    return { record: new OwnershipRecord(path), files, damaged };
  }

  /** Lines in the journal since the last compaction. */
  get lines(): number {
    return this.#lines;
  }

  /**
   * Appends `lines`; with `sync`, they are on disk when the promise settles. Synchronous inside:
   * one small write and one fdatasync per change set are not worth a hop to the thread pool.
   */
  append(lines: readonly RecordLine[], opts: { sync: boolean }): Promise<void> {
    try {
      this.#appendSync(lines, opts.sync);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #appendSync(lines: readonly RecordLine[], sync: boolean): void {
    const file = this.#file;
    if (file === undefined) throw new Error(`the ownership record ${this.path} is not open`);
    if (this.#torn) throw new Error(`the ownership record ${this.path} must be rewritten first`);
    try {
      writeAllSync(file, encode(lines));
      if (sync) {
        file.syncDataSync();
        this.syncs++;
      }
    } catch (e) {
      this.#torn = true;
      throw e;
    }
    this.#lines += lines.length;
  }

  /** True when the journal must be rewritten before the next append. */
  get torn(): boolean {
    return this.#torn;
  }

  /**
   * Rewrites the record with exactly `files`: a temp file beside it, synced, renamed over it. Its
   * handle stays open as the new journal, so a failure anywhere leaves the old one in use.
   */
  async compact(files: Iterable<[string, RecordedFile]>): Promise<void> {
    const lines: RecordLine[] = [{ op: "meta", version: RECORD_VERSION }];
    for (const [path, file] of [...files].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)) {
      lines.push(claimLine(path, file));
    }
    const tmp = join(dirname(this.path), TEMP_PREFIX + randomHex());
    const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
    try {
      // Hashes of Secret values must not be readable by other users, whatever the umask.
      await Deno.chmod(tmp, 0o600);
      await writeAll(file, encode(lines));
      await file.syncData();
      await Deno.rename(tmp, this.path);
    } catch (e) {
      file.close();
      await Deno.remove(tmp).catch(() => {});
      throw e;
    }
    this.#file?.close();
    this.#file = file;
    this.#lines = lines.length;
    this.#torn = false;
  }

  /** Syncs and closes the journal. */
  async close(): Promise<void> {
    const file = this.#file;
    this.#file = undefined;
    if (file === undefined) return;
    try {
      await file.syncData();
    } finally {
      file.close();
    }
  }
}
