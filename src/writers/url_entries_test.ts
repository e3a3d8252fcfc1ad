import assert from "node:assert/strict";
import type { Change, ChangeSet } from "../model.ts";
import { receiver } from "../testing/http.ts";
import { recordingLogger } from "../testing/logger.ts";
import { resolveUrlEntries, type UrlEntryOptions, urlEntryOptions } from "./url_entries.ts";

const PASSWORD = "url-Sup3r-s3cret";

function changeSet(urls: Record<string, string>): ChangeSet {
  const change: Change = {
    type: "upsert",
    ref: { kind: "configmap", namespace: "ns", name: "dash" },
    labels: {},
    annotations: {},
    entries: new Map(
      Object.entries(urls).map(([k, v]) => [k, new TextEncoder().encode(v)]),
    ),
    dir: "/data",
    namePrefix: "",
  };
  return { seq: 1, initial: false, changes: [change] };
}

function options(
  logger: UrlEntryOptions["logger"],
  extra: Partial<UrlEntryOptions> = {},
): UrlEntryOptions {
  return {
    timeoutMs: 5_000,
    retries: 0,
    backoffMs: 1,
    retryStatuses: [],
    logger,
    signal: new AbortController().signal,
    ...extra,
  };
}

const text = ({ changeSet: cs }: { changeSet: ChangeSet }, key: string) =>
  new TextDecoder().decode(cs.changes[0]!.entries.get(key));

Deno.test("urlEntryOptions() sends credentials to REQ_URL's origin and REQ_AUTH_ORIGINS only", async () => {
  await using listed = receiver((_n, req) =>
    new Response(req.headers.get("authorization") ?? "none")
  );
  await using other = receiver((_n, req) =>
    new Response(req.headers.get("authorization") ?? "none")
  );
  const { logger } = recordingLogger();
  const opts = urlEntryOptions(
    {
      timeoutMs: 5_000,
      retries: 0,
      backoffMs: 1,
      retryStatuses: [],
      skipTlsVerify: false,
      auth: { origins: [listed.origin], username: "admin", password: PASSWORD, encoding: "utf-8" },
    },
    logger,
    new AbortController().signal,
  );
  const out = await resolveUrlEntries(
    changeSet({ "a.json.url": `${listed.url}/a`, "b.json.url": `${other.url}/b` }),
    opts,
  );
  assert.equal(text(out, "a.json"), `Basic ${btoa(`admin:${PASSWORD}`)}`);
  assert.equal(text(out, "b.json"), "none");
});

Deno.test("resolveUrlEntries() says when a 401 comes from an origin that does not get the credentials", async () => {
  await using other = receiver(() => new Response("who are you?", { status: 401 }));
  const { logger, records } = recordingLogger();
  const out = await resolveUrlEntries(
    changeSet({ "a.json.url": `${other.url}/a?token=q-s3cret` }),
    options(logger, {
      auth: {
        origins: ["http://grafana:3000"],
        credentials: () => Promise.resolve({ username: "admin", password: PASSWORD }),
      },
    }),
  );
  assert.ok(out.held.get("configmap/ns/dash")?.has("a.json"), "the last good file stays");
  const error = String(records.find((r) => r.level === "error")?.fields.error);
  assert.equal(
    error,
    `GET ${other.url}/a?…: HTTP 401; REQ_USERNAME/REQ_PASSWORD are not sent to ${other.origin}: ` +
      "add it to REQ_AUTH_ORIGINS if it should get them: who are you?",
  );
});

Deno.test("resolveUrlEntries() logs the first 512 bytes of a failed download's body, credentials redacted", async () => {
  await using home = receiver((_n, req) =>
    new Response(`denied ${req.headers.get("authorization")} pw=${PASSWORD} ${"y".repeat(1000)}`, {
      status: 500,
    })
  );
  const { logger, records } = recordingLogger();
  await resolveUrlEntries(
    changeSet({ "a.json.url": `${home.url}/a` }),
    options(logger, {
      auth: {
        origins: [home.origin],
        credentials: () => Promise.resolve({ username: "admin", password: PASSWORD }),
      },
    }),
  );
  const error = String(records.find((r) => r.level === "error")?.fields.error);
  const prefix = `GET ${home.url}/a: HTTP 500: `;
  assert.ok(error.startsWith(prefix), error);
  const body = `denied Basic ${btoa(`admin:${PASSWORD}`)} pw=${PASSWORD} ${"y".repeat(1000)}`
    .slice(0, 512);
  assert.equal(
    error.slice(prefix.length),
    body.replace(`Basic ${btoa(`admin:${PASSWORD}`)}`, "[redacted]").replace(
      PASSWORD,
      "[redacted]",
    ),
  );
  assert.ok(!JSON.stringify(records).includes(PASSWORD));
  assert.ok(!JSON.stringify(records).includes(btoa(`admin:${PASSWORD}`)));
});

Deno.test("resolveUrlEntries() retries exactly the statuses it is given", async () => {
  await using flaky = receiver((n) =>
    new Response(n < 2 ? "busy" : "ok", { status: n < 2 ? 503 : 200 })
  );
  const { logger } = recordingLogger();
  const out = await resolveUrlEntries(
    changeSet({ "a.txt.url": `${flaky.url}/a` }),
    options(logger, { retries: 3, retryStatuses: [503] }),
  );
  assert.equal(text(out, "a.txt"), "ok");
  assert.equal(flaky.received.length, 3);
  flaky.received.length = 0;
  const held = await resolveUrlEntries(
    changeSet({ "a.txt.url": `${flaky.url}/a` }),
    options(logger, { retries: 3, retryStatuses: [500] }),
  );
  assert.ok(held.held.get("configmap/ns/dash")?.has("a.txt"));
  assert.equal(flaky.received.length, 1, "a 503 is final when only 500 is retried");
});
