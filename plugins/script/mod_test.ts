import assert from "node:assert/strict";
import { join } from "node:path";
import type { ChangeSet, WriteResult } from "../../src/model.ts";
import { NotifyError } from "../../src/plugin/contract.ts";
import { startNotifier } from "../../src/testing/mod.ts";
import script from "./mod.ts";

const changeSet: ChangeSet = { seq: 7, initial: false, changes: [] };
const result: WriteResult = {
  written: ["/f/a.json", "/f/b.json"],
  removed: ["/f/c.json"],
  rejected: [],
};

async function withScript(
  body: string,
  fn: (path: string, dir: string) => Promise<void>,
  mode = 0o755,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "hook.sh");
    await Deno.writeTextFile(path, body, { mode });
    await Deno.chmod(path, mode);
    await fn(path, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function make(options: Record<string, unknown>) {
  const n = await startNotifier(script, options);
  return { notifier: n.notifier, rec: n };
}

Deno.test("script notifier passes the change summary in the environment and logs the output", async () => {
  await withScript(
    '#!/bin/sh\necho "seq=$GSIDECAR_SEQ initial=$GSIDECAR_INITIAL w=$GSIDECAR_WRITTEN_COUNT r=$GSIDECAR_REMOVED_COUNT"\n' +
      'printf "%s" "$GSIDECAR_WRITTEN" > "$(dirname "$0")/written"\necho "pw=${REQ_PASSWORD:-unset}"\n',
    async (path, dir) => {
      Deno.env.set("REQ_PASSWORD", "never-shown");
      try {
        const { notifier, rec } = await make({ path });
        await notifier.notify(changeSet, result);
        assert.match(rec.text(), /seq=7 initial=false w=2 r=1/);
        assert.match(rec.text(), /pw=unset/, "the notifier's password is not handed to scripts");
        assert.equal(await Deno.readTextFile(join(dir, "written")), "/f/a.json\n/f/b.json");
      } finally {
        Deno.env.delete("REQ_PASSWORD");
      }
    },
  );
});

Deno.test("script notifier runs a non-executable file with sh", async () => {
  await withScript("echo via-sh\n", async (path) => {
    const { notifier, rec } = await make({ path });
    await notifier.notify(changeSet, result);
    assert.match(rec.text(), /via-sh/);
  }, 0o644);
});

Deno.test("script notifier reports a failing script as a NotifyError naming it and its exit code", async () => {
  await withScript("#!/bin/sh\necho broken >&2\nexit 3\n", async (path) => {
    const { notifier, rec } = await make({ path });
    const err = await notifier.notify(changeSet, result).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof NotifyError);
    assert.match(err.message, /hook\.sh exited with 3/);
    assert.match(rec.text(), /broken/);
  });
});

Deno.test("script notifier kills a script that outlives its timeout", async () => {
  await withScript("#!/bin/sh\nexec sleep 30\n", async (path) => {
    const { notifier } = await make({ path, timeoutMs: 300 });
    const err = await notifier.notify(changeSet, result).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof NotifyError);
    assert.match(err.message, /killed after 300 ms/);
  });
});

Deno.test("script notifier refuses unknown options, naming the field", async () => {
  await assert.rejects(
    make({ path: "/x", tiemout: 1 }),
    /script#0 "script": invalid options: .*tiemout/,
  );
});
