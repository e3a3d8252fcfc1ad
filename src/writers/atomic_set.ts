/**
 * The file operations of a whole-set publish (`ATOMIC_SET`), the layout the kubelet gives
 * ConfigMap volumes (its AtomicWriter):
 *
 * ```text
 * FOLDER/..gsidecar_2025_01_02_15_04_05.123_1a2b3c4d/a.json   the files of one version
 * FOLDER/..data -> ..gsidecar_2025_01_02_15_04_05.123_1a2b3c4d
 * FOLDER/a.json -> ..data/a.json                              what the application opens
 * ```
 *
 * A new version is built complete beside the current one (unchanged files hard-linked from it),
 * then a `..data_tmp` symlink to it is renamed over `..data`: one rename switches every file of
 * the directory at once. A reader that resolves `..data` once sees one version throughout.
 *
 * Like `fs_ops.ts`, these are synchronous calls: a publish is a burst of small system calls (a
 * link per file of the directory), each of which would otherwise cost a hop to the thread pool.
 * The event loop turns between publishes.
 *
 * This module only moves files; which files a version holds, and whose they are, is the file
 * store's business (`file_store.ts`).
 *
 * @module
 */
import { basename, join } from "../util/posix_path.ts";
import { randomHex, signatureOf, type StatSignature, TEMP_PREFIX } from "./fs_ops.ts";

/** The symlink that names the current version. */
export const DATA_LINK = "..data";
/** The symlink renamed over {@linkcode DATA_LINK} to switch versions. */
export const DATA_TMP = "..data_tmp";

const VERSION_RE = /^\.\.gsidecar_\d{4}(?:_\d{2}){5}\.\d{3}_[0-9a-f]{8}$/;

/**
 * Whether `name` is a version directory this sidecar made (never the kubelet's, whose names have
 * no `gsidecar_`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isVersionName, versionName } from "./atomic_set.ts";
 * assert(isVersionName(versionName(Date.UTC(2025, 0, 2))));
 * assert(!isVersionName("..2025_01_02_15_04_05.123456789"));
 * ```
 */
export function isVersionName(name: string): boolean {
  return VERSION_RE.test(name);
}

/**
 * A fresh version directory name for time `now` (ms since the epoch): sortable, and unique
 * through its random tail.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { versionName } from "./atomic_set.ts";
 * const name = versionName(Date.UTC(2025, 0, 2, 15, 4, 5, 123));
 * assert.match(name, /^\.\.gsidecar_2025_01_02_15_04_05\.123_[0-9a-f]{8}$/);
 * ```
 */
export function versionName(now: number): string {
  const d = new Date(now);
  const two = (n: number) => String(n).padStart(2, "0");
  const stamp = `${d.getUTCFullYear()}_${two(d.getUTCMonth() + 1)}_${two(d.getUTCDate())}_` +
    `${two(d.getUTCHours())}_${two(d.getUTCMinutes())}_${two(d.getUTCSeconds())}.` +
    String(d.getUTCMilliseconds()).padStart(3, "0");
  return `..gsidecar_${stamp}_${randomHex().slice(0, 8)}`;
}

/**
 * The target of a visible name's symlink: `..data/<name>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { linkTarget } from "./atomic_set.ts";
 * assert(linkTarget("a.json") === "..data/a.json");
 * ```
 */
export function linkTarget(name: string): string {
  return `${DATA_LINK}/${name}`;
}

/**
 * The version `dir/..data` points to; `undefined` when there is no `..data`. Throws naming it
 * when `..data` is there but is not a symlink to a version directory this sidecar made (a kubelet
 * volume, a directory someone created): the sidecar never takes it over.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { currentVersion, publish } from "./atomic_set.ts";
 * const dir = await Deno.makeTempDir();
 * assert.equal(currentVersion(dir), undefined);
 * const content = new TextEncoder().encode("{}");
 * const { version } = publish({
 *   dir,
 *   current: undefined,
 *   files: [{ name: "a.json", content }],
 *   link: ["a.json"],
 *   convert: [],
 *   unlink: [],
 * }, Date.now());
 * assert.equal(currentVersion(dir), version);
 * // A `..data` this sidecar did not make (a kubelet volume) is never taken over.
 * const kubelet = await Deno.makeTempDir();
 * await Deno.mkdir(`${kubelet}/..2025_01_02_15_04_05.123456789`);
 * await Deno.symlink("..2025_01_02_15_04_05.123456789", `${kubelet}/..data`);
 * assert.throws(() => currentVersion(kubelet), /not a link to a version k8s-gsidecar made/);
 * await Deno.remove(dir, { recursive: true });
 * await Deno.remove(kubelet, { recursive: true });
 * ```
 */
export function currentVersion(dir: string): string | undefined {
  const path = join(dir, DATA_LINK);
  const info = lstatOrUndefined(path);
  if (info === undefined) return undefined;
  const target = info.isSymlink ? Deno.readLinkSync(path) : undefined;
  // The version itself must be a directory, not a symlink that leads elsewhere.
  const version = target === undefined ? undefined : lstatOrUndefined(join(dir, target));
  if (target === undefined || !isVersionName(target) || (version && !version.isDirectory)) {
    throw new Error(
      `${path} exists but is not a link to a version k8s-gsidecar made, so this folder cannot ` +
        "be published as a whole set (was it made by the kubelet or someone else?)",
    );
  }
  return target;
}

/**
 * The names of the regular files of version directory `path`; none when it is missing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { publish, versionFiles } from "./atomic_set.ts";
 * const dir = await Deno.makeTempDir();
 * const content = new TextEncoder().encode("{}");
 * const { version } = publish({
 *   dir,
 *   current: undefined,
 *   files: [{ name: "b.json", content }, { name: "a.json", content }],
 *   link: [],
 *   convert: [],
 *   unlink: [],
 * }, Date.now());
 * assert.deepEqual(versionFiles(`${dir}/${version}`), ["a.json", "b.json"]);
 * assert.deepEqual(versionFiles(`${dir}/..gone`), []);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function versionFiles(path: string): string[] {
  const names: string[] = [];
  try {
    for (const item of Deno.readDirSync(path)) if (item.isFile) names.push(item.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory)) throw e;
  }
  return names.sort();
}

/** What is at a visible name of a set directory. */
export type Visible =
  /** Nothing; `link` when a symlink of the set's form dangles there (its version lacks the name). */
  | { kind: "missing"; link: boolean }
  /** A regular file (written directly, before `ATOMIC_SET` was switched on, or by someone). */
  | { kind: "file"; sig: StatSignature }
  /** `name -> ..data/name`, resolving to a regular file of a version this sidecar made. */
  | { kind: "linked"; sig: StatSignature; physical: string }
  /** Anything else: a directory, a foreign symlink. */
  | { kind: "other" };

function lstatOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw e;
  }
}

/**
 * What is at `path` (a visible name): follows only the set's own form, `name -> ..data/name`
 * with `..data` naming one of this sidecar's versions, so a planted symlink never leads a check
 * elsewhere.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inspectVisible, publish } from "./atomic_set.ts";
 * const dir = await Deno.makeTempDir();
 * const content = new TextEncoder().encode("{}");
 * const { version } = publish({
 *   dir,
 *   current: undefined,
 *   files: [{ name: "a.json", content }],
 *   link: ["a.json"],
 *   convert: [],
 *   unlink: [],
 * }, Date.now());
 * const v = inspectVisible(`${dir}/a.json`);
 * assert.equal(v.kind === "linked" ? v.physical : v.kind, `${dir}/${version}/a.json`);
 * await Deno.symlink(`${dir}/${version}/a.json`, `${dir}/planted.json`);
 * assert.equal(inspectVisible(`${dir}/planted.json`).kind, "other"); // not the set's own form
 * assert.deepEqual(inspectVisible(`${dir}/b.json`), { kind: "missing", link: false });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function inspectVisible(path: string): Visible {
  const info = lstatOrUndefined(path);
  if (info === undefined) return { kind: "missing", link: false };
  if (info.isFile) return { kind: "file", sig: signatureOf(info) };
  if (!info.isSymlink) return { kind: "other" };
  const name = basename(path);
  if (Deno.readLinkSync(path) !== linkTarget(name)) return { kind: "other" };
  const dir = join(path, "..");
  let version: string | undefined;
  try {
    version = currentVersion(dir);
  } catch {
    return { kind: "other" };
  }
  if (version === undefined) return { kind: "missing", link: true };
  const physical = join(dir, version, name);
  const target = lstatOrUndefined(physical);
  if (target === undefined) return { kind: "missing", link: true };
  if (!target.isFile) return { kind: "other" };
  return { kind: "linked", sig: signatureOf(target), physical };
}

/** One file of a new version: new `content`, or the file at `from` linked (or copied) as is. */
export type VersionFile =
  | { name: string; content: Uint8Array; mode?: number | undefined }
  | { name: string; from: string };

/** One publish of a set directory. */
export interface PublishPlan {
  /** The set directory. */
  dir: string;
  /** The version `..data` points to now (from {@linkcode currentVersion}). */
  current: string | undefined;
  /** Every file of the new version. */
  files: VersionFile[];
  /** Names without a visible symlink yet: created before the switch, so all appear at once. */
  link: string[];
  /** Names whose visible regular file becomes a symlink after the switch (same content). */
  convert: string[];
  /** Names whose visible symlink goes away after the switch. */
  unlink: string[];
}

/** What {@linkcode publish} did. */
export interface PublishResult {
  /** The new version; undefined when the set is empty now (then there is no `..data`). */
  version: string | undefined;
  /** Signature of each file of the new version. */
  sigs: Map<string, StatSignature>;
  /** Names of `link` where something else appeared meanwhile: left alone, not visible. */
  collided: string[];
  /** Names of `convert` and `unlink` that failed after the switch, with the error. */
  failed: Map<string, unknown>;
  /** Names of `unlink` whose symlink was there and is gone now. */
  unlinked: string[];
  /** The previous version could not be removed (it is swept at the next start). */
  cleanupError?: unknown | undefined;
}

/**
 * Builds the new version, switches `..data` to it in one rename, then fixes the visible names
 * and removes the previous version. Throws when anything before the switch fails, after undoing
 * what it made: the previous version stays current and complete. A plan without files removes
 * `..data` instead: an empty set has none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { currentVersion, publish } from "./atomic_set.ts";
 * const dir = await Deno.makeTempDir();
 * const content = new TextEncoder().encode("{}");
 * publish({
 *   dir,
 *   current: currentVersion(dir),
 *   files: [{ name: "a.json", content }],
 *   link: ["a.json"],
 *   convert: [],
 *   unlink: [],
 * }, Date.now());
 * assert(await Deno.readTextFile(`${dir}/a.json`) === "{}");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function publish(plan: PublishPlan, now: number): PublishResult {
  const { dir } = plan;
  if (plan.files.length === 0) return publishEmpty(plan);
  const sigs = new Map<string, StatSignature>();
  const version = versionName(now);
  const versionDir = join(dir, version);
  const collided: string[] = [];
  const made: string[] = [];
  const dataTmp = join(dir, DATA_TMP);
  let madeTmp = false;
  try {
    Deno.mkdirSync(dir, { recursive: true });
    Deno.mkdirSync(versionDir);
    // As traversable as the folder itself (and setgid where a volume's fsGroup made it so),
    // whatever the umask: whoever could read the plain files can read the set.
    const folderMode = Deno.statSync(dir).mode;
    if (folderMode !== null) Deno.chmodSync(versionDir, folderMode & 0o7777);
    for (const file of plan.files) {
      const target = join(versionDir, file.name);
      sigs.set(
        file.name,
        "content" in file
          ? writeNew(target, file.content, file.mode)
          : linkOrCopy(file.from, target),
      );
    }
    for (const name of plan.link) {
      const path = join(dir, name);
      try {
        Deno.symlinkSync(linkTarget(name), path);
        made.push(path);
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
        const there = lstatOrUndefined(path);
        const ours = there?.isSymlink && Deno.readLinkSync(path) === linkTarget(name);
        if (!ours) collided.push(name);
      }
    }
    removeDataTmp(dir);
    Deno.symlinkSync(version, dataTmp);
    madeTmp = true;
    Deno.renameSync(dataTmp, join(dir, DATA_LINK));
  } catch (e) {
    if (madeTmp) quietly(() => Deno.removeSync(dataTmp));
    quietly(() => Deno.removeSync(versionDir, { recursive: true }));
    for (const path of made) quietly(() => Deno.removeSync(path));
    throw e;
  }

  const failed = new Map<string, unknown>();
  for (const name of plan.convert) {
    try {
      replaceWithSymlink(join(dir, name), linkTarget(name));
    } catch (e) {
      failed.set(name, e);
    }
  }
  const { unlinked, cleanupError } = afterSwitch(plan, failed);
  return { version, sigs, collided, failed, unlinked, cleanupError };
}

/**
 * A set without files has no `..data`: removing the link switches every reader to "no files" in
 * one step; then the names and the last version go.
 */
function publishEmpty(plan: PublishPlan): PublishResult {
  if (plan.current !== undefined) {
    try {
      Deno.removeSync(join(plan.dir, DATA_LINK));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  const failed = new Map<string, unknown>();
  const { unlinked, cleanupError } = afterSwitch(plan, failed);
  return { version: undefined, sigs: new Map(), collided: [], failed, unlinked, cleanupError };
}

/** Removes the visible names of `plan.unlink` and the previous version. */
function afterSwitch(
  plan: PublishPlan,
  failed: Map<string, unknown>,
): { unlinked: string[]; cleanupError?: unknown } {
  const { dir } = plan;
  const unlinked: string[] = [];
  for (const name of plan.unlink) {
    const path = join(dir, name);
    try {
      const there = lstatOrUndefined(path);
      if (there?.isSymlink && Deno.readLinkSync(path) === linkTarget(name)) {
        Deno.removeSync(path);
        unlinked.push(name);
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) failed.set(name, e);
    }
  }
  let cleanupError: unknown;
  if (plan.current !== undefined) {
    try {
      Deno.removeSync(join(dir, plan.current), { recursive: true });
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) cleanupError = e;
    }
  }
  unlinked.sort();
  return cleanupError === undefined ? { unlinked } : { unlinked, cleanupError };
}

/**
 * Removes what a crash mid-publish leaves in `dir`: a `..data_tmp` symlink and versions `..data`
 * does not point to. Returns the names removed. A `..data` that is not the sidecar's is left
 * alone, and so is everything else.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { currentVersion, publish, sweepVersions, versionName } from "./atomic_set.ts";
 * const dir = await Deno.makeTempDir();
 * const content = new TextEncoder().encode("{}");
 * const { version } = publish({
 *   dir,
 *   current: undefined,
 *   files: [{ name: "a.json", content }],
 *   link: ["a.json"],
 *   convert: [],
 *   unlink: [],
 * }, Date.now());
 * // A crash between building the next version and switching `..data` to it:
 * const next = versionName(Date.now());
 * await Deno.mkdir(`${dir}/${next}`);
 * await Deno.symlink(next, `${dir}/..data_tmp`);
 * assert.deepEqual(sweepVersions(dir), ["..data_tmp", next].sort());
 * assert.equal(currentVersion(dir), version);
 * assert.equal(await Deno.readTextFile(`${dir}/a.json`), "{}");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function sweepVersions(dir: string): string[] {
  let current: string | undefined;
  try {
    current = currentVersion(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  try {
    for (const item of Deno.readDirSync(dir)) {
      const stray = (item.name === DATA_TMP && item.isSymlink) ||
        (item.isDirectory && isVersionName(item.name) && item.name !== current);
      if (!stray) continue;
      Deno.removeSync(join(dir, item.name), { recursive: true });
      removed.push(item.name);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory)) throw e;
  }
  return removed.sort();
}

/**
 * Turns a set directory back into plain files (`ATOMIC_SET` switched off): every visible
 * `name -> ..data/name` becomes a regular file holding the same bytes (a hard link to the
 * version's file where the file system allows, so a reader never sees it change), then `..data`
 * and the versions go. Other names are left alone. Returns the converted names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { publish, unpublish } from "./atomic_set.ts";
 * const dir = await Deno.makeTempDir();
 * const content = new TextEncoder().encode("{}");
 * const { version } = publish({
 *   dir,
 *   current: undefined,
 *   files: [{ name: "a.json", content }, { name: "b.json", content }],
 *   link: ["a.json", "b.json"],
 *   convert: [],
 *   unlink: [],
 * }, Date.now());
 * assert.deepEqual(unpublish(dir), ["a.json", "b.json"]);
 * assert.ok((await Deno.lstat(`${dir}/a.json`)).isFile);
 * assert.equal(await Deno.readTextFile(`${dir}/a.json`), "{}");
 * assert.deepEqual(Array.from(Deno.readDirSync(dir), (e) => e.name).sort(), ["a.json", "b.json"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function unpublish(dir: string): string[] {
  const current = currentVersion(dir);
  if (current === undefined) return [];
  const converted: string[] = [];
  for (const item of Deno.readDirSync(dir)) {
    if (!item.isSymlink || item.name.startsWith("..")) continue;
    const path = join(dir, item.name);
    const visible = inspectVisible(path);
    if (visible.kind !== "linked") continue;
    const tmp = join(dir, TEMP_PREFIX + randomHex());
    try {
      linkOrCopy(visible.physical, tmp);
      Deno.renameSync(tmp, path);
      converted.push(item.name);
    } catch (e) {
      quietly(() => Deno.removeSync(tmp));
      throw e;
    }
  }
  Deno.removeSync(join(dir, DATA_LINK));
  removeDataTmp(dir);
  // Without `..data`, every version is a stray.
  sweepVersions(dir);
  return converted.sort();
}

/**
 * Replaces the symlink at `path` (a visible name whose version file someone edited in place) by a
 * regular file holding the edited bytes, so the edit outlives the version it was made in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { detach, publish } from "./atomic_set.ts";
 * const dir = await Deno.makeTempDir();
 * const content = new TextEncoder().encode("{}");
 * const { version } = publish({
 *   dir,
 *   current: undefined,
 *   files: [{ name: "a.json", content }],
 *   link: ["a.json"],
 *   convert: [],
 *   unlink: [],
 * }, Date.now());
 * await Deno.writeTextFile(`${dir}/a.json`, "edited"); // in place, through the symlink
 * detach(`${dir}/a.json`, `${dir}/${version}/a.json`);
 * assert.ok((await Deno.lstat(`${dir}/a.json`)).isFile);
 * assert.equal(await Deno.readTextFile(`${dir}/a.json`), "edited");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function detach(path: string, physical: string): void {
  const tmp = join(path, "..", TEMP_PREFIX + randomHex());
  try {
    // A copy, not a link: the version's inode may be shared with other versions.
    copyFile(physical, tmp);
    Deno.renameSync(tmp, path);
  } catch (e) {
    quietly(() => Deno.removeSync(tmp));
    throw e;
  }
}

function quietly(fn: () => void): void {
  try {
    fn();
  } catch {
    // cleanup after a failure: the failure is what gets reported
  }
}

function removeDataTmp(dir: string): void {
  const path = join(dir, DATA_TMP);
  const info = lstatOrUndefined(path);
  if (info === undefined) return;
  if (!info.isSymlink) {
    throw new Error(`${path} is in the way and is not a symlink k8s-gsidecar made; remove it`);
  }
  Deno.removeSync(path);
}

function writeNew(path: string, content: Uint8Array, mode: number | undefined): StatSignature {
  Deno.writeFileSync(path, content, { createNew: true, ...(mode === undefined ? {} : { mode }) });
  // The mode given at creation is masked by the umask; an explicit mode must hold exactly.
  if (mode !== undefined) Deno.chmodSync(path, mode);
  return signatureOf(Deno.lstatSync(path));
}

/** Hard-links `from` to `to`; copies (bytes and mode) where the file system has no hard links. */
function linkOrCopy(from: string, to: string): StatSignature {
  try {
    Deno.linkSync(from, to);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.AlreadyExists) throw e;
    copyFile(from, to);
  }
  return signatureOf(Deno.lstatSync(to));
}

function copyFile(from: string, to: string): void {
  const info = Deno.lstatSync(from);
  if (!info.isFile) throw new Error(`${from} is not a regular file`);
  const mode = info.mode === null ? undefined : info.mode & 0o7777;
  writeNew(to, Deno.readFileSync(from), mode);
}

function replaceWithSymlink(path: string, target: string): void {
  const tmp = join(path, "..", TEMP_PREFIX + randomHex());
  Deno.symlinkSync(target, tmp);
  try {
    Deno.renameSync(tmp, path);
  } catch (e) {
    quietly(() => Deno.removeSync(tmp));
    throw e;
  }
}
