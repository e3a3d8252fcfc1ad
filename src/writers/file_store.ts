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
 * @module
 */
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
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
import { isWithin } from "../util/paths.ts";
import {
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
 * import { ownerKey } from "./file_store.ts";
 * ownerKey("json-file#0", { kind: "configmap", namespace: "ns", name: "dash" });
 * // "json-file#0|configmap/ns/dash"
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
 * import { parseOwnerKey } from "./file_store.ts";
 * parseOwnerKey("json-file#0|configmap/ns/dash")?.ref.name; // "dash"
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
  claims: Map<string, Claim>;
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
  readonly #byOwner = new Map<string, Set<string>>();
  /** Paths whose last attempt failed: retried on a timer. */
  readonly #dirty = new Set<string>();
  #retryTimer: Timer | undefined;
  #retryAttempt = 0;
  #record!: OwnershipRecord;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;
  #onRepaired: ((outcome: SinkOutcome) => void)[] = [];
  readonly stats: FileStoreStats = { failures: 0, retries: 0, journalSyncs: 0 };

  private constructor(folder: string, roots: string[], opts: FileStoreOptions) {
    this.#folder = folder;
    this.#roots = roots;
    this.#logger = opts.logger;
    this.#clock = opts.clock ?? systemClock;
    this.#retryPolicy = opts.retry ?? DEFAULT_RETRY;
    this.#graceMs = opts.failureGraceMs ?? DEFAULT_FAILURE_GRACE_MS;
  }

  /**
   * Creates the folder if missing, reads the ownership record, and checks every recorded file
   * against its hash: missing files are rewritten by the next sync, files someone else changed are
   * no longer managed.
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
    const store = new FileStore(folder, roots, opts);
    await store.#load(opts.stateDir);
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
   * Removes every file of the owners `select` picks: orphans of a previous run, or objects deleted
   * while the sidecar was away. Paths another owner still claims get that owner's content
   * instead of being removed.
   *
   * @example
   * ```ts ignore
   * const out = await store.prune((owner) => !live.has(owner));
   * ```
   */
  prune(select: (owner: string) => boolean): Promise<SinkOutcome> {
    return this.#serial(async () => {
      const touched = new Set<string>();
      for (const [owner, paths] of [...this.#byOwner]) {
        if (!select(owner)) continue;
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

  /** Number of paths whose last write or removal failed. */
  get failingPaths(): number {
    return this.#dirty.size;
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
      const kept = new Set((item.keep ?? []).filter((p) => isAbsolute(p)).map((p) => resolve(p)));
      for (const [path, file] of wanted) {
        const hash = sha256Hex(file.content);
        let entry = this.#entries.get(path);
        if (entry === undefined) {
          entry = await this.#newEntry(path, owner, hash, outcome);
          if (entry === undefined) continue;
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
    }
    await this.#reconcile(touched, outcome);
    return outcome;
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
  ): Promise<Entry | undefined> {
    const sig = await statSignature(path);
    let disk: OnDisk | undefined;
    if (sig !== undefined) {
      const existing = sig === "other" ? undefined : await readRegularFile(path);
      if (existing === undefined || sha256Hex(existing) !== hash) {
        this.#warn(
          outcome,
          `not writing ${path} for ${owner}: the file exists and was not written by k8s-gsidecar`,
          { path, owner },
        );
        return undefined;
      }
      const mode = (await Deno.lstat(path)).mode;
      disk = {
        owner,
        hash,
        mode: mode === null ? undefined : mode & 0o7777,
        sig: sig === "other" ? undefined : sig,
      };
      this.#logger.info("adopted a file that already holds what the sidecar writes", { path });
    }
    const entry: Entry = { claims: new Map(), disk, stale: false, unrecorded: disk !== undefined };
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
      const winner = minKey(entry.claims);
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
      const winner = minKey(entry.claims);
      const claim = winner === undefined ? undefined : entry.claims.get(winner);
      if (claim !== undefined) claim.content = undefined;
    }

    const releaseLines: RecordLine[] = [];
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
    const sig = await statSignature(path).catch(() => "other" as const);
    if (sig === undefined) return true;
    if (sig === "other") return false;
    if (sameSignature(sig, disk.sig)) return true;
    const content = await readRegularFile(path);
    if (content === undefined) return false;
    const hash = sha256Hex(content);
    if (hash !== disk.hash && hash !== disk.prev) return false;
    disk.sig = sig;
    return true;
  }

  /** `path` changed since the sidecar wrote it: leave it alone and stop managing it. */
  #disown(path: string, entry: Entry, outcome: SinkOutcome, doing: string): void {
    this.#warn(
      outcome,
      `not ${doing} ${path}: it changed since k8s-gsidecar wrote it, so it is left alone and no ` +
        "longer managed (delete it to let the sidecar write it again)",
      { path },
    );
    for (const owner of [...entry.claims.keys()]) this.#release(owner, path);
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
    const content = entry.stale ? undefined : await readRegularFile(path);
    if (content !== undefined && sha256Hex(content) === disk.hash) {
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
    if (!this.#roots.some((root) => real !== root && isWithin(root, real))) {
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

  #release(owner: string, path: string): void {
    this.#entries.get(path)?.claims.delete(owner);
    const paths = this.#byOwner.get(owner);
    if (paths === undefined) return;
    paths.delete(path);
    if (paths.size === 0) this.#byOwner.delete(owner);
  }

  #forget(path: string): void {
    this.#entries.delete(path);
    this.#dirty.delete(path);
  }

  #warn(outcome: SinkOutcome, message: string, fields: Record<string, unknown>): void {
    this.#logger.warn(message, fields);
    outcome.warnings.push(message);
  }

  // --- the record ------------------------------------------------------------------------------

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
      const tag = sha256Hex(new TextEncoder().encode(this.#folder)).slice(0, 12);
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
        claims: new Map([[recorded.owner, claim]]),
        disk: { ...recorded },
        stale: false,
      });
      this.#ownerPaths(recorded.owner).add(path);
    }

    const disowned: string[] = [];
    await forEachLimit([...this.#entries], CONCURRENCY, async ([path, entry]) => {
      const disk = entry.disk!;
      const sig = await statSignature(path).catch(() => "other" as const);
      const content = sig === undefined ? undefined : await readRegularFile(path);
      const hash = content === undefined ? undefined : sha256Hex(content);
      if (sig === undefined) {
        entry.stale = true;
        this.#logger.info("recorded file is missing; the next sync writes it again", { path });
      } else if (hash === disk.hash && typeof sig === "object") {
        disk.sig = sig;
        disk.prev = undefined;
      } else if (hash !== undefined && hash === disk.prev && typeof sig === "object") {
        // A crash between the claim and the rename: the old file is there, and it is ours.
        entry.stale = true;
        disk.sig = sig;
      } else {
        disowned.push(path);
      }
    });
    for (const path of disowned.sort()) {
      this.#logger.warn(
        "a recorded file changed since k8s-gsidecar wrote it: it is left alone and no longer managed",
        { path },
      );
      const entry = this.#entries.get(path);
      for (const owner of [...(entry?.claims.keys() ?? [])]) this.#release(owner, path);
      this.#forget(path);
    }

    await this.#removeStrayTempFiles(dirname(recordPath));
    await this.#compact();
    if (readFrom !== recordPath) {
      await Deno.remove(readFrom).catch(() => {});
      this.#logger.info("moved the ownership record out of the folder", {
        from: readFrom,
        to: recordPath,
      });
    }
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
          if (item.isFile && item.name.startsWith(TEMP_PREFIX)) {
            await Deno.remove(join(dir, item.name)).catch(() => {});
          }
        }
      } catch {
        // A missing directory has no stray files.
      }
    }
  }
}

function minKey(map: Map<string, unknown>): string | undefined {
  let min: string | undefined;
  for (const key of map.keys()) if (min === undefined || key < min) min = key;
  return min;
}
