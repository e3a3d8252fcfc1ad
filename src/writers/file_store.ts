/**
 * The one place that touches the target folder: atomic writes, removal of only what the sidecar
 * wrote, a crash-safe ownership record (see `ownership_record.ts`), deterministic conflict
 * resolution, path confinement, and writes retried until the disk takes them.
 *
 * Each writer instance gets a {@linkcode FileSink} from {@linkcode FileStore.scoped}; files are
 * owned per writer instance and object (see {@linkcode ownerKey}).
 *
 * Rules that protect what the sidecar did not write:
 * - a file is overwritten or removed only while its bytes are what the sidecar last wrote there;
 *   a file changed by someone else is left alone, with a warning naming it, and forgotten;
 * - a path that holds a file the sidecar did not write is never written, unless that file already
 *   holds exactly the bytes the sidecar would write (then it is adopted: a lost or damaged record
 *   heals on the first sync).
 *
 * A write or removal that fails (disk full, read-only, permissions, I/O error) is retried with
 * capped backoff until it succeeds or the object changes; {@linkcode FileStore.problems} reports
 * paths that keep failing, and what a retry repairs is reported through
 * {@linkcode FileStore.onRepaired} so that the application is told.
 *
 * With {@linkcode FileStoreOptions.atomicSet}, each directory that holds managed files is one set,
 * published as the kubelet publishes a ConfigMap volume (see `atomic_set.ts`): the files live in a
 * version directory, the visible names are symlinks through `..data`, and every sink call switches
 * `..data` once per directory. The rules above hold for the visible names and the bytes behind
 * them; what differs:
 * - a set that cannot be published is retried whole (every path of the directory stays failing);
 * - a version file edited in place through its symlink is copied out to a regular file at the
 *   visible name before its version goes, and left alone from then on;
 * - on open, versions `..data` does not point to are removed, regular files the sidecar wrote
 *   become symlinks into a version (same bytes), and with `atomicSet` off a set directory becomes
 *   plain files again (same bytes, hard-linked), its `..data` and versions removed.
 *
 * @module
 */
import { basename, dirname, isAbsolute, join, relative, resolve } from "../util/posix_path.ts";
import { type ObjectRef, refKey } from "../model.ts";
import type {
  DesiredFile,
  FileSink,
  SinkBatchOutcome,
  SinkItem,
  SinkOutcome,
} from "../plugin/contract.ts";
import type { Logger } from "../plugin/logger.ts";
import { backoffDelay, type BackoffPolicy } from "../util/backoff.ts";
import { type Clock, systemClock, type Timer } from "../util/clock.ts";
import { errorMessage } from "../util/errors.ts";
import { forEachLimit } from "../util/parallel.ts";
import { family, type Metric } from "../util/metrics.ts";
import { isWithin } from "../util/paths.ts";
import { Claims } from "./_claims.ts";
import { PathsByOwner } from "./_paths_by_owner.ts";
import {
  currentVersion,
  detach,
  inspectVisible,
  publish,
  type PublishResult,
  sweepVersions,
  unpublish,
  type VersionFile,
  versionFiles,
} from "./atomic_set.ts";
import {
  contentHash,
  isLegacyHash,
  readRegularFile,
  realPathOfMaybeMissing,
  sameSignature,
  sha256Hex,
  type StatSignature,
  statSignature,
  TEMP_PREFIX,
  writeAtomic,
} from "./fs_ops.ts";
import {
  claimLine,
  OwnershipRecord,
  RECORD_NAME,
  type RecordedFile,
  type RecordLine,
} from "./ownership_record.ts";

export { RECORD_NAME } from "./ownership_record.ts";
export { TEMP_PREFIX } from "./fs_ops.ts";

/**
 * Options of {@linkcode FileStore.open}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FileStoreOptions } from "./file_store.ts";
 * // `logger` comes from the core; the rest is the deployment's choice.
 * const opts: Omit<FileStoreOptions, "logger"> = { folder: "/config", allowedRoots: ["/etc/app"] };
 * assert(opts.allowedRoots?.length === 1);
 * ```
 */
export interface FileStoreOptions {
  /** Absolute target folder; created if missing. */
  folder: string;
  /** Extra absolute roots files may be written under, besides `folder`. */
  allowedRoots?: string[] | undefined;
  /**
   * Directory for the ownership record (`STATE_DIR`), for applications that load every file of
   * the folder. Unset: the record lives in `folder`.
   */
  stateDir?: string | undefined;
  logger: Logger;
  clock?: Clock | undefined;
  /** Backoff of failed writes and removals; default 1 s doubling to 30 s. */
  retry?: BackoffPolicy | undefined;
  /** How long a path may keep failing before {@linkcode FileStore.problems} reports it. */
  failureGraceMs?: number | undefined;
  /**
   * `ATOMIC_SET`: publish each directory's files as one set through a `..data` symlink swapped
   * once per sink call. Switching it on or off converts existing folders on open.
   */
  atomicSet?: boolean | undefined;
}

/** Counters for metrics. */
export interface FileStoreStats {
  /** Write, chmod or removal attempts that failed. */
  failures: number;
  /** Retry rounds run. */
  retries: number;
  /** Journal appends synced to disk. */
  journalSyncs: number;
}

/**
 * The owner of a set of files: one writer instance and one object,
 * `${instance}|${refKey(ref)}`. Conflicts are won by the owner key that sorts first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ownerKey } from "./file_store.ts";
 * const ref = { kind: "configmap" as const, namespace: "ns", name: "dash" };
 * assert.equal(ownerKey("json-file#0", ref), "json-file#0|configmap/ns/dash");
 * ```
 */
export function ownerKey(instance: string, ref: ObjectRef): string {
  return `${instance}|${refKey(ref)}`;
}

/**
 * The writer instance and object of an owner key; `undefined` when it is not one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseOwnerKey } from "./file_store.ts";
 * assert.equal(parseOwnerKey("json-file#0|configmap/ns/dash")?.ref.name, "dash");
 * ```
 */
export function parseOwnerKey(owner: string): { instance: string; ref: ObjectRef } | undefined {
  const bar = owner.lastIndexOf("|");
  if (bar < 0) return undefined;
  const [kind, namespace, ...name] = owner.slice(bar + 1).split("/");
  if ((kind !== "configmap" && kind !== "secret") || namespace === undefined || !name.length) {
    return undefined;
  }
  return { instance: owner.slice(0, bar), ref: { kind, namespace, name: name.join("/") } };
}

/** Parallel file operations: enough to hide syscall latency, few enough to spare descriptors. */
const CONCURRENCY = 8;
/** New paths in one directory from which one directory read replaces an `lstat` per path. */
const LISTING_MIN = 32;
/** Below this many journal lines compaction is not worth a rewrite. */
const COMPACT_MIN_LINES = 64;
const DEFAULT_RETRY: BackoffPolicy = { baseMs: 1_000, maxMs: 30_000, jitter: 0.1 };
const DEFAULT_FAILURE_GRACE_MS = 60_000;

/** One owner's wish for a path. `content` is kept only until it is on disk (or while it loses a conflict). */
interface Claim {
  hash: string;
  mode: number | undefined;
  content: Uint8Array | undefined;
}

/** What the sidecar put at a path, as far as it knows. */
interface OnDisk extends RecordedFile {
  /** The file as `lstat` saw it after the sidecar wrote or checked it. */
  sig?: StatSignature | undefined;
}

interface Entry {
  /** Owner key → claim; the smallest key wins. */
  claims: Claims<Claim>;
  disk: OnDisk | undefined;
  /** The file is missing or still holds `disk.prev`: rewrite it even if the hash matches. */
  stale: boolean;
  /** The last attempt to bring this path in line failed. */
  failing?: { since: number; error: string } | undefined;
  /** Adopted, but not in the record yet. */
  unrecorded?: boolean | undefined;
}

interface WritePlan {
  path: string;
  entry: Entry;
  content: Uint8Array;
  mode: number | undefined;
}

interface RemovalPlan {
  path: string;
  entry: Entry;
}

/** What one whole-set publish changes in one directory. */
interface SetChanges {
  writes: WritePlan[];
  /** Mode changes: in a set they are rewrites, since versions share inodes. */
  chmods: WritePlan[];
  removals: RemovalPlan[];
}

/** What is at a visible path, in the folder's layout, and where its bytes are. */
type Look =
  | { kind: "missing" }
  | { kind: "file"; sig: StatSignature; physical: string; linked: boolean }
  | { kind: "other" };

const OTHER: Look = { kind: "other" };

/**
 * Owns the target folder. Open it once per process, hand {@linkcode FileStore.scoped} sinks to
 * writer instances, call {@linkcode FileStore.prune} after the initial sync and
 * {@linkcode FileStore.close} on shutdown. Calls are serialized internally, so several writers may
 * use their sinks concurrently.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
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
 * assert(out.written.length === 1);
 * await store.prune((owner) => owner !== "txt-file#0|configmap/ns/app");
 * await store.close();
 * await Deno.remove(folder, { recursive: true });
 * ```
 */
export class FileStore {
  readonly #folder: string;
  /** Real paths of `folder` and the allowed roots. */
  readonly #roots: string[];
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #retryPolicy: BackoffPolicy;
  readonly #graceMs: number;
  readonly #entries = new Map<string, Entry>();
  readonly #byOwner = new PathsByOwner();
  /** Paths whose last attempt failed: retried on a timer. */
  readonly #dirty = new Set<string>();
  #retryTimer: Timer | undefined;
  #retryAttempt = 0;
  #record!: OwnershipRecord;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;
  #onRepaired: ((outcome: SinkOutcome) => void)[] = [];
  readonly #atomic: boolean;
  /** Set mode: managed regular files at visible names, to move into their directory's set. */
  readonly #unconverted = new Set<string>();
  /** Set mode: directories whose previous version could not be removed. */
  readonly #strays = new Set<string>();
  /** Plain mode: directories already checked for a set left by `ATOMIC_SET`. */
  readonly #checkedDirs = new Set<string>();
  readonly stats: FileStoreStats = { failures: 0, retries: 0, journalSyncs: 0 };

  private constructor(folder: string, roots: string[], opts: FileStoreOptions) {
    this.#folder = folder;
    this.#roots = roots;
    this.#logger = opts.logger;
    this.#clock = opts.clock ?? systemClock;
    this.#retryPolicy = opts.retry ?? DEFAULT_RETRY;
    this.#graceMs = opts.failureGraceMs ?? DEFAULT_FAILURE_GRACE_MS;
    this.#atomic = opts.atomicSet ?? false;
  }

  /**
   * Creates the folder if missing, reads the ownership record, and checks every recorded file
   * against its hash: missing files are rewritten by the next sync, files someone else changed are
   * no longer managed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { FileStore } from "./file_store.ts";
   * import { recordingLogger } from "../testing/logger.ts";
   * const { logger, text } = recordingLogger();
   * const folder = await Deno.makeTempDir();
   * const ref = { kind: "configmap" as const, namespace: "ns", name: "app" };
   * const first = await FileStore.open({ folder, logger });
   * await first.scoped("txt-file#0").sync(ref, [
   *   { path: `${folder}/a.txt`, content: new TextEncoder().encode("a") },
   * ]);
   * await first.close();
   * await Deno.writeTextFile(`${folder}/a.txt`, "edited by hand");
   * const store = await FileStore.open({ folder, logger });
   * assert.deepEqual(store.scoped("txt-file#0").owned(ref), []); // no longer managed
   * assert.match(text(), /changed since k8s-gsidecar wrote it/);
   * await store.close();
   * await Deno.remove(folder, { recursive: true });
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
    const store = new FileStore(folder, roots, opts);
    await store.#load(opts.stateDir);
    return store;
  }

  /**
   * The {@linkcode FileSink} for one writer instance: it sees and removes only the files that
   * instance wrote.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { FileStore } from "./file_store.ts";
   * import { recordingLogger } from "../testing/logger.ts";
   * const folder = await Deno.makeTempDir();
   * const store = await FileStore.open({ folder, logger: recordingLogger().logger });
   * const ref = { kind: "configmap" as const, namespace: "ns", name: "dash" };
   * const bytes = new TextEncoder().encode("{}");
   * const json = store.scoped("json-file#0");
   * const raw = store.scoped("raw-file#0");
   * await json.sync(ref, [{ path: `${folder}/a.json`, content: bytes }]);
   * await raw.sync(ref, [{ path: `${folder}/b.json`, content: bytes }]);
   * const out = await json.remove(ref);
   * assert.deepEqual(out.removed, [`${folder}/a.json`]);
   * assert.deepEqual(raw.owned(ref), [`${folder}/b.json`]);
   * await store.close();
   * await Deno.remove(folder, { recursive: true });
   * ```
   */
  scoped(instance: string): FileSink {
    const batch = (items: SinkItem[]) => this.#serial(() => this.#syncAll(instance, items));
    const single = async (item: SinkItem) => {
      const out = await batch([item]);
      const refused = out.refused[0];
      if (refused) throw new Error(refused.reason);
      return { written: out.written, removed: out.removed, warnings: out.warnings };
    };
    return {
      sync: (ref, files, opts) => single({ ref, files, keep: opts?.keep }),
      remove: (ref) => single({ ref, files: [] }),
      syncAll: batch,
      owned: (ref) => this.#byOwner.of(ownerKey(instance, ref)).sort(),
    };
  }

  /**
   * Owners (`instance|refKey`) that hold or claim files: those of the record (e.g. from a previous
   * run) and those that synced since.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { FileStore, ownerKey } from "./file_store.ts";
   * import { recordingLogger } from "../testing/logger.ts";
   * const folder = await Deno.makeTempDir();
   * const store = await FileStore.open({ folder, logger: recordingLogger().logger });
   * const ref = { kind: "configmap" as const, namespace: "ns", name: "app" };
   * await store.scoped("txt-file#0").sync(ref, [
   *   { path: `${folder}/a.txt`, content: new TextEncoder().encode("a") },
   * ]);
   * assert.deepEqual([...store.owners()], [ownerKey("txt-file#0", ref)]);
   * await store.close();
   * await Deno.remove(folder, { recursive: true });
   * ```
   */
  owners(): Set<string> {
    return new Set(this.#byOwner.owners());
  }

  /**
   * Removes every file of the owners `select` picks: orphans of a previous run, or objects deleted
   * while the sidecar was away. Paths another owner still claims get that owner's content
   * instead of being removed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { FileStore, ownerKey } from "./file_store.ts";
   * import { recordingLogger } from "../testing/logger.ts";
   * const folder = await Deno.makeTempDir();
   * const store = await FileStore.open({ folder, logger: recordingLogger().logger });
   * const sink = store.scoped("txt-file#0");
   * const kept = { kind: "configmap" as const, namespace: "ns", name: "kept" };
   * const gone = { kind: "configmap" as const, namespace: "ns", name: "gone" };
   * const bytes = new TextEncoder().encode("x");
   * await sink.sync(kept, [{ path: `${folder}/kept.txt`, content: bytes }]);
   * await sink.sync(gone, [{ path: `${folder}/gone.txt`, content: bytes }]);
   * const live = new Set([ownerKey("txt-file#0", kept)]);
   * const out = await store.prune((owner) => !live.has(owner));
   * assert.deepEqual(out.removed, [`${folder}/gone.txt`]);
   * assert.deepEqual([...store.owners()], [...live]);
   * await store.close();
   * await Deno.remove(folder, { recursive: true });
   * ```
   */
  prune(select: (owner: string) => boolean): Promise<SinkOutcome> {
    return this.#serial(async () => {
      const touched = new Set<string>();
      for (const owner of [...this.#byOwner.owners()]) {
        if (!select(owner)) continue;
        for (const path of this.#byOwner.of(owner)) {
          this.#release(owner, path);
          touched.add(path);
        }
      }
      const outcome: SinkOutcome = { written: [], removed: [], warnings: [] };
      await this.#reconcile(touched, outcome);
      return outcome;
    });
  }

  /** Calls `fn` with what a retry repaired (files written or removed late). */
  onRepaired(fn: (outcome: SinkOutcome) => void): void {
    this.#onRepaired.push(fn);
  }

  /** Paths that have kept failing for longer than the grace period, with the last error. */
  problems(): string[] {
    const out: string[] = [];
    const now = this.#clock.now();
    for (const path of this.#dirty) {
      const failing = this.#entries.get(path)?.failing;
      if (failing && now - failing.since > this.#graceMs) {
        const secs = Math.round((now - failing.since) / 1000);
        out.push(`${path}: failing for ${secs}s: ${failing.error}`);
      }
    }
    return out;
  }

  /** What the file store counts. */
  metrics(): Metric[] {
    return [
      family(
        "gsidecar_write_failures_total",
        "File writes, mode changes and removals that failed (each is retried).",
        "counter",
        this.stats.failures,
      ),
      family(
        "gsidecar_write_retries_total",
        "Rounds of retrying failed writes and removals.",
        "counter",
        this.stats.retries,
      ),
      family(
        "gsidecar_failing_paths",
        "Paths whose last write or removal failed.",
        "gauge",
        this.failingPaths,
      ),
      family(
        "gsidecar_journal_syncs_total",
        "Syncs of the ownership record to disk.",
        "counter",
        this.stats.journalSyncs,
      ),
    ];
  }

  /** Number of paths whose last write or removal failed. */
  get failingPaths(): number {
    return this.#dirty.size;
  }

  /**
   * Waits for pending operations, syncs the record to disk and closes it. Later sink and prune
   * calls throw; closing again does nothing.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { FileStore } from "./file_store.ts";
   * import { recordingLogger } from "../testing/logger.ts";
   * const folder = await Deno.makeTempDir();
   * const store = await FileStore.open({ folder, logger: recordingLogger().logger });
   * await store.close();
   * await store.close(); // does nothing
   * await assert.rejects(store.prune(() => true), /FileStore is closed/);
   * await Deno.remove(folder, { recursive: true });
   * ```
   */
  close(): Promise<void> {
    const run = this.#tail.then(async () => {
      if (this.#closed) return;
      this.#closed = true;
      this.#retryTimer?.cancel();
      this.#retryTimer = undefined;
      this.stats.journalSyncs = this.#record.syncs;
      await this.#record.close();
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

  async #syncAll(instance: string, items: SinkItem[]): Promise<SinkBatchOutcome> {
    const outcome: SinkBatchOutcome = { written: [], removed: [], warnings: [], refused: [] };
    const touched = new Set<string>();
    const dirCache = new Map<string, string>();
    const accepted: { item: SinkItem; owner: string; wanted: Map<string, DesiredFile> }[] = [];
    for (const item of items) {
      const owner = ownerKey(instance, item.ref);
      // Validate every path of the object first: a bad path refuses the object, nothing else.
      const wanted = new Map<string, DesiredFile>();
      try {
        for (const file of item.files) {
          const path = await this.#checkPath(file.path, dirCache);
          if (wanted.has(path)) {
            this.#warn(outcome, `${path} is listed twice by ${owner}; the last one is used`, {
              path,
              owner,
            });
          }
          wanted.set(path, file);
        }
      } catch (e) {
        outcome.refused.push({ ref: item.ref, reason: errorMessage(e) });
        continue;
      }
      accepted.push({ item, owner, wanted });
    }
    const listings = this.#listingsForNewPaths(
      accepted.flatMap(({ wanted }) => [...wanted.keys()]),
    );
    for (const { item, owner, wanted } of accepted) {
      const kept = new Set((item.keep ?? []).filter((p) => isAbsolute(p)).map((p) => resolve(p)));
      for (const [path, file] of wanted) {
        const hash = contentHash(file.content);
        let entry = this.#entries.get(path);
        if (entry === undefined) {
          const absent = listings.get(dirname(path))?.has(basename(path)) === false;
          entry = await this.#newEntry(path, owner, hash, outcome, absent);
          if (entry === undefined) continue;
        } else if (!entry.claims.has(owner) && entry.claims.size > 0) {
          const rival = entry.claims.winner();
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
        this.#byOwner.add(owner, path);
        touched.add(path);
      }
      for (const path of this.#byOwner.of(owner)) {
        if (wanted.has(path) || kept.has(path)) continue;
        this.#release(owner, path);
        touched.add(path);
      }
    }
    await this.#reconcile(touched, outcome);
    return outcome;
  }

  /**
   * The names in each directory that holds at least {@linkcode LISTING_MIN} paths the store does
   * not know yet, and at least an eighth of what it holds (an initial sync): one directory read
   * answers for all of them, where an `lstat` per path would throw `NotFound` for each new file. A directory that cannot be read is left out
   * (its paths are looked at one by one); one that does not exist yet lists nothing.
   */
  #listingsForNewPaths(paths: string[]): Map<string, Set<string>> {
    const counts = new Map<string, number>();
    for (const path of paths) {
      if (this.#entries.has(path)) continue;
      const dir = dirname(path);
      counts.set(dir, (counts.get(dir) ?? 0) + 1);
    }
    const listings = new Map<string, Set<string>>();
    for (const [dir, count] of counts) {
      // Reading a name costs less than an eighth of a failed lstat (bench/unit_costs.ts): not worth
      // it for a few new paths in a directory of many (what the store holds bounds its size).
      if (count < LISTING_MIN || count * 8 < this.#entries.size) continue;
      try {
        const names = new Set<string>();
        for (const entry of Deno.readDirSync(dir)) names.add(entry.name);
        listings.set(dir, names);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) listings.set(dir, new Set());
      }
    }
    return listings;
  }

  /**
   * An entry for a path the sidecar does not know: none when a file the sidecar did not write is
   * there, unless that file already holds exactly these bytes (then it is adopted).
   */
  async #newEntry(
    path: string,
    owner: string,
    hash: string,
    outcome: SinkOutcome,
    absent = false,
  ): Promise<Entry | undefined> {
    // `absent`: the directory, read moments ago, had no such name.
    let look: Look = absent ? { kind: "missing" } : await this.#look(path);
    if (look.kind === "other" && this.#unpublishLeftover(dirname(path))) {
      look = await this.#look(path);
    }
    let disk: OnDisk | undefined;
    if (look.kind !== "missing") {
      const existing = look.kind === "file" ? await readRegularFile(look.physical) : undefined;
      if (look.kind !== "file" || existing === undefined || contentHash(existing) !== hash) {
        this.#warn(
          outcome,
          `not writing ${path} for ${owner}: the file exists and was not written by k8s-gsidecar`,
          { path, owner },
        );
        return undefined;
      }
      const mode = (await Deno.lstat(look.physical)).mode;
      disk = { owner, hash, mode: mode === null ? undefined : mode & 0o7777, sig: look.sig };
      if (this.#atomic && !look.linked) this.#unconverted.add(path);
      this.#logger.info("adopted a file that already holds what the sidecar writes", { path });
    }
    // Every field from the start: one added later costs each entry an out-of-object property array.
    const entry: Entry = {
      claims: new Claims(),
      disk,
      stale: false,
      failing: undefined,
      unrecorded: disk !== undefined,
    };
    this.#entries.set(path, entry);
    return entry;
  }

  /** Brings the files at `touched` in line with their claims. */
  async #reconcile(touched: Set<string>, outcome: SinkOutcome): Promise<void> {
    const writes: WritePlan[] = [];
    const chmods: WritePlan[] = [];
    const removals: { path: string; entry: Entry }[] = [];
    const claimLines: RecordLine[] = [];

    for (const path of [...touched].sort()) {
      const entry = this.#entries.get(path);
      if (entry === undefined) continue;
      const winner = entry.claims.winner();
      if (winner === undefined) {
        if (entry.disk !== undefined) removals.push({ path, entry });
        else this.#forget(path);
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
      if (sameContent && sameMode && disk.owner === winner) {
        claim.content = undefined;
        if (entry.unrecorded) {
          claimLines.push(claimLine(path, disk));
          entry.unrecorded = false;
        }
        this.#settled(path, entry);
        continue;
      }
      if (disk !== undefined && !(sameContent && sameMode) && !await this.#stillOurs(path, entry)) {
        this.#detachEdited(path);
        this.#disown(path, entry, outcome, "overwriting");
        continue;
      }
      // What the file holds now, if it is there: the old content until a failed write succeeds.
      const current = entry.stale ? disk?.prev : disk?.hash;
      const next: OnDisk = {
        owner: winner,
        hash: claim.hash,
        mode: claim.mode ?? (sameContent ? disk?.mode : undefined),
        // Until the rename, the old file is still there: recognise it after a crash.
        prev: sameContent ? undefined : current,
        sig: disk?.sig,
      };
      const plan = { path, entry, content: claim.content, mode: claim.mode };
      if (!sameContent) writes.push(plan);
      else if (!sameMode) chmods.push(plan);
      entry.disk = next;
      claimLines.push(claimLine(path, next));
    }

    try {
      if (claimLines.length > 0) await this.#appendSynced(claimLines);
    } catch (e) {
      // Nothing was written: keep the content and try again later.
      for (const plan of [...writes, ...chmods]) {
        plan.entry.stale = true;
        this.#failed(plan.path, plan.entry, outcome, "could not record", e);
      }
      writes.length = 0;
      chmods.length = 0;
      if (this.#atomic) {
        // A set goes out whole or not at all: its removals wait for its writes.
        for (const { path, entry } of removals) {
          this.#failed(path, entry, outcome, "could not record", e);
        }
        removals.length = 0;
      }
    }

    const releaseLines: RecordLine[] = [];
    if (this.#atomic) {
      await this.#publishSets(touched, { writes, chmods, removals }, outcome, releaseLines);
      writes.length = 0;
      chmods.length = 0;
      removals.length = 0;
    }
    await forEachLimit(writes, CONCURRENCY, async (plan) => {
      try {
        const sig = await writeAtomic(plan.path, plan.content, plan.mode);
        plan.entry.stale = false;
        if (plan.entry.disk) Object.assign(plan.entry.disk, { sig, prev: undefined });
        outcome.written.push(plan.path);
        this.#succeeded(plan.path, plan.entry);
      } catch (e) {
        plan.entry.stale = true;
        this.#failed(plan.path, plan.entry, outcome, "could not write", e);
      }
    });
    await forEachLimit(chmods, CONCURRENCY, async (plan) => {
      try {
        if (plan.mode !== undefined) await Deno.chmod(plan.path, plan.mode);
        this.#succeeded(plan.path, plan.entry);
      } catch (e) {
        this.#failed(plan.path, plan.entry, outcome, "could not change the mode of", e);
      }
    });
    for (const path of touched) {
      // The winner's content is on disk now; only losers and failed writes need theirs in memory.
      const entry = this.#entries.get(path);
      if (entry === undefined || entry.stale || entry.failing) continue;
      const winner = entry.claims.winner();
      const claim = winner === undefined ? undefined : entry.claims.get(winner);
      if (claim !== undefined) claim.content = undefined;
    }

    await forEachLimit(removals, CONCURRENCY, async ({ path, entry }) => {
      const result = await this.#removeOwned(path, entry, outcome);
      if (result === "failed") return;
      if (result === "removed") outcome.removed.push(path);
      this.#forget(path);
      releaseLines.push({ op: "release", path });
    });
    // A lost release only leaves a recorded path whose file is gone: no need to wait for the disk.
    if (releaseLines.length > 0) await this.#append(releaseLines).catch(() => {});

    outcome.written.sort();
    outcome.removed.sort();
    if (this.#record.lines > Math.max(4 * this.#entries.size, COMPACT_MIN_LINES)) {
      await this.#compact().catch((e) => {
        // The journal is still complete, only longer than needed: the files are what matter here.
        this.#logger.warn("could not compact the ownership record", {
          record: this.#record.path,
          error: errorMessage(e),
        });
      });
    }
    this.#scheduleRetry();
  }

  /** True when the file at `path` still holds what the sidecar last put there (or is gone). */
  async #stillOurs(path: string, entry: Entry): Promise<boolean> {
    const disk = entry.disk;
    if (disk === undefined) return false;
    const look = await this.#look(path).catch(() => OTHER);
    if (look.kind === "missing") return true;
    if (look.kind === "other") return false;
    if (sameSignature(look.sig, disk.sig)) return true;
    const content = await readRegularFile(look.physical);
    if (content === undefined) return false;
    const hash = contentHash(content);
    if (hash !== disk.hash && hash !== disk.prev) return false;
    disk.sig = look.sig;
    return true;
  }

  /**
   * What is at `path`: in plain mode the file itself (a symlink counts as someone else's); in set
   * mode a regular file, or the version file behind `name -> ..data/name`.
   */
  async #look(path: string): Promise<Look> {
    if (!this.#atomic) {
      const sig = await statSignature(path);
      if (sig === undefined) return { kind: "missing" };
      if (sig === "other") return OTHER;
      return { kind: "file", sig, physical: path, linked: false };
    }
    const visible = inspectVisible(path);
    switch (visible.kind) {
      case "missing":
        return { kind: "missing" };
      case "file":
        return { kind: "file", sig: visible.sig, physical: path, linked: false };
      case "linked":
        return { kind: "file", sig: visible.sig, physical: visible.physical, linked: true };
      default:
        return OTHER;
    }
  }

  /**
   * Set mode: a version file someone edited in place is copied out to a regular file at its
   * visible name, so that the edit survives its version being removed.
   */
  #detachEdited(path: string): void {
    if (!this.#atomic) return;
    try {
      const visible = inspectVisible(path);
      if (visible.kind === "linked") detach(path, visible.physical);
    } catch (e) {
      this.#logger.warn("could not keep an edited file out of its version", {
        path,
        error: errorMessage(e),
      });
    }
  }

  /**
   * Plain mode: a directory that still holds a set from `ATOMIC_SET` (met for the first time, e.g.
   * after a lost record) becomes plain files again. True when it did.
   */
  #unpublishLeftover(dir: string): boolean {
    if (this.#atomic || this.#checkedDirs.has(dir)) return false;
    this.#checkedDirs.add(dir);
    // No set, or one the sidecar did not make (a kubelet volume): nothing to convert.
    if (versionOrUndefined(dir) === undefined) return false;
    try {
      const names = unpublish(dir);
      this.#logger.info("ATOMIC_SET is off: turned a whole-set folder back into plain files", {
        dir,
        files: names.length,
      });
      return true;
    } catch (e) {
      this.#logger.warn("could not turn a whole-set folder back into plain files", {
        dir,
        error: errorMessage(e),
      });
      return false;
    }
  }

  /** Set mode: one publish per directory the changes touch. */
  async #publishSets(
    touched: Set<string>,
    changes: SetChanges,
    outcome: SinkOutcome,
    releaseLines: RecordLine[],
  ): Promise<void> {
    const groups = new Map<string, SetChanges>();
    const group = (path: string) => {
      const dir = dirname(path);
      let g = groups.get(dir);
      if (g === undefined) groups.set(dir, g = { writes: [], chmods: [], removals: [] });
      return g;
    };
    for (const plan of changes.writes) group(plan.path).writes.push(plan);
    for (const plan of changes.chmods) group(plan.path).chmods.push(plan);
    for (const plan of changes.removals) group(plan.path).removals.push(plan);
    for (const path of touched) if (this.#unconverted.has(path)) group(path);
    for (const dir of [...groups.keys()].sort()) {
      await this.#publishDir(dir, groups.get(dir)!, outcome, releaseLines);
    }
  }

  /**
   * Set mode: builds the next version of `dir` (the current one's files hard-linked, `changes`
   * applied, regular files the sidecar wrote moved in) and switches `..data` to it. When that
   * fails, every path of the publish stays failing, so the retry publishes them together.
   */
  async #publishDir(
    dir: string,
    changes: SetChanges,
    outcome: SinkOutcome,
    releaseLines: RecordLine[],
  ): Promise<void> {
    const removing: RemovalPlan[] = [];
    for (const { path, entry } of changes.removals) {
      try {
        // The path was inside a root when written; a symlink swapped in since must not redirect us.
        await this.#checkPath(path, new Map());
      } catch (e) {
        this.#warn(outcome, `not removing ${path}: ${errorMessage(e)}; forgetting it`, { path });
        this.#forget(path);
        releaseLines.push({ op: "release", path });
        continue;
      }
      if (!await this.#stillOurs(path, entry)) {
        this.#warn(
          outcome,
          `not removing ${path}: it changed since k8s-gsidecar wrote it, so it is left alone`,
          { path },
        );
        this.#detachEdited(path);
        this.#forget(path);
        releaseLines.push({ op: "release", path });
        continue;
      }
      removing.push({ path, entry });
    }
    const plans = [...changes.writes, ...changes.chmods];
    const planned = new Set(plans.map((p) => p.path));
    const removingPaths = new Set(removing.map((r) => r.path));
    const moving: string[] = [];
    for (const path of this.#unconverted) {
      const entry = this.#entries.get(path);
      if (dirname(path) !== dir || planned.has(path) || removingPaths.has(path)) continue;
      const look = await this.#look(path).catch(() => OTHER);
      if (entry === undefined || look.kind === "missing" || (look.kind === "file" && look.linked)) {
        // Gone (the next sync writes it into the set) or already in it: nothing to move.
        this.#unconverted.delete(path);
        if (entry !== undefined && look.kind === "missing") entry.stale = true;
      } else if (!await this.#stillOurs(path, entry)) {
        this.#disown(path, entry, outcome, "moving into the set");
      } else {
        moving.push(path);
      }
    }
    if (plans.length === 0 && removing.length === 0 && moving.length === 0) return;

    const fail = (error: unknown) => {
      for (const plan of plans) {
        plan.entry.stale = true;
        this.#failed(plan.path, plan.entry, outcome, "could not publish", error);
      }
      for (const { path, entry } of removing) {
        this.#failed(path, entry, outcome, "could not publish the removal of", error);
      }
      for (const path of moving) {
        const entry = this.#entries.get(path);
        if (entry) this.#failed(path, entry, outcome, "could not publish", error);
      }
    };

    const replaced = new Set([...plans, ...removing].map((p) => basename(p.path)));
    const files = new Map<string, VersionFile>();
    const link: string[] = [];
    const convert: string[] = [];
    const unlink: string[] = [];
    let current: string | undefined;
    try {
      current = currentVersion(dir);
      if (this.#strays.delete(dir)) sweepVersions(dir);
      if (current !== undefined) {
        for (const name of versionFiles(join(dir, current))) {
          if (replaced.has(name)) continue;
          const path = join(dir, name);
          const known = this.#entries.get(path)?.disk !== undefined;
          // A file the store does not know (its record was lost) stays while its visible name
          // links to it: its owner adopts it at its next sync.
          if (known || inspectVisible(path).kind === "linked") {
            files.set(name, { name, from: join(dir, current, name) });
          }
        }
      }
      for (const path of moving) {
        const name = basename(path);
        files.set(name, { name, from: path });
        convert.push(name);
      }
      for (const plan of plans) {
        const name = basename(plan.path);
        files.set(name, { name, content: plan.content, mode: plan.mode });
        const visible = inspectVisible(plan.path);
        if (visible.kind === "linked" || (visible.kind === "missing" && visible.link)) continue;
        // A regular file the sidecar wrote becomes a link once the set holds its new bytes;
        // anything else in the way is reported by publish() as a collision and left alone.
        if (visible.kind === "file" && plan.entry.disk !== undefined) convert.push(name);
        else link.push(name);
      }
      for (const { path } of removing) {
        if (!this.#unconverted.has(path)) unlink.push(basename(path));
      }
    } catch (e) {
      fail(e);
      return;
    }

    let result: PublishResult;
    try {
      result = publish(
        { dir, current, files: [...files.values()], link, convert, unlink },
        this.#clock.now(),
      );
    } catch (e) {
      fail(e);
      return;
    }
    if (result.cleanupError !== undefined) {
      this.#strays.add(dir);
      this.#logger.warn("could not remove the previous version; the next publish retries", {
        dir,
        error: errorMessage(result.cleanupError),
      });
    }

    for (const name of result.collided) {
      const path = join(dir, name);
      this.#warn(
        outcome,
        `not writing ${path}: a file appeared there that k8s-gsidecar did not write, so it is ` +
          "left alone and no longer managed",
        { path },
      );
      for (const owner of this.#entries.get(path)?.claims.owners() ?? []) {
        this.#release(owner, path);
      }
      this.#forget(path);
      releaseLines.push({ op: "release", path });
    }
    const collided = new Set(result.collided);
    const chmodOnly = new Set(changes.chmods);
    for (const plan of plans) {
      const name = basename(plan.path);
      if (collided.has(name)) continue;
      const error = result.failed.get(name);
      if (error !== undefined) {
        plan.entry.stale = true;
        this.#failed(plan.path, plan.entry, outcome, "could not link", error);
        continue;
      }
      plan.entry.stale = false;
      if (plan.entry.disk) {
        Object.assign(plan.entry.disk, { sig: result.sigs.get(name), prev: undefined });
      }
      if (!chmodOnly.has(plan)) outcome.written.push(plan.path);
      this.#unconverted.delete(plan.path);
      this.#succeeded(plan.path, plan.entry);
    }
    for (const path of moving) {
      const name = basename(path);
      const entry = this.#entries.get(path);
      if (entry === undefined) continue;
      const error = result.failed.get(name);
      if (error !== undefined) {
        this.#failed(path, entry, outcome, "could not link", error);
        continue;
      }
      this.#unconverted.delete(path);
      if (entry.disk) entry.disk.sig = result.sigs.get(name);
      this.#settled(path, entry);
    }
    const unlinked = new Set(result.unlinked);
    for (const { path, entry } of removing) {
      const name = basename(path);
      let removed = unlinked.has(name);
      const error = result.failed.get(name);
      if (error !== undefined) {
        this.#failed(path, entry, outcome, "could not remove", error);
        continue;
      }
      if (this.#unconverted.has(path)) {
        try {
          await Deno.remove(path);
          removed = true;
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) {
            this.#failed(path, entry, outcome, "could not remove", e);
            continue;
          }
        }
      }
      if (removed) outcome.removed.push(path);
      this.#succeeded(path, entry);
      this.#forget(path);
      releaseLines.push({ op: "release", path });
    }
  }

  /** `path` changed since the sidecar wrote it: leave it alone and stop managing it. */
  #disown(path: string, entry: Entry, outcome: SinkOutcome, doing: string): void {
    this.#warn(
      outcome,
      `not ${doing} ${path}: it changed since k8s-gsidecar wrote it, so it is left alone and no ` +
        "longer managed (delete it to let the sidecar write it again)",
      { path },
    );
    for (const owner of entry.claims.owners()) this.#release(owner, path);
    this.#forget(path);
    this.#append([{ op: "release", path }]).catch(() => {});
  }

  /**
   * `disk.owner` still claims `path` but lost it to an owner that sorts first: keep its content in
   * memory (read back from disk, where it is verified by hash) so it returns if the winner leaves.
   */
  async #stashDisplaced(
    path: string,
    entry: Entry,
    disk: OnDisk,
    outcome: SinkOutcome,
  ): Promise<void> {
    const claim = entry.claims.get(disk.owner);
    if (claim === undefined || claim.content !== undefined) return;
    const look = entry.stale ? OTHER : await this.#look(path).catch(() => OTHER);
    const content = look.kind === "file" ? await readRegularFile(look.physical) : undefined;
    if (content !== undefined && contentHash(content) === disk.hash) {
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
    entry: Entry,
    outcome: SinkOutcome,
  ): Promise<"removed" | "missing" | "failed" | "kept"> {
    try {
      // The path was inside a root when written; a symlink swapped in since must not redirect us.
      await this.#checkPath(path, new Map());
    } catch (e) {
      this.#warn(outcome, `not removing ${path}: ${errorMessage(e)}; forgetting it`, { path });
      return "kept";
    }
    if (!await this.#stillOurs(path, entry)) {
      this.#warn(
        outcome,
        `not removing ${path}: it changed since k8s-gsidecar wrote it, so it is left alone`,
        { path },
      );
      return "kept";
    }
    try {
      await Deno.remove(path);
      this.#succeeded(path, entry);
      return "removed";
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return "missing";
      this.#failed(path, entry, outcome, "could not remove", e);
      return "failed";
    }
  }

  #succeeded(path: string, entry: Entry): void {
    entry.failing = undefined;
    this.#dirty.delete(path);
  }

  #settled(path: string, entry: Entry): void {
    if (!entry.stale) this.#succeeded(path, entry);
  }

  #failed(path: string, entry: Entry, outcome: SinkOutcome, what: string, error: unknown): void {
    this.stats.failures++;
    const reason = errorMessage(error);
    const first = entry.failing === undefined;
    entry.failing = { since: entry.failing?.since ?? this.#clock.now(), error: reason };
    this.#dirty.add(path);
    const message = `${what} ${path}; retrying until it succeeds`;
    // Logged once per failing spell, not at every retry.
    if (first) this.#logger.error(message, { path, error: reason });
    outcome.warnings.push(`${message}: ${reason}`);
  }

  #scheduleRetry(): void {
    if (this.#closed || this.#retryTimer !== undefined || this.#dirty.size === 0) return;
    const delay = backoffDelay(this.#retryPolicy, ++this.#retryAttempt, () => this.#clock.random());
    this.#retryTimer = this.#clock.timer(delay, () => {
      this.#retryTimer = undefined;
      void this.#serial(() => this.#retry()).catch((e) => {
        this.#logger.error("retrying failed writes failed", { error: errorMessage(e) });
        this.#scheduleRetry();
      });
    });
  }

  async #retry(): Promise<void> {
    this.stats.retries++;
    const paths = new Set(this.#dirty);
    const outcome: SinkOutcome = { written: [], removed: [], warnings: [] };
    if (this.#record.torn) await this.#compact();
    await this.#reconcile(paths, outcome);
    if (this.#dirty.size === 0) {
      this.#retryAttempt = 0;
      this.#logger.info("failed writes recovered", {
        written: outcome.written.length,
        removed: outcome.removed.length,
      });
    }
    if (outcome.written.length > 0 || outcome.removed.length > 0) {
      for (const fn of this.#onRepaired) fn(outcome);
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
    const root = this.#roots.find((root) => real !== root && isWithin(root, real));
    if (root === undefined) {
      throw new Error(
        `refusing to write ${path}: it resolves to ${real}, outside ${this.#roots.join(", ")}`,
      );
    }
    // `..data`, the versions and `..data_tmp` belong to the whole-set publish.
    if (this.#atomic && relative(root, real).split("/").some((part) => part.startsWith(".."))) {
      throw new Error(
        `refusing to write ${path}: with ATOMIC_SET, names starting with ".." are reserved for ` +
          "the versioned directories and the ..data link",
      );
    }
    return normalized;
  }

  #release(owner: string, path: string): void {
    this.#entries.get(path)?.claims.delete(owner);
    this.#byOwner.delete(owner, path);
  }

  #forget(path: string): void {
    this.#entries.delete(path);
    this.#dirty.delete(path);
    this.#unconverted.delete(path);
  }

  #warn(outcome: SinkOutcome, message: string, fields: Record<string, unknown>): void {
    this.#logger.warn(message, fields);
    outcome.warnings.push(message);
  }

  // --- the record ------------------------------------------------------------------------------

  /**
   * A record from before content hashes holds SHA-256 digests: where one is the digest of the
   * file on disk, it becomes that content's hash, so that the rest of the store compares one kind.
   * A digest that matches nothing stays, and the file is disowned as any changed file is.
   */
  async #upgradeLegacyHashes(entry: Entry, content: Uint8Array, hash: string): Promise<void> {
    const disk = entry.disk!;
    if (!isLegacyHash(disk.hash) && (disk.prev === undefined || !isLegacyHash(disk.prev))) return;
    const digest = await sha256Hex(new Uint8Array(content));
    if (disk.hash === digest) {
      const claim = entry.claims.get(disk.owner);
      if (claim?.hash === disk.hash) claim.hash = hash;
      disk.hash = hash;
    }
    if (disk.prev === digest) disk.prev = hash;
  }

  async #appendSynced(lines: RecordLine[]): Promise<void> {
    if (this.#record.torn) await this.#compact();
    await this.#record.append(lines, { sync: true });
    this.stats.journalSyncs = this.#record.syncs;
  }

  async #append(lines: RecordLine[]): Promise<void> {
    if (this.#record.torn) await this.#compact();
    await this.#record.append(lines, { sync: false });
  }

  #compact(): Promise<void> {
    const files: [string, RecordedFile][] = [];
    for (const [path, entry] of this.#entries) {
      const d = entry.disk;
      if (d) files.push([path, { owner: d.owner, hash: d.hash, mode: d.mode, prev: d.prev }]);
    }
    return this.#record.compact(files);
  }

  async #load(stateDir: string | undefined): Promise<void> {
    const inFolder = join(this.#folder, RECORD_NAME);
    let recordPath = inFolder;
    let readFrom = inFolder;
    if (stateDir !== undefined) {
      await Deno.mkdir(stateDir, { recursive: true });
      // One state dir may serve several sidecars: the record is named after its folder.
      const tag = (await sha256Hex(new TextEncoder().encode(this.#folder))).slice(0, 12);
      recordPath = join(resolve(stateDir), `${RECORD_NAME}-${basename(this.#folder)}-${tag}`);
      readFrom = (await statSignature(recordPath)) === undefined &&
          (await statSignature(inFolder)) !== undefined
        ? inFolder
        : recordPath;
    }
    const { record, files } = await OwnershipRecord.open(recordPath, this.#logger, readFrom);
    this.#record = record;

    const dirCache = new Map<string, string>();
    for (const [path, recorded] of files) {
      try {
        await this.#checkPath(path, dirCache);
      } catch (e) {
        // Outside the roots now (configuration changed, or a tampered record): never touch it.
        this.#logger.warn("forgetting a recorded file outside the allowed folders", {
          path,
          owner: recorded.owner,
          error: errorMessage(e),
        });
        continue;
      }
      const claim = { hash: recorded.hash, mode: recorded.mode, content: undefined };
      this.#entries.set(path, {
        claims: Claims.of(recorded.owner, claim),
        disk: { ...recorded },
        stale: false,
        failing: undefined,
        unrecorded: false,
      });
      this.#byOwner.add(recorded.owner, path);
    }

    // Every directory that may hold a set: crash leftovers go, and a switch of ATOMIC_SET converts.
    const recordedDirs = [...this.#entries.keys()].map((p) => dirname(p));
    const dirs = [...new Set([this.#folder, ...recordedDirs])].sort();
    for (const dir of dirs) {
      if (!this.#atomic) {
        this.#unpublishLeftover(dir);
        continue;
      }
      try {
        const swept = sweepVersions(dir);
        if (swept.length > 0) {
          this.#logger.info("removed versions left by an interrupted publish", { dir, swept });
        }
      } catch (e) {
        this.#logger.warn("could not remove versions left by an interrupted publish", {
          dir,
          error: errorMessage(e),
        });
      }
    }

    const disowned: string[] = [];
    await forEachLimit([...this.#entries], CONCURRENCY, async ([path, entry]) => {
      const disk = entry.disk!;
      const look = await this.#look(path).catch(() => OTHER);
      const content = look.kind === "file" ? await readRegularFile(look.physical) : undefined;
      const hash = content === undefined ? undefined : contentHash(content);
      if (content !== undefined) await this.#upgradeLegacyHashes(entry, content, hash!);
      if (look.kind === "missing") {
        entry.stale = true;
        this.#logger.info("recorded file is missing; the next sync writes it again", { path });
        return;
      }
      if (look.kind !== "file" || hash === undefined) {
        disowned.push(path);
      } else if (hash === disk.hash) {
        disk.sig = look.sig;
        disk.prev = undefined;
      } else if (hash === disk.prev) {
        // A crash between the claim and the rename (or the switch): the old file is there, and
        // it is ours.
        entry.stale = true;
        disk.sig = look.sig;
      } else {
        disowned.push(path);
        return;
      }
      if (this.#atomic && look.kind === "file" && !look.linked) this.#unconverted.add(path);
    });
    for (const path of disowned.sort()) {
      this.#logger.warn(
        "a recorded file changed since k8s-gsidecar wrote it: it is left alone and no longer managed",
        { path },
      );
      this.#detachEdited(path);
      const entry = this.#entries.get(path);
      for (const owner of entry?.claims.owners() ?? []) this.#release(owner, path);
      this.#forget(path);
    }

    await this.#removeStrayTempFiles(dirname(recordPath));
    await this.#compact();
    if (this.#unconverted.size > 0) await this.#convertToSets();
    if (readFrom !== recordPath) {
      await Deno.remove(readFrom).catch(() => {});
      this.#logger.info("moved the ownership record out of the folder", {
        from: readFrom,
        to: recordPath,
      });
    }
  }

  /**
   * `ATOMIC_SET` switched on for a folder of plain files: each directory's files move into a
   * version (hard-linked, same bytes) and their names become links, one rename per name.
   */
  async #convertToSets(): Promise<void> {
    const outcome: SinkOutcome = { written: [], removed: [], warnings: [] };
    const releaseLines: RecordLine[] = [];
    const dirs = new Set([...this.#unconverted].map((p) => dirname(p)));
    for (const dir of [...dirs].sort()) {
      const before = this.#unconverted.size;
      await this.#publishDir(dir, { writes: [], chmods: [], removals: [] }, outcome, releaseLines);
      this.#logger.info("ATOMIC_SET is on: moved plain files into a whole-set version", {
        dir,
        files: before - this.#unconverted.size,
      });
    }
    if (releaseLines.length > 0) await this.#append(releaseLines).catch(() => {});
    this.#scheduleRetry();
  }

  /** Temp files left by a crash between write and rename. */
  async #removeStrayTempFiles(recordDir: string): Promise<void> {
    const dirs = new Set([
      this.#folder,
      recordDir,
      ...[...this.#entries.keys()].map((p) => dirname(p)),
    ]);
    for (const dir of dirs) {
      try {
        for await (const item of Deno.readDir(dir)) {
          // Symlinks too: a set's visible names are switched through temp links.
          if ((item.isFile || item.isSymlink) && item.name.startsWith(TEMP_PREFIX)) {
            await Deno.remove(join(dir, item.name)).catch(() => {});
          }
        }
      } catch {
        // A missing directory has no stray files.
      }
    }
  }
}

/** The version `dir/..data` names; undefined when there is none or it is not the sidecar's. */
function versionOrUndefined(dir: string): string | undefined {
  try {
    return currentVersion(dir);
  } catch {
    return undefined;
  }
}
