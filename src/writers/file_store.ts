/**
 * The one place that touches the target folder: atomic writes, removal of only what the sidecar
 * wrote, a crash-safe ownership record, deterministic conflict resolution and path confinement.
 *
 * Each writer instance gets a {@linkcode FileSink} from {@linkcode FileStore.scoped}; files are
 * owned per writer instance and object (see {@linkcode ownerKey}).
 *
 * The ownership record ({@linkcode RECORD_NAME} inside the folder) is an append-only journal of
 * JSON lines:
 *
 * ```text
 * {"op":"meta","version":1}
 * {"op":"claim","path":"/config/a.json","owner":"json-file#0|configmap/ns/dash","hash":"<sha256 hex>","mode":420}
 * {"op":"release","path":"/config/a.json"}
 * ```
 *
 * A `claim` says "the file at `path` was (or is about to be) written by `owner` with content of
 * this SHA-256"; the last line for a path wins, `release` forgets it. Claims are appended and
 * synced to disk before the file is written; releases after the file is removed. Either way a crash
 * can leave a recorded path whose file is missing or differs (repaired on the next sync), never a
 * sidecar-written file that is not recorded.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { type ObjectRef, refKey } from "../model.ts";
import type { DesiredFile, FileSink, SinkOutcome } from "../plugin/contract.ts";
import type { Logger } from "../plugin/logger.ts";

/**
 * File name of the ownership record inside the target folder. A dotfile without a `.json`/`.yaml`
 * extension, so applications that load `*.json` or `*.yaml` from the folder never pick it up.
 *
 * @example
 * ```ts
 * import { RECORD_NAME } from "./file_store.ts";
 * console.assert(RECORD_NAME.startsWith("."));
 * ```
 */
export const RECORD_NAME = ".k8s-gsidecar-owned";

/**
 * Name prefix of temporary files (written next to their target, then renamed over it). Paths
 * whose base name starts with it are refused, and leftovers of a crash are removed on open.
 *
 * @example
 * ```ts
 * import { TEMP_PREFIX } from "./file_store.ts";
 * console.assert(TEMP_PREFIX.startsWith("."));
 * ```
 */
export const TEMP_PREFIX = ".k8s-gsidecar-tmp-";

/**
 * Options of {@linkcode FileStore.open}.
 *
 * @example
 * ```ts
 * import type { FileStoreOptions } from "./file_store.ts";
 * // `logger` comes from the core; the rest is the deployment's choice.
 * const opts: Omit<FileStoreOptions, "logger"> = { folder: "/config", allowedRoots: ["/etc/app"] };
 * console.assert(opts.allowedRoots?.length === 1);
 * ```
 */
export interface FileStoreOptions {
  /** Absolute target folder; created if missing. */
  folder: string;
  /** Extra absolute roots files may be written under, besides `folder`. */
  allowedRoots?: string[] | undefined;
  logger: Logger;
}

/**
 * The owner of a set of files: one writer instance and one object,
 * `${instance}|${refKey(ref)}`. Conflicts are won by the owner key that sorts first.
 *
 * @example
 * ```ts
 * import { ownerKey } from "./file_store.ts";
 * ownerKey("json-file#0", { kind: "configmap", namespace: "ns", name: "dash" });
 * // "json-file#0|configmap/ns/dash"
 * ```
 */
export function ownerKey(instance: string, ref: ObjectRef): string {
  return `${instance}|${refKey(ref)}`;
}

const RECORD_VERSION = 1;
/** Below this many journal lines compaction is not worth a rewrite. */
const COMPACT_MIN_LINES = 64;
/** Parallel file operations: enough to hide syscall latency, few enough to spare descriptors. */
const CONCURRENCY = 8;
const HASH_RE = /^[0-9a-f]{64}$/;

/** One owner's wish for a path. `content` is kept only while the owner loses a conflict. */
interface Claim {
  hash: string;
  mode: number | undefined;
  content: Uint8Array | undefined;
}

/** What the record says is on disk at a path. */
interface DiskState {
  owner: string;
  hash: string;
  mode: number | undefined;
}

interface Entry {
  /** Owner key → claim; the smallest key wins. */
  claims: Map<string, Claim>;
  disk: DiskState | undefined;
  /** The file on disk is missing or differs from `disk.hash` (or a write failed): rewrite it. */
  stale: boolean;
}

type JournalLine =
  | { op: "meta"; version: number }
  | { op: "claim"; path: string; owner: string; hash: string; mode?: number }
  | { op: "release"; path: string };

interface WritePlan {
  path: string;
  entry: Entry;
  content: Uint8Array;
  mode: number | undefined;
}

/**
 * Owns the target folder. Open it once per process, hand {@linkcode FileStore.scoped} sinks to
 * writer instances, call {@linkcode FileStore.prune} after the initial sync and
 * {@linkcode FileStore.close} on shutdown. Calls are serialized internally, so several writers may
 * use their sinks concurrently.
 *
 * @example
 * ```ts
 * import { FileStore } from "./file_store.ts";
 * import type { Logger } from "../plugin/logger.ts";
 * const logger: Logger = {
 *   category: [],
 *   debug() {},
 *   info() {},
 *   warn() {},
 *   error() {},
 *   child() {
 *     return logger;
 *   },
 * };
 * const folder = await Deno.makeTempDir();
 * const store = await FileStore.open({ folder, logger });
 * const sink = store.scoped("txt-file#0");
 * const ref = { kind: "configmap" as const, namespace: "ns", name: "app" };
 * const out = await sink.sync(ref, [
 *   { path: `${folder}/hello.txt`, content: new TextEncoder().encode("hi\n") },
 * ]);
 * console.assert(out.written.length === 1);
 * await store.prune(new Set(["txt-file#0|configmap/ns/app"]));
 * await store.close();
 * await Deno.remove(folder, { recursive: true });
 * ```
 */
export class FileStore {
  readonly #folder: string;
  readonly #recordPath: string;
  /** Real paths of `folder` and the allowed roots. */
  readonly #roots: string[];
  readonly #logger: Logger;
  readonly #entries = new Map<string, Entry>();
  readonly #byOwner = new Map<string, Set<string>>();
  #journal: Deno.FsFile | undefined;
  #journalLines = 0;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(folder: string, roots: string[], logger: Logger) {
    this.#folder = folder;
    this.#recordPath = join(folder, RECORD_NAME);
    this.#roots = roots;
    this.#logger = logger;
  }

  /**
   * Creates the folder if missing, replays and compacts the ownership record, and checks every
   * recorded file against its hash so that missing or altered files are rewritten by the next sync.
   *
   * @example
   * ```ts ignore
   * const store = await FileStore.open({ folder: "/config", logger });
   * ```
   */
  static async open(opts: FileStoreOptions): Promise<FileStore> {
    if (!isAbsolute(opts.folder)) {
      throw new Error(`folder must be an absolute path: ${JSON.stringify(opts.folder)}`);
    }
    const folder = resolve(opts.folder);
    await Deno.mkdir(folder, { recursive: true });
    const roots = [await Deno.realPath(folder)];
    for (const root of opts.allowedRoots ?? []) {
      if (!isAbsolute(root)) {
        throw new Error(`allowed root must be an absolute path: ${JSON.stringify(root)}`);
      }
      roots.push(await realPathOfMaybeMissing(resolve(root)));
    }
    const store = new FileStore(folder, roots, opts.logger);
    await store.#load();
    return store;
  }

  /**
   * The {@linkcode FileSink} for one writer instance: it sees and removes only the files that
   * instance wrote.
   *
   * @example
   * ```ts ignore
   * const sink = store.scoped("json-file#0");
   * await sink.remove({ kind: "configmap", namespace: "ns", name: "dash" });
   * ```
   */
  scoped(instance: string): FileSink {
    return {
      sync: (ref, files, opts) => {
        const owner = ownerKey(instance, ref);
        return this.#serial(() => this.#sync(owner, files, opts?.keep ?? []));
      },
      remove: (ref) => {
        const owner = ownerKey(instance, ref);
        return this.#serial(() => this.#sync(owner, [], []));
      },
      owned: (ref) => [...(this.#byOwner.get(ownerKey(instance, ref)) ?? [])].sort(),
    };
  }

  /**
   * Owners (`instance|refKey`) that hold or claim files: those of the record (e.g. from a previous
   * run) and those that synced since.
   *
   * @example
   * ```ts ignore
   * const stale = [...store.owners()].filter((o) => !live.has(o));
   * ```
   */
  owners(): Set<string> {
    return new Set(this.#byOwner.keys());
  }

  /**
   * Removes every file of owners not in `live`: orphans of a previous run, or objects deleted while
   * the sidecar was away. Call it after the initial sync. Paths another owner still claims get that
   * owner's content instead of being removed.
   *
   * @example
   * ```ts ignore
   * const out = await store.prune(new Set(["json-file#0|configmap/ns/dash"]));
   * ```
   */
  prune(live: Set<string>): Promise<SinkOutcome> {
    return this.#serial(async () => {
      const touched = new Set<string>();
      for (const [owner, paths] of [...this.#byOwner]) {
        if (live.has(owner)) continue;
        for (const path of [...paths]) {
          this.#release(owner, path);
          touched.add(path);
        }
      }
      const outcome: SinkOutcome = { written: [], removed: [], warnings: [] };
      await this.#reconcile(touched, outcome);
      return outcome;
    });
  }

  /**
   * Waits for pending operations, syncs the record to disk and closes it. Later sink and prune
   * calls throw; closing again does nothing.
   *
   * @example
   * ```ts ignore
   * await store.close();
   * ```
   */
  close(): Promise<void> {
    const run = this.#tail.then(async () => {
      this.#closed = true;
      const journal = this.#journal;
      this.#journal = undefined;
      if (journal === undefined) return;
      try {
        await journal.syncData();
      } finally {
        journal.close();
      }
    });
    this.#tail = run.catch(() => {});
    return run;
  }

  // ---------------------------------------------------------------------------------------------

  /** Runs `fn` after every earlier call settled: state is shared across awaits. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(() => {
      if (this.#closed) throw new Error("FileStore is closed");
      return fn();
    });
    this.#tail = run.catch(() => {});
    return run;
  }

  async #sync(owner: string, files: DesiredFile[], keep: string[]): Promise<SinkOutcome> {
    const outcome: SinkOutcome = { written: [], removed: [], warnings: [] };
    // Validate everything first: a bad path fails the call before anything is written.
    const wanted = new Map<string, DesiredFile>();
    const dirCache = new Map<string, string>();
    for (const file of files) {
      const path = await this.#checkPath(file.path, dirCache);
      if (wanted.has(path)) {
        this.#warn(outcome, `${path} is listed twice by ${owner}; the last one is used`, {
          path,
          owner,
        });
      }
      wanted.set(path, file);
    }
    const kept = new Set(keep.filter((p) => isAbsolute(p)).map((p) => resolve(p)));

    const touched = new Set<string>();
    for (const [path, file] of wanted) {
      const hash = sha256(file.content);
      let entry = this.#entries.get(path);
      if (entry === undefined) {
        if (await exists(path)) {
          this.#warn(
            outcome,
            `not writing ${path} for ${owner}: the file exists and was not written by k8s-gsidecar`,
            { path, owner },
          );
          continue;
        }
        entry = { claims: new Map(), disk: undefined, stale: false };
        this.#entries.set(path, entry);
      } else if (!entry.claims.has(owner) && entry.claims.size > 0) {
        const rival = minKey(entry.claims);
        if (rival !== undefined) {
          const [winner, loser] = owner < rival ? [owner, rival] : [rival, owner];
          this.#warn(
            outcome,
            `conflict on ${path}: ${winner} wins over ${loser} (first owner key in sort order)`,
            { path, winner, loser },
          );
        }
      }
      entry.claims.set(owner, { hash, mode: file.mode, content: file.content });
      this.#ownerPaths(owner).add(path);
      touched.add(path);
    }
    for (const path of [...(this.#byOwner.get(owner) ?? [])]) {
      if (wanted.has(path) || kept.has(path)) continue;
      this.#release(owner, path);
      touched.add(path);
    }
    await this.#reconcile(touched, outcome);
    return outcome;
  }

  /** Brings the files at `touched` in line with their claims. */
  async #reconcile(touched: Set<string>, outcome: SinkOutcome): Promise<void> {
    const writes: WritePlan[] = [];
    const chmods: WritePlan[] = [];
    const removals: { path: string; entry: Entry; disk: DiskState }[] = [];
    const claimLines: JournalLine[] = [];

    for (const path of [...touched].sort()) {
      const entry = this.#entries.get(path);
      if (entry === undefined) continue;
      const winner = minKey(entry.claims);
      if (winner === undefined) {
        if (entry.disk !== undefined) removals.push({ path, entry, disk: entry.disk });
        else this.#entries.delete(path);
        continue;
      }
      const disk = entry.disk;
      if (disk !== undefined && disk.owner !== winner) {
        await this.#stashDisplaced(path, entry, disk, outcome);
      }
      const claim = entry.claims.get(winner);
      // Without content (a holder known only from the record) there is nothing to write.
      if (claim === undefined || claim.content === undefined) continue;
      const sameContent = disk !== undefined && disk.hash === claim.hash && !entry.stale;
      const sameMode = disk !== undefined && (claim.mode === undefined || claim.mode === disk.mode);
      const next: DiskState = {
        owner: winner,
        hash: claim.hash,
        mode: claim.mode ?? (sameContent ? disk?.mode : undefined),
      };
      const plan = { path, entry, content: claim.content, mode: claim.mode };
      if (!sameContent) writes.push(plan);
      else if (!sameMode) chmods.push(plan);
      else if (disk.owner === winner) continue;
      entry.disk = next;
      claimLines.push(claimLine(path, next));
    }

    if (claimLines.length > 0) {
      try {
        await this.#append(claimLines);
      } catch (e) {
        // Nothing was written or removed; make the next sync retry these paths.
        for (const plan of [...writes, ...chmods]) plan.entry.stale = true;
        for (const { path, entry, disk } of removals) this.#reclaim(path, entry, disk);
        throw e;
      }
    }

    await forEachLimit(writes, CONCURRENCY, async (plan) => {
      try {
        await writeAtomic(plan.path, plan.content, plan.mode);
        plan.entry.stale = false;
        outcome.written.push(plan.path);
      } catch (e) {
        plan.entry.stale = true;
        this.#fail(outcome, `could not write ${plan.path}`, plan.path, e);
      }
    });
    await forEachLimit(chmods, CONCURRENCY, async (plan) => {
      try {
        if (plan.mode !== undefined) await Deno.chmod(plan.path, plan.mode);
      } catch (e) {
        plan.entry.stale = true;
        this.#fail(outcome, `could not change the mode of ${plan.path}`, plan.path, e);
      }
    });
    for (const path of touched) {
      // The winner's content is on disk now; only losers need theirs in memory.
      const entry = this.#entries.get(path);
      if (entry === undefined || entry.stale) continue;
      const winner = minKey(entry.claims);
      const claim = winner === undefined ? undefined : entry.claims.get(winner);
      if (claim !== undefined) claim.content = undefined;
    }

    const releaseLines: JournalLine[] = [];
    await forEachLimit(removals, CONCURRENCY, async ({ path, entry, disk }) => {
      const result = await this.#removeOwned(path, outcome);
      if (result === "failed") {
        this.#reclaim(path, entry, disk);
        return;
      }
      if (result === "removed") outcome.removed.push(path);
      this.#entries.delete(path);
      releaseLines.push({ op: "release", path });
    });
    if (releaseLines.length > 0) await this.#append(releaseLines);

    outcome.written.sort();
    outcome.removed.sort();
    if (this.#journalLines > Math.max(4 * this.#entries.size, COMPACT_MIN_LINES)) {
      try {
        await this.#compact();
      } catch (e) {
        // The journal is still complete, only longer than needed: the files are what matter here.
        this.#logger.warn("could not compact the ownership record", {
          record: this.#recordPath,
          error: e instanceof Error ? e.message : String(e),
        });
      }
    }
  }

  /**
   * `disk.owner` still claims `path` but lost it to an owner that sorts first: keep its content in
   * memory (read back from disk, where it is verified by hash) so it returns if the winner leaves.
   */
  async #stashDisplaced(
    path: string,
    entry: Entry,
    disk: DiskState,
    outcome: SinkOutcome,
  ): Promise<void> {
    const claim = entry.claims.get(disk.owner);
    if (claim === undefined || claim.content !== undefined) return;
    const content = entry.stale ? undefined : await readRegularFile(path);
    if (content !== undefined && sha256(content) === disk.hash) {
      claim.content = content;
      return;
    }
    this.#release(disk.owner, path);
    this.#warn(
      outcome,
      `${disk.owner} lost ${path} and its content could not be read back; ` +
        `its next sync claims the path again`,
      { path, owner: disk.owner },
    );
  }

  async #removeOwned(
    path: string,
    outcome: SinkOutcome,
  ): Promise<"removed" | "missing" | "failed" | "outside"> {
    try {
      // The path was inside a root when written; a symlink swapped in since must not redirect us.
      await this.#checkPath(path, new Map());
    } catch (e) {
      this.#fail(outcome, `not removing ${path}; forgetting it`, path, e);
      return "outside";
    }
    try {
      const info = await Deno.lstat(path);
      if (info.isDirectory) {
        this.#warn(outcome, `not removing ${path}: it is a directory now; forgetting it`, {
          path,
        });
        return "outside";
      }
      await Deno.remove(path);
      return "removed";
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return "missing";
      this.#fail(outcome, `could not remove ${path}`, path, e);
      return "failed";
    }
  }

  /**
   * Normalizes `path` and checks that, with `..` and symlinks of its existing parents resolved, it
   * lies inside a root. Throws naming the path otherwise.
   */
  async #checkPath(path: string, dirCache: Map<string, string>): Promise<string> {
    if (typeof path !== "string" || !isAbsolute(path)) {
      throw new Error(`file path must be absolute: ${JSON.stringify(path)}`);
    }
    const normalized = resolve(path);
    const name = basename(normalized);
    if (name === RECORD_NAME) {
      throw new Error(`refusing to write ${path}: the name is reserved for the ownership record`);
    }
    if (name.startsWith(TEMP_PREFIX)) {
      throw new Error(`refusing to write ${path}: the name is reserved for temporary files`);
    }
    const dir = dirname(normalized);
    let realDir = dirCache.get(dir);
    if (realDir === undefined) {
      realDir = await realPathOfMaybeMissing(dir);
      dirCache.set(dir, realDir);
    }
    const real = join(realDir, name);
    if (!this.#roots.some((root) => isInside(root, real))) {
      throw new Error(
        `refusing to write ${path}: it resolves to ${real}, outside ${this.#roots.join(", ")}`,
      );
    }
    return normalized;
  }

  #ownerPaths(owner: string): Set<string> {
    let paths = this.#byOwner.get(owner);
    if (paths === undefined) {
      paths = new Set();
      this.#byOwner.set(owner, paths);
    }
    return paths;
  }

  /** A file that could not be removed is still on disk, so still ours: a later sync retries. */
  #reclaim(path: string, entry: Entry, disk: DiskState): void {
    entry.claims.set(disk.owner, { hash: disk.hash, mode: disk.mode, content: undefined });
    this.#ownerPaths(disk.owner).add(path);
  }

  #release(owner: string, path: string): void {
    this.#entries.get(path)?.claims.delete(owner);
    const paths = this.#byOwner.get(owner);
    if (paths === undefined) return;
    paths.delete(path);
    if (paths.size === 0) this.#byOwner.delete(owner);
  }

  #warn(outcome: SinkOutcome, message: string, fields: Record<string, unknown>): void {
    this.#logger.warn(message, fields);
    outcome.warnings.push(message);
  }

  #fail(outcome: SinkOutcome, message: string, path: string, error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error);
    this.#logger.error(message, { path, error: reason });
    outcome.warnings.push(`${message}: ${reason}`);
  }

  // --- the record ------------------------------------------------------------------------------

  async #load(): Promise<void> {
    let text = "";
    try {
      text = await Deno.readTextFile(this.#recordPath);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i]?.trim() ?? "";
      if (raw === "") continue;
      const line = parseLine(raw);
      if (line === undefined) {
        this.#logger.warn("skipping an unreadable line of the ownership record", {
          record: this.#recordPath,
          line: i + 1,
        });
        continue;
      }
      if (line.op === "claim") {
        const disk = { owner: line.owner, hash: line.hash, mode: line.mode };
        this.#entries.set(line.path, { claims: new Map(), disk, stale: false });
      } else if (line.op === "release") {
        this.#entries.delete(line.path);
      }
    }

    const dirCache = new Map<string, string>();
    for (const [path, entry] of [...this.#entries]) {
      const disk = entry.disk;
      if (disk === undefined) continue;
      try {
        await this.#checkPath(path, dirCache);
      } catch (e) {
        // Outside the roots now (configuration changed, or a tampered record): never touch it.
        this.#logger.warn("forgetting a recorded file outside the allowed folders", {
          path,
          owner: disk.owner,
          error: e instanceof Error ? e.message : String(e),
        });
        this.#entries.delete(path);
        continue;
      }
      entry.claims.set(disk.owner, { hash: disk.hash, mode: disk.mode, content: undefined });
      this.#ownerPaths(disk.owner).add(path);
    }

    await forEachLimit([...this.#entries], CONCURRENCY, async ([path, entry]) => {
      const content = await readRegularFile(path);
      if (content === undefined || sha256(content) !== entry.disk?.hash) {
        entry.stale = true;
        this.#logger.info("recorded file is missing or changed; the next sync rewrites it", {
          path,
        });
      }
    });

    await this.#removeStrayTempFiles();
    await this.#compact();
  }

  /** Temp files left by a crash between write and rename. */
  async #removeStrayTempFiles(): Promise<void> {
    const dirs = new Set([this.#folder, ...[...this.#entries.keys()].map((p) => dirname(p))]);
    for (const dir of dirs) {
      try {
        for await (const item of Deno.readDir(dir)) {
          if (item.isFile && item.name.startsWith(TEMP_PREFIX)) {
            await Deno.remove(join(dir, item.name)).catch(() => {});
          }
        }
      } catch {
        // A missing directory has no stray files.
      }
    }
  }

  /**
   * Rewrites the record with only the live entries: a temp file, synced, renamed over the record.
   * Its handle stays open as the new journal, so a failure anywhere leaves the old one in use.
   */
  async #compact(): Promise<void> {
    const lines: JournalLine[] = [{ op: "meta", version: RECORD_VERSION }];
    for (const path of [...this.#entries.keys()].sort()) {
      const disk = this.#entries.get(path)?.disk;
      if (disk !== undefined) lines.push(claimLine(path, disk));
    }
    const tmp = join(this.#folder, TEMP_PREFIX + randomHex());
    const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
    try {
      // Hashes of Secret values must not be readable by other users, whatever the umask.
      await Deno.chmod(tmp, 0o600);
      await writeAll(file, encodeLines(lines));
      await file.syncData();
      await Deno.rename(tmp, this.#recordPath);
    } catch (e) {
      file.close();
      await Deno.remove(tmp).catch(() => {});
      throw e;
    }
    this.#journal?.close();
    this.#journal = file;
    this.#journalLines = lines.length;
  }

  async #append(lines: JournalLine[]): Promise<void> {
    const journal = this.#journal;
    if (journal === undefined) throw new Error("FileStore is closed");
    await writeAll(journal, encodeLines(lines));
    await journal.syncData();
    this.#journalLines += lines.length;
  }
}

// --- helpers ---------------------------------------------------------------------------------

function claimLine(path: string, disk: DiskState): JournalLine {
  return disk.mode === undefined
    ? { op: "claim", path, owner: disk.owner, hash: disk.hash }
    : { op: "claim", path, owner: disk.owner, hash: disk.hash, mode: disk.mode };
}

function encodeLines(lines: JournalLine[]): Uint8Array {
  return new TextEncoder().encode(lines.map((l) => JSON.stringify(l) + "\n").join(""));
}

function parseLine(raw: string): JournalLine | undefined {
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
      if (
        !validPath || typeof v.owner !== "string" || v.owner === "" ||
        typeof v.hash !== "string" || !HASH_RE.test(v.hash) || !validMode
      ) {
        return undefined;
      }
      const line = { op: "claim" as const, path: v.path as string, owner: v.owner, hash: v.hash };
      return v.mode === undefined ? line : { ...line, mode: v.mode as number };
    }
    default:
      return undefined;
  }
}

function sha256(content: Uint8Array): string {
  return createHash("sha256").update(content).digest("hex");
}

function randomHex(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function minKey(map: Map<string, unknown>): string | undefined {
  let min: string | undefined;
  for (const key of map.keys()) if (min === undefined || key < min) min = key;
  return min;
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== "" && rel !== ".." && !rel.startsWith("../") && !isAbsolute(rel);
}

/** The real path of `path`'s deepest existing ancestor, with the missing rest appended. */
async function realPathOfMaybeMissing(path: string): Promise<string> {
  const rest: string[] = [];
  let current = path;
  for (;;) {
    try {
      return join(await Deno.realPath(current), ...rest.reverse());
    } catch (e) {
      const missing = e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory;
      const parent = dirname(current);
      if (!missing || parent === current) throw e;
      rest.push(basename(current));
      current = parent;
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return false;
    throw e;
  }
}

/** The content of a regular file (not following a symlink at `path`), or undefined. */
async function readRegularFile(path: string): Promise<Uint8Array | undefined> {
  try {
    const info = await Deno.lstat(path);
    if (!info.isFile) return undefined;
    return await Deno.readFile(path);
  } catch {
    return undefined;
  }
}

/**
 * Writes a temp file next to `path` and renames it over `path`, so a reader sees the old or the
 * new content, never a part. `createNew` refuses to follow a symlink planted at the temp name.
 */
async function writeAtomic(
  path: string,
  content: Uint8Array,
  mode: number | undefined,
): Promise<void> {
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true });
  const tmp = join(dir, TEMP_PREFIX + randomHex());
  try {
    await Deno.writeFile(tmp, content, {
      createNew: true,
      ...(mode === undefined ? {} : { mode }),
    });
    // The mode given at creation is masked by the umask; an explicit mode must hold exactly.
    if (mode !== undefined) await Deno.chmod(tmp, mode);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
}

async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
