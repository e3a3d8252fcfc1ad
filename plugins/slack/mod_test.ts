import assert from "node:assert/strict";
import { join } from "node:path";
import type { ChangeSet, WriteResult } from "../../src/model.ts";
import { type Notifier, NotifyError } from "../../src/plugin/contract.ts";
import { closedPort, receiver, startNotifier } from "../../src/testing/mod.ts";
import slack, { type SlackOptions, slackText } from "./mod.ts";

/** The secret part of a Slack webhook URL. */
const SECRET_PATH = "/services/T000/B000/XXXXs3cretXXXX";

/** A receiver whose `url` is a Slack-like webhook URL with the secret path. */
function slackReceiver(answer?: (n: number) => Response | Promise<Response>) {
  const r = receiver(answer);
  return { ...r, url: `${r.origin}${SECRET_PATH}` };
}

async function make(options: SlackOptions | Record<string, unknown>) {
  const n = await startNotifier(slack, options);
  return { notifier: n.notifier, rec: n };
}

const changeSet: ChangeSet = { seq: 7, initial: false, changes: [] };
const result: WriteResult = {
  written: ["/config/a.json", "/config/b.json", "/config/c.json"],
  removed: ["/config/old.json"],
  rejected: [],
};

async function notifyError(notifier: Notifier): Promise<NotifyError> {
  try {
    await notifier.notify(changeSet, result);
  } catch (e) {
    assert.ok(e instanceof NotifyError, `expected NotifyError, got ${e}`);
    return e;
  }
  assert.fail("notify() succeeded");
}

function assertNoSecret(...texts: string[]): void {
  for (const text of texts) {
    assert.ok(!text.includes("s3cret"), `webhook path leaked into: ${text}`);
  }
}

Deno.test("slack notifier posts a one-line summary and the changed files to the webhook", async () => {
  const { server, received, url } = slackReceiver();
  try {
    const { notifier } = await make({ webhookUrl: url, channel: "#ops", username: "sidecar" });
    await notifier.notify(changeSet, result);
    assert.equal(received.length, 1);
    assert.equal(received[0]!.path, SECRET_PATH);
    assert.equal(received[0]!.contentType, "application/json");
    assert.deepEqual(JSON.parse(received[0]!.body), {
      text: [
        "k8s-gsidecar: 3 files written, 1 removed (change set 7)",
        "• written /config/a.json",
        "• written /config/b.json",
        "• written /config/c.json",
        "• removed /config/old.json",
      ].join("\n"),
      channel: "#ops",
      username: "sidecar",
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("slack notifier default text lists at most 10 files and counts rejections", () => {
  const many: WriteResult = {
    written: Array.from({ length: 12 }, (_, i) => `/c/${i}.json`),
    removed: [],
    rejected: [{ ref: { kind: "configmap", namespace: "ns", name: "x" }, key: "k", reason: "bad" }],
  };
  const lines = slackText({ seq: 1, initial: true, changes: [] }, many).split("\n");
  assert.equal(
    lines[0],
    "k8s-gsidecar: 12 files written, 0 removed, 1 rejected (initial sync, change set 1)",
  );
  assert.equal(lines.length, 12);
  assert.equal(lines[10], "• written /c/9.json");
  assert.equal(lines[11], "… and 2 more");
  const one = slackText(changeSet, { written: ["/c/a"], removed: [], rejected: [] });
  assert.match(one, /^k8s-gsidecar: 1 file written, 0 removed \(change set 7\)/);
});

Deno.test("slack notifier fills the text template placeholders", async () => {
  const { server, received, url } = slackReceiver();
  try {
    const { notifier } = await make({
      webhookUrl: url,
      text: "#{seq}: {written} written, {removed} removed, {rejected} rejected {other}",
    });
    await notifier.notify(changeSet, result);
    assert.deepEqual(JSON.parse(received[0]!.body), {
      text: "#7: 3 written, 1 removed, 0 rejected {other}",
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("slack notifier re-reads webhookUrlFile on every call", async () => {
  const { server, received, origin } = slackReceiver();
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "url");
    await Deno.writeTextFile(file, `${origin}/services/one\n`);
    const { notifier } = await make({ webhookUrlFile: file });
    await notifier.notify(changeSet, result);
    await Deno.writeTextFile(file, `${origin}/services/two`);
    await notifier.notify(changeSet, result);
    assert.deepEqual(received.map((r) => r.path), ["/services/one", "/services/two"]);
    await Deno.writeTextFile(file, `not a url ${SECRET_PATH}`);
    const garbled = await notifyError(notifier);
    assert.equal(garbled.retryable, false);
    assertNoSecret(garbled.message);
    await Deno.remove(file);
    const missing = await notifyError(notifier);
    assert.equal(missing.retryable, true);
    assert.match(missing.message, /cannot read webhookUrlFile .*url: NotFound/);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("slack notifier retries 429 and 5xx but not other 4xx or redirects", async () => {
  let status = 500;
  const { server, url, origin } = slackReceiver(() =>
    new Response("no", { status, headers: status === 302 ? { location: "/elsewhere" } : {} })
  );
  try {
    const { notifier } = await make({ webhookUrl: url });
    const cases: [number, boolean][] = [
      [500, true],
      [503, true],
      [429, true],
      [400, false],
      [403, false],
      [404, false],
      [302, false],
    ];
    for (const [s, retryable] of cases) {
      status = s;
      const error = await notifyError(notifier);
      assert.equal(error.retryable, retryable, `status ${s}`);
      assert.match(error.message, new RegExp(`^Slack webhook at ${origin} answered ${s}`));
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("slack notifier never shows the webhook URL, only its origin", async () => {
  const { server, url, origin } = slackReceiver(() => new Response("no", { status: 500 }));
  try {
    const up = await make({ webhookUrl: url });
    await up.notifier.notify(changeSet, result).catch(() => {});
    const ok = slackReceiver();
    try {
      const fine = await make({ webhookUrl: ok.url });
      await fine.notifier.notify(changeSet, result);
      assert.match(fine.rec.text(), new RegExp(`posted to Slack .*"origin":"${ok.origin}"`));
      assertNoSecret(fine.rec.text());
    } finally {
      await ok.server.shutdown();
    }
    const port = await closedPort();
    const down = await make({ webhookUrl: `http://127.0.0.1:${port}${SECRET_PATH}?x=s3cret` });
    const refused = await notifyError(down.notifier);
    assert.equal(refused.retryable, true);
    assert.match(
      refused.message,
      new RegExp(`^POST to Slack webhook at http://127.0.0.1:${port} failed: `),
    );
    assertNoSecret(refused.message, up.rec.text(), down.rec.text(), String(refused.cause));
    assert.ok(!origin.includes("s3cret"));
  } finally {
    await server.shutdown();
  }
});

Deno.test("slack notifier reports a request that exceeds timeoutMs as retryable", async () => {
  let release = () => {};
  const hanging = new Promise<void>((r) => release = r);
  const { server, url } = slackReceiver(async () => {
    await hanging;
    return new Response("late");
  });
  try {
    const { notifier } = await make({ webhookUrl: url, timeoutMs: 50 });
    const error = await notifyError(notifier);
    assert.equal(error.retryable, true);
    assert.match(error.message, /timed out after 50 ms/);
  } finally {
    release();
    await server.shutdown();
  }
});

Deno.test("slack notifier options need exactly one webhook source and refuse bad fields by name", async () => {
  const { notifier } = await make({ webhookUrl: "http://127.0.0.1:1/x", retries: 2 });
  assert.deepEqual(notifier.retry, { retries: 2, backoffMs: 1000, maxDelayMs: 120_000 });
  await assert.rejects(
    make({}),
    /slack#0 "slack": invalid options: webhookUrl: give exactly one of webhookUrl or webhookUrlFile/,
  );
  await assert.rejects(
    make({ webhookUrl: "http://127.0.0.1:1/x", webhookUrlFile: "/u" }),
    /webhookUrlFile: give exactly one/,
  );
  await assert.rejects(make({ webhookUrl: "hooks.slack.com/x" }), /webhookUrl: must be an http/);
  await assert.rejects(make({ webhookUrlFile: "/u", timeoutMs: -1 }), /timeoutMs: /);
  await assert.rejects(make({ webhookUrlFile: "/u", chanel: "#x" }), /invalid options: .*chanel/);
});
