import assert from "node:assert/strict";
import { join } from "node:path";
import {
  currentVersion,
  DATA_LINK,
  DATA_TMP,
  inspectVisible,
  isVersionName,
  publish,
  type PublishPlan,
  sweepVersions,
  unpublish,
  versionName,
} from "./atomic_set.ts";
import { signatureOf } from "./fs_ops.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "atomic_set_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function names(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir), (e) => e.name)).sort();
}

function plan(dir: string, current: string | undefined, p: Partial<PublishPlan>): PublishPlan {
  return { dir, current, files: [], link: [], convert: [], unlink: [], ...p };
}

Deno.test("versionName() makes sortable names that isVersionName() recognises, and only those", () => {
  const a = versionName(Date.UTC(2025, 0, 2, 15, 4, 5, 7));
  assert.match(a, /^\.\.gsidecar_2025_01_02_15_04_05\.007_[0-9a-f]{8}$/);
  assert.ok(isVersionName(a));
  assert.notEqual(versionName(0), versionName(0));
  for (const other of ["..data", "..data_tmp", "..2025_01_02_15_04_05.123456789", "a.json"]) {
    assert.ok(!isVersionName(other), other);
  }
});

Deno.test("publish() builds a version, switches ..data and removes the previous one", async () => {
  await withDir(async (dir) => {
    const first = publish(
      plan(dir, undefined, {
        files: [{ name: "a", content: bytes("1"), mode: 0o640 }],
        link: ["a"],
      }),
      0,
    );
    assert.equal(currentVersion(dir), first.version);
    assert.equal((await Deno.stat(join(dir, "a"))).mode! & 0o777, 0o640);
    const second = publish(
      plan(dir, first.version, {
        files: [{ name: "b", content: bytes("2") }, {
          name: "a",
          from: join(dir, first.version!, "a"),
        }],
        link: ["b"],
      }),
      0,
    );
    assert.deepEqual(await names(dir), [DATA_LINK, second.version, "a", "b"].sort());
    assert.equal(
      second.sigs.get("a"),
      first.sigs.get("a"),
      "hard-linked: the same inode, untouched",
    );
    const third = publish(
      plan(dir, second.version, {
        files: [{ name: "b", from: join(dir, second.version!, "b") }],
        unlink: ["a"],
      }),
      0,
    );
    assert.deepEqual(third.unlinked, ["a"]);
    assert.deepEqual(await names(dir), [DATA_LINK, third.version, "b"].sort());
  });
});

Deno.test("publish() of no files removes ..data, the names and the last version", async () => {
  await withDir(async (dir) => {
    const first = publish(
      plan(dir, undefined, { files: [{ name: "a", content: bytes("1") }], link: ["a"] }),
      0,
    );
    await Deno.writeTextFile(join(dir, "plain"), "p");
    const out = publish(plan(dir, first.version, { unlink: ["a"] }), 0);
    assert.equal(out.version, undefined);
    assert.deepEqual(out.unlinked, ["a"]);
    assert.deepEqual(await names(dir), ["plain"]);
    assert.equal(currentVersion(dir), undefined);
  });
});

Deno.test("publish() undoes everything when the switch fails, leaving the previous set current", async () => {
  await withDir(async (dir) => {
    const first = publish(
      plan(dir, undefined, { files: [{ name: "a", content: bytes("1") }], link: ["a"] }),
      0,
    );
    await Deno.mkdir(join(dir, DATA_TMP, "in-the-way"), { recursive: true });
    assert.throws(
      () =>
        publish(
          plan(dir, first.version, {
            files: [{ name: "a", content: bytes("2") }, { name: "n", content: bytes("n") }],
            link: ["n"],
          }),
          0,
        ),
      (e: Error) => e.message.includes(DATA_TMP),
    );
    assert.deepEqual(await names(dir), [DATA_LINK, DATA_TMP, first.version!, "a"].sort());
    assert.equal(await Deno.readTextFile(join(dir, "a")), "1");
  });
});

Deno.test("publish() reports a name taken by someone else instead of replacing it", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "a"), "theirs");
    const out = publish(
      plan(dir, undefined, { files: [{ name: "a", content: bytes("ours") }], link: ["a"] }),
      0,
    );
    assert.deepEqual(out.collided, ["a"]);
    assert.equal(await Deno.readTextFile(join(dir, "a")), "theirs");
  });
});

Deno.test("inspectVisible() follows only the set's own link form", async () => {
  await withDir(async (dir) => {
    const out = publish(
      plan(dir, undefined, { files: [{ name: "a", content: bytes("1") }], link: ["a"] }),
      0,
    );
    await Deno.writeTextFile(join(dir, "plain"), "p");
    await Deno.symlink("/etc/hostname", join(dir, "planted"));
    await Deno.symlink(`${DATA_LINK}/gone`, join(dir, "gone"));
    await Deno.mkdir(join(dir, "sub"));
    const a = inspectVisible(join(dir, "a"));
    assert.equal(a.kind, "linked");
    assert.equal(a.kind === "linked" && a.physical, join(dir, out.version!, "a"));
    assert.equal((inspectVisible(join(dir, "plain"))).kind, "file");
    assert.equal((inspectVisible(join(dir, "planted"))).kind, "other");
    assert.equal((inspectVisible(join(dir, "sub"))).kind, "other");
    assert.deepEqual(inspectVisible(join(dir, "gone")), { kind: "missing", link: true });
    assert.deepEqual(inspectVisible(join(dir, "none")), { kind: "missing", link: false });
  });
});

Deno.test("currentVersion() refuses a ..data the sidecar did not make", async () => {
  await withDir(async (dir) => {
    assert.equal(currentVersion(dir), undefined);
    await Deno.symlink("..2025_01_02_15_04_05.123456789", join(dir, DATA_LINK));
    assert.throws(() => currentVersion(dir), /not a link to a version k8s-gsidecar made/);
    // A version name that is itself a symlink could lead reads and links anywhere.
    const planted = versionName(0);
    await Deno.symlink("/etc", join(dir, planted));
    await Deno.remove(join(dir, DATA_LINK));
    await Deno.symlink(planted, join(dir, DATA_LINK));
    assert.throws(() => currentVersion(dir), /not a link to a version k8s-gsidecar made/);
  });
});

Deno.test("publish() gives a version the folder's mode, whatever the umask", async () => {
  await withDir(async (dir) => {
    await Deno.chmod(dir, 0o751);
    const out = publish(
      plan(dir, undefined, { files: [{ name: "a", content: bytes("1") }], link: ["a"] }),
      0,
    );
    assert.equal((await Deno.stat(join(dir, out.version!))).mode! & 0o7777, 0o751);
  });
});

Deno.test("sweepVersions() removes ..data_tmp and versions ..data does not name, nothing else", async () => {
  await withDir(async (dir) => {
    const out = publish(
      plan(dir, undefined, { files: [{ name: "a", content: bytes("1") }], link: ["a"] }),
      0,
    );
    const stray = versionName(0);
    await Deno.mkdir(join(dir, stray));
    await Deno.symlink(stray, join(dir, DATA_TMP));
    await Deno.mkdir(join(dir, "..2025_01_02_15_04_05.123456789"));
    assert.deepEqual(sweepVersions(dir), [DATA_TMP, stray].sort());
    assert.deepEqual(
      await names(dir),
      [DATA_LINK, "..2025_01_02_15_04_05.123456789", out.version, "a"].sort(),
    );
  });
});

Deno.test("unpublish() turns the set's links into plain files with the same bytes", async () => {
  await withDir(async (dir) => {
    const out = publish(
      plan(dir, undefined, {
        files: [{ name: "a", content: bytes("1"), mode: 0o600 }, {
          name: "b",
          content: bytes("2"),
        }],
        link: ["a", "b"],
      }),
      0,
    );
    await Deno.writeTextFile(join(dir, "plain"), "p");
    assert.deepEqual(unpublish(dir), ["a", "b"]);
    assert.deepEqual(await names(dir), ["a", "b", "plain"]);
    const a = await Deno.lstat(join(dir, "a"));
    assert.ok(a.isFile);
    assert.equal(signatureOf(a), out.sigs.get("a"), "the same file, hard-linked out");
    assert.equal(a.mode! & 0o777, 0o600);
    assert.equal(await Deno.readTextFile(join(dir, "b")), "2");
  });
});
