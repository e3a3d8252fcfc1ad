/**
 * The file store with `atomicSet`: each directory is one set behind a `..data` symlink. The
 * plain-mode rules are in `file_store_test.ts`; these tests cover what the set layout changes.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { ObjectRef } from "../model.ts";
import { recordingLogger } from "../testing/logger.ts";
import { FakeClock } from "../util/fake_clock.ts";
import { DATA_LINK, DATA_TMP, isVersionName } from "./atomic_set.ts";
import { FileStore, type FileStoreOptions, RECORD_NAME, TEMP_PREFIX } from "./file_store.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (s: string) => enc.encode(s);
const read = async (path: string) => dec.decode(await Deno.readFile(path));
const cm = (name: string, namespace = "ns"): ObjectRef => ({ kind: "configmap", namespace, name });
const sha = (t: string) => createHash("sha256").update(t).digest("hex");

type Options = Omit<FileStoreOptions, "folder" | "logger">;

async function withFolder(
  fn: (folder: string, open: (opts?: Options) => Promise<FileStore>, log: () => string) => unknown,
) {
  const base = await Deno.makeTempDir({ prefix: "file_store_atomic_test_" });
  const { logger, text } = recordingLogger();
  const folder = join(base, "out");
  try {
    await fn(
      folder,
      (opts) => FileStore.open({ folder, logger, atomicSet: true, ...opts }),
      text,
    );
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

/** Every name in `dir`, dotfiles included. */
async function names(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir), (e) => e.name)).sort();
}

async function versions(dir: string): Promise<string[]> {
  return (await names(dir)).filter(isVersionName);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Reads `names` of `dir` the way a careful reader does: resolve `..data` once, then read. */
async function readSet(dir: string, files: string[]): Promise<string[] | undefined> {
  const version = await Deno.readLink(join(dir, DATA_LINK));
  const got: string[] = [];
  for (const f of files) {
    try {
      got.push(await read(join(dir, version, f)));
    } catch (e) {
      // The version is being removed since the reader resolved it: it reads again. The version
      // ..data still names without the file is incomplete, which must never happen.
      const now = await Deno.readLink(join(dir, DATA_LINK)).catch(() => undefined);
      if (e instanceof Deno.errors.NotFound && now !== version) return undefined;
      throw e;
    }
  }
  return got;
}

/**
 * Fires retry timers until `condition` holds. A publish does real I/O, which settles outside the
 * fake clock's microtask rounds, so between timers this waits for the store on the real clock.
 */
async function untilRetried(clock: FakeClock, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) {
    if (clock.pending > 0) await clock.advance(60_000);
    else await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(condition(), "the retry never happened");
}

// --- layout ------------------------------------------------------------------------------------

Deno.test("FileStore with atomicSet publishes files behind ..data, one version per directory", async () => {
  await withFolder(async (folder, open) => {
    const store = await open();
    const out = await store.scoped("w").syncAll([
      { ref: cm("x"), files: [{ path: join(folder, "a.json"), content: bytes("A") }] },
      { ref: cm("y"), files: [{ path: join(folder, "b.json"), content: bytes("BB") }] },
    ]);
    await store.close();
    assert.deepEqual(out.written, [join(folder, "a.json"), join(folder, "b.json")]);
    const [version, ...more] = await versions(folder);
    assert.ok(version !== undefined && more.length === 0, "exactly one version");
    assert.equal(await Deno.readLink(join(folder, DATA_LINK)), version);
    assert.equal(await Deno.readLink(join(folder, "a.json")), "..data/a.json");
    assert.equal(await Deno.readLink(join(folder, "b.json")), "..data/b.json");
    assert.deepEqual(await names(join(folder, version)), ["a.json", "b.json"]);
    assert.equal(await read(join(folder, "a.json")), "A");
    assert.deepEqual(
      await names(folder),
      [DATA_LINK, RECORD_NAME, version, "a.json", "b.json"].sort(),
    );
  });
});

Deno.test("FileStore with atomicSet switches ..data once per sink call and not for identical content", async () => {
  await withFolder(async (folder, open) => {
    const store = await open();
    const sink = store.scoped("w");
    const a = join(folder, "a.json");
    const b = join(folder, "b.json");
    const c = join(folder, "c.json");
    await sink.syncAll([
      { ref: cm("x"), files: [{ path: a, content: bytes("1") }, { path: b, content: bytes("1") }] },
      { ref: cm("y"), files: [{ path: c, content: bytes("keep") }] },
    ]);
    const first = await Deno.readLink(join(folder, DATA_LINK));
    const cInode = (await Deno.stat(c)).ino;
    const same = await sink.sync(cm("x"), [
      { path: a, content: bytes("1") },
      { path: b, content: bytes("1") },
    ]);
    const unchanged = await Deno.readLink(join(folder, DATA_LINK));
    const changed = await sink.sync(cm("x"), [{ path: a, content: bytes("2") }]);
    const second = await Deno.readLink(join(folder, DATA_LINK));
    await store.close();
    assert.deepEqual(same.written, []);
    assert.equal(unchanged, first, "nothing changed: no new version");
    assert.deepEqual(changed.written, [a]);
    assert.deepEqual(changed.removed, [b]);
    assert.notEqual(second, first);
    assert.deepEqual(await versions(folder), [second], "the previous version is removed");
    assert.deepEqual(await names(join(folder, second)), ["a.json", "c.json"]);
    assert.equal(await exists(b), false, "the removed name's link is gone");
    assert.equal((await Deno.stat(c)).ino, cInode, "an unchanged file is hard-linked, not copied");
    assert.equal(await read(a), "2");
  });
});

Deno.test("FileStore with atomicSet never lets a reader of ..data see files of two change sets", async () => {
  await withFolder(async (folder, open) => {
    const store = await open();
    const sink = store.scoped("w");
    const files = ["a.json", "b.json"];
    // Generation n: a.json has n+1 bytes, b.json 2n+1: a mix shows as sizes that disagree.
    const gen = (n: number) => [
      { path: join(folder, "a.json"), content: bytes("a".repeat(n + 1)) },
      { path: join(folder, "b.json"), content: bytes("b".repeat(2 * n + 1)) },
    ];
    await sink.sync(cm("x"), gen(0));
    let done = false;
    let reads = 0;
    const mixed: string[] = [];
    const reader = (async () => {
      while (!done) {
        const got = await readSet(folder, files).catch((e) => {
          mixed.push(String(e));
          return undefined;
        });
        if (got === undefined) continue;
        reads++;
        const [a, b] = got as [string, string];
        if (b.length !== 2 * (a.length - 1) + 1) mixed.push(`${a.length}/${b.length}`);
        await new Promise((r) => setTimeout(r, 0));
      }
    })();
    try {
      for (let n = 1; n <= 150; n++) await sink.sync(cm("x"), gen(n));
    } finally {
      done = true;
      await reader;
      await store.close();
    }
    assert.ok(reads > 0);
    assert.deepEqual(mixed, []);
    assert.equal((await read(join(folder, "b.json"))).length, 301);
  });
});

Deno.test("FileStore with atomicSet makes each annotation folder its own set", async () => {
  await withFolder(async (folder, open) => {
    const store = await open();
    const sub = join(folder, "team", "rules");
    await store.scoped("w").syncAll([
      { ref: cm("x"), files: [{ path: join(folder, "a.yaml"), content: bytes("a") }] },
      { ref: cm("y"), files: [{ path: join(sub, "r.yaml"), content: bytes("r") }] },
    ]);
    const top = await Deno.readLink(join(folder, DATA_LINK));
    await store.scoped("w").sync(cm("y"), [{ path: join(sub, "r.yaml"), content: bytes("r2") }]);
    await store.close();
    assert.equal(await Deno.readLink(join(folder, DATA_LINK)), top, "the top set did not move");
    assert.equal(await read(join(sub, "r.yaml")), "r2");
    assert.equal(await Deno.readLink(join(sub, "r.yaml")), "..data/r.yaml");
    assert.equal((await versions(sub)).length, 1);
    assert.deepEqual(await names(join(folder, top)), ["a.yaml"]);
  });
});

Deno.test("FileStore with atomicSet applies an explicit mode to the version's file", async () => {
  await withFolder(async (folder, open) => {
    const store = await open();
    const sink = store.scoped("w");
    const a = join(folder, "a.json");
    await sink.sync(cm("x"), [{ path: a, content: bytes("s"), mode: 0o600 }]);
    const before = await Deno.realPath(a);
    const out = await sink.sync(cm("x"), [{ path: a, content: bytes("s"), mode: 0o640 }]);
    await store.close();
    assert.deepEqual(out.written, [], "a mode change is not new content");
    assert.equal((await Deno.stat(a)).mode! & 0o777, 0o640);
    assert.notEqual(await Deno.realPath(a), before, "a mode change is a new version too");
  });
});

Deno.test("FileStore with atomicSet refuses names reserved for the set layout", async () => {
  await withFolder(async (folder, open) => {
    const store = await open();
    const sink = store.scoped("w");
    await sink.sync(cm("x"), [{ path: join(folder, "a.json"), content: bytes("a") }]);
    for (const path of [join(folder, "..data2"), join(folder, DATA_LINK, "x.json")]) {
      await assert.rejects(
        () => sink.sync(cm("y"), [{ path, content: bytes("x") }]),
        (e: Error) => e.message.includes("reserved") && e.message.includes(path),
      );
    }
    await store.close();
  });
});

// --- ownership ---------------------------------------------------------------------------------

Deno.test("FileStore with atomicSet never replaces or removes a regular file it did not write", async () => {
  await withFolder(async (folder, open) => {
    await Deno.mkdir(folder, { recursive: true });
    const mine = join(folder, "mine.json");
    await Deno.writeTextFile(mine, "the application's");
    const store = await open();
    const sink = store.scoped("w");
    const out = await sink.syncAll([
      { ref: cm("x"), files: [{ path: mine, content: bytes("sidecar's") }] },
      { ref: cm("y"), files: [{ path: join(folder, "b.json"), content: bytes("b") }] },
    ]);
    const removal = await sink.remove(cm("x"));
    await store.close();
    assert.deepEqual(out.written, [join(folder, "b.json")]);
    assert.ok(out.warnings.some((w) => w.includes(mine) && w.includes("not written by")));
    assert.deepEqual(removal.removed, []);
    assert.equal(await read(mine), "the application's");
    assert.ok((await Deno.lstat(mine)).isFile);
  });
});

Deno.test("FileStore with atomicSet keeps a file edited through its link as a regular file", async () => {
  await withFolder(async (folder, open) => {
    const store = await open();
    const sink = store.scoped("w");
    const a = join(folder, "a.json");
    const b = join(folder, "b.json");
    await sink.syncAll([
      { ref: cm("x"), files: [{ path: a, content: bytes("a1") }] },
      { ref: cm("y"), files: [{ path: b, content: bytes("b1") }] },
    ]);
    // Written through the symlink: the version's own file changes.
    await Deno.writeTextFile(a, "edited by hand");
    const update = await sink.sync(cm("x"), [{ path: a, content: bytes("a2") }]);
    const other = await sink.sync(cm("y"), [{ path: b, content: bytes("b2") }]);
    const removal = await sink.remove(cm("x"));
    await store.close();
    assert.deepEqual(update.written, []);
    assert.ok(update.warnings.some((w) => w.includes(a) && w.includes("left alone")));
    assert.deepEqual(other.written, [b]);
    assert.deepEqual(removal.removed, []);
    assert.ok((await Deno.lstat(a)).isFile, "no longer a link into a version");
    assert.equal(await read(a), "edited by hand", "the edit outlived its version");
    const version = await Deno.readLink(join(folder, DATA_LINK));
    assert.deepEqual(await names(join(folder, version)), ["b.json"]);
  });
});

Deno.test("FileStore with atomicSet adopts the set's files when the record is lost", async () => {
  await withFolder(async (folder, open) => {
    const a = join(folder, "a.json");
    const b = join(folder, "b.json");
    const files = [{ path: a, content: bytes("a") }];
    let store = await open();
    await store.scoped("w").syncAll([
      { ref: cm("x"), files },
      { ref: cm("y"), files: [{ path: b, content: bytes("b") }] },
    ]);
    await store.close();
    await Deno.remove(join(folder, RECORD_NAME));

    store = await open();
    const sink = store.scoped("w");
    const adopt = await sink.sync(cm("x"), files);
    // Another object's change publishes a new version: b.json, unknown now, is carried along.
    await sink.sync(cm("z"), [{ path: join(folder, "c.json"), content: bytes("c") }]);
    const bAfter = await read(b);
    const adoptB = await sink.sync(cm("y"), [{ path: b, content: bytes("b") }]);
    const update = await sink.sync(cm("x"), [{ path: a, content: bytes("a2") }]);
    await store.close();
    store = await open();
    const pruned = await store.prune((o) => o.endsWith("/x") || o.endsWith("/y"));
    await store.close();
    assert.deepEqual(adopt.written, []);
    assert.deepEqual(adopt.warnings, []);
    assert.equal(bAfter, "b");
    assert.deepEqual(adoptB.written, []);
    assert.deepEqual(update.written, [a]);
    assert.deepEqual(pruned.removed, [a, b]);
    assert.equal(await exists(a), false);
    assert.equal(await read(join(folder, "c.json")), "c");
  });
});

Deno.test("FileStore with atomicSet brings in the loser's content when the winner leaves", async () => {
  await withFolder(async (folder, open) => {
    const store = await open();
    const sink = store.scoped("w");
    const path = join(folder, "dash.json");
    await sink.sync(cm("bbb"), [{ path, content: bytes("B") }]);
    const conflict = await sink.sync(cm("aaa"), [{ path, content: bytes("A") }]);
    const won = await read(path);
    const handover = await sink.remove(cm("aaa"));
    const after = await read(path);
    const last = await sink.remove(cm("bbb"));
    await store.close();
    assert.equal(conflict.warnings.length, 1);
    assert.equal(won, "A");
    assert.deepEqual(handover.written, [path]);
    assert.equal(after, "B");
    assert.deepEqual(last.removed, [path]);
    assert.deepEqual(await names(folder), [RECORD_NAME], "an empty set leaves no ..data");
  });
});

// --- restarts ----------------------------------------------------------------------------------

Deno.test("FileStore with atomicSet recovers from a crash between building a version and switching", async () => {
  await withFolder(async (folder, open, log) => {
    const a = join(folder, "a.json");
    const b = join(folder, "b.json");
    const owner = "w|configmap/ns/x";
    let store = await open();
    await store.scoped("w").sync(cm("x"), [{ path: a, content: bytes("old") }]);
    await store.close();
    const current = await Deno.readLink(join(folder, DATA_LINK));
    // What a SIGKILL after the claims were synced and the new version built leaves behind.
    const stray = "..gsidecar_2030_01_01_00_00_00.000_0123abcd";
    await Deno.mkdir(join(folder, stray));
    await Deno.writeTextFile(join(folder, stray, "a.json"), "new");
    await Deno.writeTextFile(join(folder, stray, "b.json"), "new b");
    await Deno.symlink("..data/b.json", b);
    await Deno.symlink(stray, join(folder, DATA_TMP));
    await Deno.writeTextFile(
      join(folder, RECORD_NAME),
      [
        { op: "claim", path: a, owner, hash: sha("new"), prev: sha("old") },
        { op: "claim", path: b, owner, hash: sha("new b") },
      ].map((l) => JSON.stringify(l) + "\n").join(""),
      { append: true },
    );
    await Deno.writeTextFile(join(folder, TEMP_PREFIX + "0000"), "half");

    store = await open();
    const intact = [await read(a), await Deno.readLink(join(folder, DATA_LINK))];
    const left = await names(folder);
    const out = await store.scoped("w").sync(cm("x"), [
      { path: a, content: bytes("new") },
      { path: b, content: bytes("new b") },
    ]);
    await store.close();
    assert.deepEqual(intact, ["old", current], "the previous set is intact");
    assert.deepEqual(left, [DATA_LINK, RECORD_NAME, current, "a.json", "b.json"].sort());
    assert.match(log(), /removed versions left by an interrupted publish/);
    assert.deepEqual(out.written, [a, b]);
    assert.equal(await read(a), "new");
    assert.equal(await read(b), "new b");
    assert.equal((await versions(folder)).length, 1);
  });
});

Deno.test("FileStore with atomicSet recovers from a crash after the switch, before the cleanup", async () => {
  await withFolder(async (folder, open) => {
    const a = join(folder, "a.json");
    let store = await open();
    const sink = store.scoped("w");
    await sink.sync(cm("x"), [{ path: a, content: bytes("v1") }]);
    const old = await Deno.readLink(join(folder, DATA_LINK));
    // Keep a copy of v1's version, as if its removal had not happened yet.
    const kept = join(folder, "..gsidecar_2000_01_01_00_00_00.000_00000000");
    await Deno.mkdir(kept);
    await Deno.copyFile(join(folder, old, "a.json"), join(kept, "a.json"));
    await sink.sync(cm("x"), [{ path: a, content: bytes("v2") }]);
    await store.close();
    store = await open();
    await store.close();
    assert.deepEqual(await versions(folder), [await Deno.readLink(join(folder, DATA_LINK))]);
    assert.equal(await read(a), "v2");
  });
});

Deno.test("FileStore moves plain files into a set when atomicSet is switched on", async () => {
  await withFolder(async (folder, open) => {
    const a = join(folder, "a.json");
    const sub = join(folder, "sub", "r.yaml");
    const foreign = join(folder, "foreign.json");
    let store = await open({ atomicSet: false });
    await store.scoped("w").syncAll([
      { ref: cm("x"), files: [{ path: a, content: bytes("a") }] },
      { ref: cm("y"), files: [{ path: sub, content: bytes("r") }] },
    ]);
    await store.close();
    await Deno.writeTextFile(foreign, "not the sidecar's");
    const inode = (await Deno.lstat(a)).ino;

    store = await open();
    const converted = [await Deno.readLink(a), await Deno.readLink(sub)];
    const unchanged = await store.scoped("w").sync(cm("x"), [{ path: a, content: bytes("a") }]);
    const pruned = await store.prune((o) => o.endsWith("/y"));
    await store.close();
    assert.deepEqual(converted, ["..data/a.json", "..data/r.yaml"]);
    assert.equal((await Deno.stat(a)).ino, inode, "the same file, moved into the version");
    assert.deepEqual(unchanged.written, []);
    assert.deepEqual(pruned.removed, [sub]);
    assert.equal(await read(a), "a");
    assert.ok((await Deno.lstat(foreign)).isFile, "a foreign file is not moved");
    assert.equal(await read(foreign), "not the sidecar's");
  });
});

Deno.test("FileStore never moves into a set a plain file someone replaced since", async () => {
  await withFolder(async (folder, open, log) => {
    const a = join(folder, "a.json");
    let store = await open({ atomicSet: false });
    await store.scoped("w").sync(cm("x"), [{ path: a, content: bytes("a") }]);
    await store.close();
    // The move at open fails (something in the way of the switch) and is retried later.
    await Deno.mkdir(join(folder, DATA_TMP, "blocker"), { recursive: true });
    const clock = new FakeClock();
    store = await open({ clock });
    const failing = store.failingPaths;
    await Deno.writeTextFile(a, "the application's own a");
    await Deno.remove(join(folder, DATA_TMP), { recursive: true });
    await untilRetried(clock, () => store.failingPaths === 0);
    await store.close();
    assert.equal(failing, 1);
    assert.match(log(), /not moving into the set .*a\.json: it changed since/);
    assert.ok((await Deno.lstat(a)).isFile);
    assert.equal(await read(a), "the application's own a");
  });
});

Deno.test("FileStore turns a set back into plain files when atomicSet is switched off", async () => {
  await withFolder(async (folder, open, log) => {
    const a = join(folder, "a.json");
    const b = join(folder, "b.json");
    let store = await open();
    await store.scoped("w").syncAll([
      { ref: cm("x"), files: [{ path: a, content: bytes("a") }] },
      { ref: cm("y"), files: [{ path: b, content: bytes("b") }] },
    ]);
    await store.close();
    const inode = (await Deno.stat(a)).ino;

    store = await open({ atomicSet: false });
    const plain = await names(folder);
    const update = await store.scoped("w").sync(cm("x"), [{ path: a, content: bytes("a2") }]);
    const pruned = await store.prune((o) => o.endsWith("/y"));
    await store.close();
    assert.deepEqual(plain, [RECORD_NAME, "a.json", "b.json"]);
    assert.match(log(), /turned a whole-set folder back into plain files/);
    assert.deepEqual(update.written, [a]);
    assert.deepEqual(pruned.removed, [b]);
    assert.ok((await Deno.lstat(a)).isFile);
    assert.equal(await read(a), "a2");
    assert.notEqual((await Deno.stat(a)).ino, inode);
  });
});

Deno.test("FileStore turns a set back into plain files after a lost record too", async () => {
  await withFolder(async (folder, open) => {
    const a = join(folder, "a.json");
    const sub = join(folder, "sub");
    const r = join(sub, "r.yaml");
    let store = await open();
    await store.scoped("w").syncAll([
      { ref: cm("x"), files: [{ path: a, content: bytes("a") }] },
      { ref: cm("y"), files: [{ path: r, content: bytes("r") }] },
    ]);
    await store.close();
    await Deno.remove(join(folder, RECORD_NAME));

    store = await open({ atomicSet: false });
    // The subfolder is unknown without the record: it is converted when its file is met.
    const out = await store.scoped("w").syncAll([
      { ref: cm("x"), files: [{ path: a, content: bytes("a") }] },
      { ref: cm("y"), files: [{ path: r, content: bytes("r") }] },
    ]);
    await store.close();
    assert.deepEqual(out.written, []);
    assert.deepEqual(out.warnings, []);
    assert.deepEqual(await names(folder), [RECORD_NAME, "a.json", "sub"]);
    assert.deepEqual(await names(sub), ["r.yaml"]);
    assert.ok((await Deno.lstat(r)).isFile);
  });
});

// --- failures ----------------------------------------------------------------------------------

Deno.test("FileStore with atomicSet retries a set that could not be published, whole", async () => {
  await withFolder(async (folder, open) => {
    const clock = new FakeClock();
    const store = await open({ clock, failureGraceMs: 5_000 });
    const repaired: string[][] = [];
    store.onRepaired((o) => repaired.push([...o.written, ...o.removed]));
    const sink = store.scoped("w");
    const a = join(folder, "a.json");
    const b = join(folder, "b.json");
    const c = join(folder, "c.json");
    await sink.syncAll([
      {
        ref: cm("x"),
        files: [{ path: a, content: bytes("a1") }, { path: b, content: bytes("b1") }],
      },
      { ref: cm("y"), files: [{ path: c, content: bytes("c") }] },
    ]);
    const before = await Deno.readLink(join(folder, DATA_LINK));
    // Something in the way of the switch: a directory where ..data_tmp goes.
    await Deno.mkdir(join(folder, DATA_TMP, "blocker"), { recursive: true });
    const out = await sink.syncAll([
      {
        ref: cm("x"),
        files: [{ path: a, content: bytes("a2") }, { path: b, content: bytes("b2") }],
      },
      { ref: cm("y"), files: [] },
    ]);
    const during = [await read(a), await read(b), await read(c)];
    await clock.advance(6_000);
    const problems = store.problems();
    await Deno.remove(join(folder, DATA_TMP), { recursive: true });
    await untilRetried(clock, () => repaired.length > 0);
    await store.close();
    assert.deepEqual(out.written, []);
    assert.deepEqual(out.removed, []);
    assert.ok(out.warnings.some((w) => w.includes("could not publish")));
    assert.deepEqual(during, ["a1", "b1", "c"], "the previous set stays whole");
    assert.equal(problems.length, 3);
    assert.ok(problems.every((p) => p.includes("..data_tmp")), problems.join("\n"));
    assert.deepEqual(repaired, [[a, b, c]], "one retry published the whole set");
    assert.equal(await read(a), "a2");
    assert.equal(await read(b), "b2");
    assert.equal(await exists(c), false);
    assert.notEqual(await Deno.readLink(join(folder, DATA_LINK)), before);
    assert.equal((await versions(folder)).length, 1, "the failed attempts left no version");
    assert.equal(store.failingPaths, 0);
  });
});

Deno.test("FileStore with atomicSet names a ..data it did not make and never takes it over", async () => {
  await withFolder(async (folder, open) => {
    await Deno.mkdir(join(folder, DATA_LINK), { recursive: true });
    const clock = new FakeClock();
    const store = await open({ clock });
    const out = await store.scoped("w").sync(cm("x"), [
      { path: join(folder, "a.json"), content: bytes("a") },
    ]);
    await store.close();
    assert.deepEqual(out.written, []);
    assert.ok(
      out.warnings.some((w) => w.includes(join(folder, DATA_LINK)) && w.includes("not a link")),
      out.warnings.join("\n"),
    );
    assert.ok((await Deno.lstat(join(folder, DATA_LINK))).isDirectory);
    assert.equal(await exists(join(folder, "a.json")), false);
  });
});
