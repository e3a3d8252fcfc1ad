import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { ObjectRef } from "../model.ts";
import type { LogFields, Logger } from "../plugin/logger.ts";
import { FileStore, ownerKey, RECORD_NAME, TEMP_PREFIX } from "./file_store.ts";
import { contentHash } from "./fs_ops.ts";

interface LogRecord {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  fields: LogFields | undefined;
}

/** A logger that remembers every line, so tests can assert on warnings. */
class RecordingLogger implements Logger {
  readonly category: readonly string[];
  readonly records: LogRecord[];
  constructor(category: readonly string[] = [], records: LogRecord[] = []) {
    this.category = category;
    this.records = records;
  }
  debug(message: string, fields?: LogFields): void {
    this.records.push({ level: "debug", message, fields });
  }
  info(message: string, fields?: LogFields): void {
    this.records.push({ level: "info", message, fields });
  }
  warn(message: string, fields?: LogFields): void {
    this.records.push({ level: "warn", message, fields });
  }
  error(message: string, fields?: LogFields): void {
    this.records.push({ level: "error", message, fields });
  }
  child(...category: string[]): Logger {
    return new RecordingLogger([...this.category, ...category], this.records);
  }
  warnings(): string[] {
    return this.records.filter((r) => r.level === "warn").map((r) => r.message);
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (s: string) => enc.encode(s);
/** What records written before content hashes held: SHA-256 digests. */
const sha = (t: string) => createHash("sha256").update(t).digest("hex");
const hashOf = (t: string) => contentHash(bytes(t));
const read = async (path: string) => dec.decode(await Deno.readFile(path));
const cm = (name: string, namespace = "ns"): ObjectRef => ({ kind: "configmap", namespace, name });

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

async function recordLines(folder: string): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(join(folder, RECORD_NAME));
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

async function withFolder(fn: (folder: string, logger: RecordingLogger) => Promise<void>) {
  const base = await Deno.makeTempDir({ prefix: "file_store_test_" });
  try {
    await fn(join(base, "out"), new RecordingLogger());
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const item of Deno.readDir(dir)) names.push(item.name);
  return names.sort();
}

// --- atomic writes ------------------------------------------------------------------------------

Deno.test("FileStore.sync() writes through a dot-prefixed temp file in the target's directory", async () => {
  await withFolder(async (folder, logger) => {
    const store = await FileStore.open({ folder, logger });
    const dir = join(folder, "sub");
    await Deno.mkdir(dir);
    const watcher = Deno.watchFs(dir, { recursive: false });
    const seen: string[] = [];
    const pump = (async () => {
      for await (const event of watcher) seen.push(...event.paths);
    })();
    try {
      await store.scoped("w").sync(cm("a"), [{ path: join(dir, "a.txt"), content: bytes("x") }]);
      // inotify delivers asynchronously; wait for the rename to show up.
      for (let i = 0; i < 200 && !seen.some((p) => p.endsWith("a.txt")); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      watcher.close();
      await pump;
      await store.close();
    }
    const temps = seen.filter((p) => p.startsWith(join(dir, TEMP_PREFIX)));
    assert.ok(temps.length > 0, `no temp file seen among ${seen.join(", ")}`);
    assert.ok(TEMP_PREFIX.startsWith("."));
    assert.deepEqual(await listDir(dir), ["a.txt"]);
  });
});

Deno.test("FileStore.sync() never lets a reader see a partial file", async () => {
  await withFolder(async (folder, logger) => {
    const store = await FileStore.open({ folder, logger });
    const sink = store.scoped("w");
    const path = join(folder, "big.bin");
    const a = new Uint8Array(1 << 20).fill(0x61);
    const b = new Uint8Array(1 << 20).fill(0x62);
    await sink.sync(cm("big"), [{ path, content: a }]);
    let done = false;
    const bad: number[] = [];
    let reads = 0;
    const reader = (async () => {
      while (!done) {
        const got = await Deno.readFile(path);
        reads++;
        const first = got[0];
        if (got.length !== a.length || !got.every((x) => x === first)) bad.push(got.length);
      }
    })();
    try {
      for (let i = 0; i < 40; i++) {
        await sink.sync(cm("big"), [{ path, content: i % 2 === 0 ? b : a }]);
      }
    } finally {
      done = true;
      await reader;
      await store.close();
    }
    assert.ok(reads > 0);
    assert.deepEqual(bad, []);
  });
});

Deno.test("FileStore.sync() creates missing parent directories", async () => {
  await withFolder(async (folder, logger) => {
    const store = await FileStore.open({ folder, logger });
    const path = join(folder, "x", "y", "z.json");
    const out = await store.scoped("w").sync(cm("a"), [{ path, content: bytes("{}") }]);
    await store.close();
    assert.deepEqual(out.written, [path]);
    assert.equal(await read(path), "{}");
  });
});

Deno.test("FileStore.sync() applies an explicit mode exactly, whatever the umask", async () => {
  await withFolder(async (folder, logger) => {
    const store = await FileStore.open({ folder, logger });
    const open = join(folder, "open.txt");
    const secret = join(folder, "secret.txt");
    await store.scoped("w").sync(cm("a"), [
      { path: open, content: bytes("o"), mode: 0o666 },
      { path: secret, content: bytes("s"), mode: 0o600 },
    ]);
    // Same content, new mode: changed in place.
    await store.scoped("w").sync(cm("a"), [
      { path: open, content: bytes("o"), mode: 0o644 },
      { path: secret, content: bytes("s"), mode: 0o600 },
    ]);
    await store.close();
    assert.equal((await Deno.stat(open)).mode! & 0o777, 0o644);
    assert.equal((await Deno.stat(secret)).mode! & 0o777, 0o600);
  });
});

// --- identical content ----------------------------------------------------------------------------

Deno.test("FileStore.sync() does not rewrite identical content, also after a restart", async () => {
  await withFolder(async (folder, logger) => {
    const path = join(folder, "a.json");
    let store = await FileStore.open({ folder, logger });
    await store.scoped("w").sync(cm("a"), [{ path, content: bytes('{"a":1}') }]);
    const before = await Deno.stat(path);
    await new Promise((r) => setTimeout(r, 20)); // so that a rewrite would show in mtime
    const again = await store.scoped("w").sync(cm("a"), [{ path, content: bytes('{"a":1}') }]);
    await store.close();
    store = await FileStore.open({ folder, logger });
    const afterRestart = await store.scoped("w").sync(cm("a"), [
      { path, content: bytes('{"a":1}') },
    ]);
    await store.close();
    const after = await Deno.stat(path);
    assert.deepEqual(again, { written: [], removed: [], warnings: [] });
    assert.deepEqual(afterRestart, { written: [], removed: [], warnings: [] });
    assert.equal(after.ino, before.ino);
    assert.equal(after.mtime?.getTime(), before.mtime?.getTime());
  });
});

// --- sync / remove / owned ----------------------------------------------------------------------

Deno.test("FileStore.sync() makes the owner's files exactly the given set", async () => {
  await withFolder(async (folder, logger) => {
    const store = await FileStore.open({ folder, logger });
    const sink = store.scoped("w");
    const [a, b, c] = ["a.txt", "b.txt", "c.txt"].map((n) => join(folder, n)) as [
      string,
      string,
      string,
    ];
    const first = await sink.sync(cm("x"), [
      { path: a, content: bytes("1") },
      { path: b, content: bytes("2") },
    ]);
    const second = await sink.sync(cm("x"), [
      { path: b, content: bytes("2!") },
      { path: c, content: bytes("3") },
    ]);
    const owned = sink.owned(cm("x"));
    await store.close();
    assert.deepEqual(first.written, [a, b]);
    assert.deepEqual(second.written, [b, c]);
    assert.deepEqual(second.removed, [a]);
    assert.deepEqual(owned, [b, c]);
    assert.equal(await exists(a), false);
    assert.equal(await read(b), "2!");
  });
});

Deno.test("FileStore.sync() keeps the last good file when its path is in keep", async () => {
  await withFolder(async (folder, logger) => {
    const store = await FileStore.open({ folder, logger });
    const sink = store.scoped("w");
    const good = join(folder, "good.json");
    const other = join(folder, "other.json");
    await sink.sync(cm("x"), [
      { path: good, content: bytes("{}") },
      { path: other, content: bytes("[]") },
    ]);
    const out = await sink.sync(cm("x"), [], { keep: [good] });
    const owned = sink.owned(cm("x"));
    await store.close();
    assert.deepEqual(out.removed, [other]);
    assert.deepEqual(out.written, []);
    assert.deepEqual(owned, [good]);
    assert.equal(await read(good), "{}");
  });
});

Deno.test("FileSink.remove() removes all of the owner's files and nothing else", async () => {
  await withFolder(async (folder, logger) => {
    const store = await FileStore.open({ folder, logger });
    const sink = store.scoped("w");
    const a = join(folder, "a.txt");
    const b = join(folder, "sub", "b.txt");
    const y = join(folder, "y.txt");
    await sink.sync(cm("x"), [{ path: a, content: bytes("a") }, { path: b, content: bytes("b") }]);
    await sink.sync(cm("y"), [{ path: y, content: bytes("y") }]);
    const out = await sink.remove(cm("x"));
    const owned = sink.owned(cm("x"));
    await store.close();
    assert.deepEqual(out.removed, [a, b]);
    assert.deepEqual(owned, []);
    assert.equal(await read(y), "y");
    // Directories made for subfolders stay.
    assert.equal((await Deno.stat(join(folder, "sub"))).isDirectory, true);
  });
});

Deno.test("FileStore scopes ownership per writer instance", async () => {
  await withFolder(async (folder, logger) => {
    const store = await FileStore.open({ folder, logger });
    const a = join(folder, "a.json");
    const t = join(folder, "a.txt");
    await store.scoped("json").sync(cm("x"), [{ path: a, content: bytes("{}") }]);
    await store.scoped("txt").sync(cm("x"), [{ path: t, content: bytes("t") }]);
    const jsonOwned = store.scoped("json").owned(cm("x"));
    const out = await store.scoped("txt").sync(cm("x"), []);
    const owners = store.owners();
    await store.close();
    assert.deepEqual(jsonOwned, [a]);
    assert.deepEqual(out.removed, [t]);
    assert.equal(await read(a), "{}");
    assert.deepEqual([...owners], [ownerKey("json", cm("x"))]);
  });
});

// --- foreign files ------------------------------------------------------------------------------

Deno.test("FileStore never overwrites or removes a file it did not write", async () => {
  await withFolder(async (folder, logger) => {
    await Deno.mkdir(folder, { recursive: true });
    const mine = join(folder, "app.json");
    await Deno.writeTextFile(mine, "user's");
    const store = await FileStore.open({ folder, logger });
    const sink = store.scoped("w");
    const out = await sink.sync(cm("x"), [{ path: mine, content: bytes("ours") }]);
    const owned = sink.owned(cm("x"));
    const removed = await sink.remove(cm("x"));
    const pruned = await store.prune(() => true);
    await store.close();
    assert.equal(await read(mine), "user's");
    assert.deepEqual(out.written, []);
    assert.equal(out.warnings.length, 1);
    assert.match(out.warnings[0]!, /app\.json/);
    assert.match(out.warnings[0]!, /w\|configmap\/ns\/x/);
    assert.ok(logger.warnings().some((w) => w.includes(mine)));
    assert.deepEqual(owned, []);
    assert.deepEqual(removed.removed, []);
    assert.deepEqual(pruned.removed, []);
  });
});

// --- ownership record ---------------------------------------------------------------------------

Deno.test("FileStore journals a claim before the file is written, as JSON lines", async () => {
  await withFolder(async (folder, logger) => {
    const store = await FileStore.open({ folder, logger });
    const path = join(folder, "a.json");
    await store.scoped("w").sync(cm("a"), [{ path, content: bytes("{}"), mode: 0o640 }]);
    // Read before close(): nothing is deferred to shutdown.
    const lines = await recordLines(folder);
    const mode = (await Deno.stat(join(folder, RECORD_NAME))).mode! & 0o777;
    await store.scoped("w").remove(cm("a"));
    const afterRemove = await recordLines(folder);
    await store.close();
    assert.deepEqual(lines.at(-1), {
      op: "claim",
      path,
      owner: "w|configmap/ns/a",
      hash: hashOf("{}"),
      mode: 0o640,
    });
    assert.deepEqual(afterRemove.at(-1), { op: "release", path });
    assert.equal(mode, 0o600);
    assert.ok(!RECORD_NAME.endsWith(".json") && !RECORD_NAME.endsWith(".yaml"));
  });
});

Deno.test("FileStore.open() restores ownership from the record of a previous run", async () => {
  await withFolder(async (folder, logger) => {
    const a = join(folder, "a.txt");
    const b = join(folder, "b.txt");
    let store = await FileStore.open({ folder, logger });
    await store.scoped("w").sync(cm("a"), [{ path: a, content: bytes("a") }]);
    await store.scoped("w").sync(cm("b"), [{ path: b, content: bytes("b") }]);
    await store.close();

    store = await FileStore.open({ folder, logger });
    const owners = store.owners();
    const owned = store.scoped("w").owned(cm("a"));
    // `b` was deleted while the sidecar was away: only `a` is live after the initial sync.
    await store.scoped("w").sync(cm("a"), [{ path: a, content: bytes("a") }]);
    const pruned = await store.prune((o) => o !== ownerKey("w", cm("a")));
    const ownersAfter = store.owners();
    await store.close();
    assert.deepEqual([...owners].sort(), ["w|configmap/ns/a", "w|configmap/ns/b"]);
    assert.deepEqual(owned, [a]);
    assert.deepEqual(pruned, { written: [], removed: [b], warnings: [] });
    assert.deepEqual([...ownersAfter], ["w|configmap/ns/a"]);
    assert.equal(await exists(b), false);
    assert.equal(await read(a), "a");
  });
});

Deno.test("FileStore.open() rewrites a recorded file that vanished and leaves one someone changed", async () => {
  await withFolder(async (folder, logger) => {
    const a = join(folder, "a.txt");
    const b = join(folder, "b.txt");
    let store = await FileStore.open({ folder, logger });
    await store.scoped("w").sync(cm("x"), [
      { path: a, content: bytes("a") },
      { path: b, content: bytes("b") },
    ]);
    await store.close();
    await Deno.writeTextFile(a, "edited by the application");
    await Deno.remove(b);

    store = await FileStore.open({ folder, logger });
    const out = await store.scoped("w").sync(cm("x"), [
      { path: a, content: bytes("a2") },
      { path: b, content: bytes("b") },
    ]);
    const removed = await store.scoped("w").remove(cm("x"));
    await store.close();
    assert.deepEqual(out.written, [b]);
    assert.deepEqual(removed.removed, [b]);
    assert.equal(await read(a), "edited by the application", "never overwritten nor removed");
    assert.ok(logger.warnings().some((w) => w.includes("changed since k8s-gsidecar wrote it")));
  });
});

Deno.test("FileStore.open() skips corrupt record lines with a warning", async () => {
  await withFolder(async (folder, logger) => {
    const a = join(folder, "a.txt");
    let store = await FileStore.open({ folder, logger });
    await store.scoped("w").sync(cm("x"), [{ path: a, content: bytes("a") }]);
    await store.close();
    const record = join(folder, RECORD_NAME);
    const good = await Deno.readTextFile(record);
    await Deno.writeTextFile(
      record,
      `not json\n{"op":"claim","path":"relative","owner":"o","hash":"00"}\n[1]\n` + good +
        `{"op":"claim","path":"${a}","ow`, // torn last line of a crash
    );

    store = await FileStore.open({ folder, logger });
    const owned = store.scoped("w").owned(cm("x"));
    const lines = await recordLines(folder);
    await store.close();
    assert.deepEqual(owned, [a]);
    assert.equal(logger.warnings().filter((w) => w.includes("damaged line")).length, 4);
    // Compacted on open: only valid lines remain.
    assert.equal(lines.length, 2);
  });
});

Deno.test("FileStore.open() forgets recorded paths outside the allowed folders", async () => {
  await withFolder(async (folder, logger) => {
    const outside = join(folder, "..", "victim.txt");
    await Deno.mkdir(folder, { recursive: true });
    await Deno.writeTextFile(outside, "precious");
    const hash = "0".repeat(64);
    await Deno.writeTextFile(
      join(folder, RECORD_NAME),
      JSON.stringify({ op: "claim", path: join(folder, "..", "victim.txt"), owner: "x", hash }) +
        "\n",
    );
    const store = await FileStore.open({ folder, logger });
    const owners = store.owners();
    const out = await store.prune(() => true);
    await store.close();
    assert.deepEqual([...owners], []);
    assert.deepEqual(out.removed, []);
    assert.equal(await read(outside), "precious");
    assert.ok(logger.warnings().some((w) => w.includes("outside")));
  });
});

Deno.test("FileStore.open() removes temp files left by a crash", async () => {
  await withFolder(async (folder, logger) => {
    await Deno.mkdir(folder, { recursive: true });
    const stray = join(folder, `${TEMP_PREFIX}deadbeef`);
    await Deno.writeTextFile(stray, "half");
    const store = await FileStore.open({ folder, logger });
    await store.close();
    assert.equal(await exists(stray), false);
  });
});

Deno.test("FileStore compacts the journal when it grows past four times the live entries", async () => {
  await withFolder(async (folder, logger) => {
    const store = await FileStore.open({ folder, logger });
    const sink = store.scoped("w");
    const path = join(folder, "a.txt");
    let longest = 0;
    for (let i = 0; i < 300; i++) {
      await sink.sync(cm("x"), [{ path, content: bytes(String(i)) }]);
      longest = Math.max(longest, (await recordLines(folder)).length);
    }
    await store.close();
    assert.ok(longest <= 65, `journal grew to ${longest} lines for one entry`);
    const lines = await recordLines(folder);
    const last = lines.findLast((l) => l.path === path);
    assert.equal(last?.op, "claim");
    assert.equal(await read(path), "299");
  });
});

Deno.test("FileStore handles thousands of files with one journal append per sync call", async () => {
  await withFolder(async (folder, logger) => {
    const store = await FileStore.open({ folder, logger });
    const sink = store.scoped("w");
    const files = Array.from({ length: 3000 }, (_, i) => ({
      path: join(folder, "many", `f${i}.txt`),
      content: bytes(`content ${i}`),
    }));
    const out = await sink.sync(cm("many"), files);
    const lines = await recordLines(folder);
    await store.close();
    assert.equal(out.written.length, 3000);
    assert.equal(lines.length, 3001);
    assert.equal((await listDir(join(folder, "many"))).length, 3000);
  });
});

Deno.test("FileSink.syncAll() writes many objects with one journal sync", async () => {
  await withFolder(async (folder, logger) => {
    const store = await FileStore.open({ folder, logger });
    const sink = store.scoped("w");
    const items = Array.from({ length: 200 }, (_, i) => ({
      ref: cm(`o${i}`),
      files: [{ path: join(folder, `o${i}.txt`), content: bytes(`content ${i}`) }],
    }));
    const before = store.stats.journalSyncs;
    const out = await sink.syncAll(items);
    const syncs = store.stats.journalSyncs - before;
    await store.close();
    assert.equal(out.written.length, 200);
    assert.deepEqual(out.refused, []);
    assert.equal(syncs, 1);
  });
});

Deno.test("FileSink.syncAll() refuses one object with a bad path and writes the others", async () => {
  await withFolder(async (folder, logger) => {
    const store = await FileStore.open({ folder, logger });
    const out = await store.scoped("w").syncAll([
      { ref: cm("good"), files: [{ path: join(folder, "good.txt"), content: bytes("g") }] },
      { ref: cm("bad"), files: [{ path: join(folder, "..", "escape.txt"), content: bytes("x") }] },
    ]);
    await store.close();
    assert.deepEqual(out.written, [join(folder, "good.txt")]);
    assert.deepEqual(out.refused.map((r) => r.ref.name), ["bad"]);
    assert.match(out.refused[0]!.reason, /outside/);
  });
});

Deno.test("FileSink.syncAll() of many new paths leaves what it did not write and adopts its own bytes", async () => {
  await withFolder(async (folder, logger) => {
    // 100 new paths in the folder and 40 in a directory that does not exist yet: each directory is
    // read once instead of an lstat per path; what is there must still be found.
    await Deno.mkdir(folder, { recursive: true });
    await Deno.writeTextFile(join(folder, "o7.txt"), "the application's own");
    await Deno.writeTextFile(join(folder, "o9.txt"), "content 9");
    await Deno.symlink(join(folder, "nowhere"), join(folder, "o11.txt"));
    const store = await FileStore.open({ folder, logger });
    const items = [
      ...Array.from({ length: 100 }, (_, i) => ({
        ref: cm(`o${i}`),
        files: [{ path: join(folder, `o${i}.txt`), content: bytes(`content ${i}`) }],
      })),
      ...Array.from({ length: 40 }, (_, i) => ({
        ref: cm(`n${i}`),
        files: [{ path: join(folder, "new", `n${i}.txt`), content: bytes(`new ${i}`) }],
      })),
    ];
    const out = await store.scoped("w").syncAll(items);
    await store.close();
    assert.equal(await read(join(folder, "o7.txt")), "the application's own");
    assert.equal((await Deno.lstat(join(folder, "o11.txt"))).isSymlink, true);
    assert.equal(await read(join(folder, "o9.txt")), "content 9");
    assert.equal(await read(join(folder, "new", "n39.txt")), "new 39");
    assert.equal(out.written.length, 100 + 40 - 3, "all but the foreign two and the adopted one");
    assert.equal(out.warnings.filter((w) => /not written by k8s-gsidecar/.test(w)).length, 2);
    const adopted = (await recordLines(folder)).filter((l) => l.path === join(folder, "o9.txt"));
    assert.equal(adopted.length, 1, "the adopted file is recorded as ours");
  });
});

// --- what the sidecar did not write -------------------------------------------------------------

Deno.test("FileStore neither overwrites nor removes a file the application edited since", async () => {
  await withFolder(async (folder, logger) => {
    const path = join(folder, "dash.json");
    const store = await FileStore.open({ folder, logger });
    const sink = store.scoped("w");
    await sink.sync(cm("x"), [{ path, content: bytes("v1") }]);
    await Deno.writeTextFile(path, "hand-edited");
    const update = await sink.sync(cm("x"), [{ path, content: bytes("v2") }]);
    const removal = await sink.remove(cm("x"));
    await store.close();
    assert.deepEqual(update.written, []);
    assert.deepEqual(removal.removed, []);
    assert.equal(await read(path), "hand-edited");
    assert.ok(update.warnings.some((w) => w.includes(path) && w.includes("left alone")));
  });
});

Deno.test("FileStore adopts files whose bytes it would write when the record is lost", async () => {
  await withFolder(async (folder, logger) => {
    const a = join(folder, "a.json");
    const b = join(folder, "b.json");
    let store = await FileStore.open({ folder, logger });
    await store.scoped("w").sync(cm("x"), [
      { path: a, content: bytes("a") },
      { path: b, content: bytes("b") },
    ]);
    await store.close();
    await Deno.remove(join(folder, RECORD_NAME));
    await Deno.writeTextFile(b, "the application's own b");

    store = await FileStore.open({ folder, logger });
    const sink = store.scoped("w");
    const adopt = await sink.sync(cm("x"), [
      { path: a, content: bytes("a") },
      { path: b, content: bytes("b") },
    ]);
    // Adopted: later updates apply to it again.
    const update = await sink.sync(cm("x"), [{ path: a, content: bytes("a2") }]);
    const afterUpdate = await read(a);
    await store.close();
    // …and it is in the record: removed after a restart when its object went away meanwhile.
    store = await FileStore.open({ folder, logger });
    const pruned = await store.prune(() => true);
    await store.close();
    assert.deepEqual(adopt.written, []);
    assert.ok(adopt.warnings.some((w) => w.includes(b)), "b holds other bytes: not adopted");
    assert.deepEqual(update.written, [a]);
    assert.equal(afterUpdate, "a2");
    assert.deepEqual(pruned.removed, [a]);
    assert.equal(await read(b), "the application's own b");
  });
});

Deno.test("FileStore records an adopted file even when its content does not change", async () => {
  await withFolder(async (folder, logger) => {
    const a = join(folder, "a.json");
    let store = await FileStore.open({ folder, logger });
    await store.scoped("w").sync(cm("x"), [{ path: a, content: bytes("a") }]);
    await store.close();
    await Deno.remove(join(folder, RECORD_NAME));
    store = await FileStore.open({ folder, logger });
    await store.scoped("w").sync(cm("x"), [{ path: a, content: bytes("a") }]);
    await store.close();
    store = await FileStore.open({ folder, logger });
    const pruned = await store.prune(() => true);
    await store.close();
    assert.deepEqual(pruned.removed, [a]);
  });
});

const HASHES: [string, (t: string) => string][] = [
  ["content hashes", hashOf],
  ["an older record's SHA-256", sha],
];
for (const [kind, hash] of HASHES) {
  Deno.test(`FileStore.open() recognises the old file after a crash between claim and rename (${kind})`, async () => {
    await withFolder(async (folder, logger) => {
      const path = join(folder, "a.json");
      let store = await FileStore.open({ folder, logger });
      await store.scoped("w").sync(cm("x"), [{ path, content: bytes("old") }]);
      await store.close();
      // What a crash after the claim of "new" was synced, before the rename, leaves behind.
      const owner = "w|configmap/ns/x";
      await Deno.writeTextFile(
        join(folder, RECORD_NAME),
        JSON.stringify({ op: "claim", path, owner, hash: hash("old") }) + "\n" +
          JSON.stringify({ op: "claim", path, owner, hash: hash("new"), prev: hash("old") }) +
          "\n",
      );
      store = await FileStore.open({ folder, logger });
      const out = await store.scoped("w").sync(cm("x"), [{ path, content: bytes("new") }]);
      await store.close();
      assert.deepEqual(out.written, [path]);
      assert.equal(await read(path), "new");
      assert.deepEqual(logger.warnings(), []);
    });
  });
}

Deno.test("FileStore.open() turns an older record's SHA-256 digests into content hashes", async () => {
  await withFolder(async (folder, logger) => {
    const kept = join(folder, "kept.json"), edited = join(folder, "edited.json");
    await Deno.mkdir(folder);
    await Deno.writeTextFile(kept, "kept");
    await Deno.writeTextFile(edited, "edited by hand");
    const owner = "w|configmap/ns/x";
    await Deno.writeTextFile(
      join(folder, RECORD_NAME),
      [
        { op: "meta", version: 1 },
        { op: "claim", path: kept, owner, hash: sha("kept") },
        { op: "claim", path: edited, owner, hash: sha("as written") },
      ].map((l) => JSON.stringify(l) + "\n").join(""),
    );
    const store = await FileStore.open({ folder, logger });
    const lines = await recordLines(folder);
    // The same content again: nothing to write, so the digest was recognised as this content's.
    const out = await store.scoped("w").sync(cm("x"), [{ path: kept, content: bytes("kept") }]);
    await store.close();
    assert.deepEqual(lines.filter((l) => l.op === "claim").map((l) => [l.path, l.hash]), [
      [kept, hashOf("kept")],
    ]);
    assert.deepEqual(out.written, []);
    assert.equal(await read(edited), "edited by hand");
    assert.deepEqual(
      logger.records.filter((r) => r.level === "warn").map((r) => [r.message, r.fields?.path]),
      [[
        "a recorded file changed since k8s-gsidecar wrote it: it is left alone and no longer managed",
        edited,
      ]],
    );
  });
});

Deno.test("FileStore.open() names a record path that is not a regular file", async () => {
  await withFolder(async (folder, logger) => {
    await Deno.mkdir(join(folder, RECORD_NAME), { recursive: true });
    await assert.rejects(
      () => FileStore.open({ folder, logger }),
      (e: Error) =>
        e.message.includes(join(folder, RECORD_NAME)) && /not a regular file/.test(e.message),
    );
  });
});

Deno.test("FileStore keeps the record in stateDir and moves an old one out of the folder", async () => {
  await withFolder(async (folder, logger) => {
    const stateDir = join(folder, "..", "state");
    const a = join(folder, "a.json");
    let store = await FileStore.open({ folder, logger });
    await store.scoped("w").sync(cm("x"), [{ path: a, content: bytes("a") }]);
    await store.close();
    assert.ok(await exists(join(folder, RECORD_NAME)));

    store = await FileStore.open({ folder, logger, stateDir });
    const owned = store.scoped("w").owned(cm("x"));
    const pruned = await store.prune(() => true);
    await store.close();
    assert.deepEqual(owned, [a], "ownership carried over");
    assert.deepEqual(pruned.removed, [a]);
    assert.deepEqual(await listDir(folder), [], "no record left in the folder");
    assert.equal((await listDir(stateDir)).length, 1);
  });
});

// --- failures -----------------------------------------------------------------------------------

Deno.test("FileStore retries a failed write until it succeeds, without a new change", async () => {
  await withFolder(async (folder, logger) => {
    const { FakeClock } = await import("../util/fake_clock.ts");
    const clock = new FakeClock();
    await Deno.mkdir(folder, { recursive: true });
    // A regular file where the target's directory should be: every write there fails.
    const blocker = join(folder, "sub");
    await Deno.writeTextFile(blocker, "in the way");
    const store = await FileStore.open({ folder, logger, clock, failureGraceMs: 5_000 });
    const repaired: string[][] = [];
    store.onRepaired((o) => repaired.push(o.written));
    const path = join(folder, "sub", "a.json");
    const out = await store.scoped("w").sync(cm("x"), [{ path, content: bytes("a") }]);
    assert.deepEqual(out.written, []);
    assert.equal(store.failingPaths, 1);
    await clock.advance(6_000);
    const problems = store.problems();
    await Deno.remove(blocker);
    await clock.runUntil(() => repaired.length > 0);
    await store.close();
    assert.ok(store.stats.failures >= 2, "retried while the disk refused");
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /sub\/a\.json: failing for \d+s/);
    assert.deepEqual(repaired, [[path]]);
    assert.equal(await read(path), "a");
    assert.equal(store.failingPaths, 0);
    assert.deepEqual(store.problems(), []);
  });
});

// --- conflicts ----------------------------------------------------------------------------------

Deno.test("FileStore gives a contested path to the first owner key, whoever syncs first", async () => {
  for (const order of ["winner first", "loser first"]) {
    await withFolder(async (folder, logger) => {
      const store = await FileStore.open({ folder, logger });
      const sink = store.scoped("w");
      const path = join(folder, "dash.json");
      const sync = {
        winner: () => sink.sync(cm("aaa"), [{ path, content: bytes("A") }]),
        loser: () => sink.sync(cm("bbb"), [{ path, content: bytes("B") }]),
      };
      const second = order === "winner first"
        ? (await sync.winner(), await sync.loser())
        : (await sync.loser(), await sync.winner());
      const content = await read(path);
      const winnerOwned = sink.owned(cm("aaa"));
      await store.close();
      assert.equal(content, "A", order);
      assert.equal(second.warnings.length, 1, order);
      assert.match(second.warnings[0]!, /w\|configmap\/ns\/aaa.*w\|configmap\/ns\/bbb/);
      assert.ok(logger.warnings().some((w) => w.includes("bbb") && w.includes("aaa")));
      assert.deepEqual(winnerOwned, [path]);
    });
  }
});

Deno.test("FileStore brings in the loser's content when the winner stops claiming the path", async () => {
  for (const order of ["winner first", "loser first"]) {
    for (const how of ["remove", "sync without it"]) {
      await withFolder(async (folder, logger) => {
        const store = await FileStore.open({ folder, logger });
        const path = join(folder, "dash.json");
        const winner = store.scoped("a-writer");
        const loser = store.scoped("b-writer");
        const ref = cm("same");
        const steps = [
          () => winner.sync(ref, [{ path, content: bytes("A") }]),
          () => loser.sync(ref, [{ path, content: bytes("B") }]),
        ];
        if (order === "loser first") steps.reverse();
        for (const step of steps) await step();
        const out = how === "remove" ? await winner.remove(ref) : await winner.sync(ref, []);
        const content = await read(path);
        const loserOwned = loser.owned(ref);
        const gone = await loser.remove(ref);
        await store.close();
        const label = `${order}, ${how}`;
        assert.equal(content, "B", label);
        assert.deepEqual(out.written, [path], label);
        assert.deepEqual(out.removed, [], label);
        assert.deepEqual(loserOwned, [path], label);
        assert.deepEqual(gone.removed, [path], label);
        assert.equal(await exists(path), false, label);
      });
    }
  }
});

Deno.test("FileStore never touches the winner's file when the loser goes away", async () => {
  for (const order of ["winner first", "loser first"]) {
    await withFolder(async (folder, logger) => {
      const store = await FileStore.open({ folder, logger });
      const sink = store.scoped("w");
      const path = join(folder, "dash.json");
      const steps = [
        () => sink.sync(cm("aaa"), [{ path, content: bytes("A") }]),
        () => sink.sync(cm("bbb"), [{ path, content: bytes("B") }]),
      ];
      if (order === "loser first") steps.reverse();
      for (const step of steps) await step();
      const before = await Deno.stat(path);
      const out = await sink.remove(cm("bbb"));
      const after = await Deno.stat(path);
      const gone = await sink.remove(cm("aaa"));
      await store.close();
      assert.deepEqual(out, { written: [], removed: [], warnings: [] }, order);
      assert.equal(after.ino, before.ino, order);
      assert.equal(await exists(path), false, order);
      assert.deepEqual(gone.removed, [path], order);
    });
  }
});

Deno.test("FileStore.prune() hands a path of an orphaned winner to the live loser", async () => {
  await withFolder(async (folder, logger) => {
    const path = join(folder, "dash.json");
    let store = await FileStore.open({ folder, logger });
    await store.scoped("w").sync(cm("aaa"), [{ path, content: bytes("A") }]);
    await store.close();

    // Next run: `aaa` is gone, `bbb` now maps to the same path.
    store = await FileStore.open({ folder, logger });
    const initial = await store.scoped("w").sync(cm("bbb"), [{ path, content: bytes("B") }]);
    const before = await read(path);
    const pruned = await store.prune((o) => o !== ownerKey("w", cm("bbb")));
    await store.close();
    assert.deepEqual(initial.written, []);
    assert.equal(before, "A");
    assert.deepEqual(pruned.written, [path]);
    assert.equal(await read(path), "B");
  });
});

Deno.test("FileStore serializes concurrent calls from several sinks", async () => {
  await withFolder(async (folder, logger) => {
    const store = await FileStore.open({ folder, logger });
    const path = join(folder, "shared.txt");
    const outs = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) =>
          store.scoped(`w${String(i).padStart(2, "0")}`).sync(cm("x"), [
            { path, content: bytes(String(i)) },
            { path: join(folder, `own${i}.txt`), content: bytes("o") },
          ]),
      ),
    );
    await store.close();
    assert.equal(await read(path), "0");
    assert.equal(outs.reduce((n, o) => n + o.written.length, 0), 21);
  });
});

// --- path safety --------------------------------------------------------------------------------

Deno.test("FileStore.sync() refuses unsafe paths and writes nothing", async () => {
  await withFolder(async (folder, logger) => {
    const store = await FileStore.open({ folder, logger });
    const sink = store.scoped("w");
    const ok = { path: join(folder, "ok.txt"), content: bytes("ok") };
    const bad = [
      "relative.txt",
      `${folder}/../escape.txt`,
      folder,
      join(folder, RECORD_NAME),
      join(folder, "sub", RECORD_NAME),
      join(folder, `${TEMP_PREFIX}x`),
    ];
    try {
      for (const path of bad) {
        await assert.rejects(
          () => sink.sync(cm("x"), [ok, { path, content: bytes("no") }]),
          (e: Error) => e.message.includes(path),
          path,
        );
      }
      assert.deepEqual(await listDir(folder), [RECORD_NAME]);
      assert.equal(await exists(join(folder, "..", "escape.txt")), false);
    } finally {
      await store.close();
    }
  });
});

Deno.test("FileStore.sync() refuses a path under a symlinked directory that points outside", async () => {
  await withFolder(async (folder, logger) => {
    const outside = join(folder, "..", "outside");
    await Deno.mkdir(outside, { recursive: true });
    await Deno.mkdir(folder, { recursive: true });
    await Deno.symlink(outside, join(folder, "link"));
    const store = await FileStore.open({ folder, logger });
    const path = join(folder, "link", "deeper", "evil.txt");
    try {
      await assert.rejects(
        () => store.scoped("w").sync(cm("x"), [{ path, content: bytes("x") }]),
        (e: Error) => e.message.includes(path),
      );
    } finally {
      await store.close();
    }
    assert.deepEqual(await listDir(outside), []);
  });
});

Deno.test("FileStore.sync() writes under an allowed root outside the folder", async () => {
  await withFolder(async (folder, logger) => {
    const root = join(folder, "..", "extra");
    const store = await FileStore.open({ folder, logger, allowedRoots: [root] });
    const path = join(root, "sub", "a.txt");
    const inside = join(folder, "link-ok");
    await Deno.mkdir(join(folder, "real"));
    // A symlink that stays inside the folder is fine.
    await Deno.symlink(join(folder, "real"), inside);
    const out = await store.scoped("w").sync(cm("x"), [
      { path, content: bytes("a") },
      { path: join(inside, "b.txt"), content: bytes("b") },
    ]);
    await store.close();
    assert.deepEqual(out.written, [path, join(inside, "b.txt")].sort());
    assert.equal(await read(path), "a");
    assert.equal(await read(join(folder, "real", "b.txt")), "b");
  });
});

Deno.test("FileStore.close() waits for pending calls and refuses later ones", async () => {
  await withFolder(async (folder, logger) => {
    const store = await FileStore.open({ folder, logger });
    const path = join(folder, "a.txt");
    const pending = store.scoped("w").sync(cm("x"), [{ path, content: bytes("a") }]);
    await store.close();
    await store.close();
    assert.deepEqual((await pending).written, [path]);
    await assert.rejects(() => store.scoped("w").remove(cm("x")), /closed/);
    assert.equal(await read(path), "a");
  });
});
