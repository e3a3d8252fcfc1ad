/**
 * `slack`: posts a message to a Slack incoming webhook (or anything that takes the same JSON:
 * Mattermost, Rocket.Chat…) after every change set that changed files.
 *
 * - The webhook URL is a secret: give it as `webhookUrl`, or better as `webhookUrlFile` (a mounted
 *   Secret, re-read and trimmed on every call). Messages and logs show only its origin
 *   (`https://hooks.slack.com`), never its path.
 * - The body is `{"text": …}` plus `channel` and `username` when given.
 * - `text` is a template: `{written}`, `{removed}`, `{rejected}` (counts) and `{seq}` are
 *   replaced; other braces stay. By default:
 *
 *   ```text
 *   k8s-gsidecar: 3 files written, 1 removed (change set 7)
 *   • written /config/a.json
 *   …
 *   ```
 *
 *   listing up to 10 files, then how many more.
 * - 2xx is success. Connection errors, timeouts (`timeoutMs`), 429 and 5xx are retried up to
 *   `retries` times with exponential backoff; other answers (a revoked webhook answers 403/404)
 *   are not. Redirects are not followed: the message would leave the webhook's host.
 *
 * @example
 * ```yaml
 * notifiers:
 *   - use: slack
 *     options:
 *       webhookUrlFile: /etc/slack/webhook-url
 *       channel: "#deployments"
 *       text: "grafana dashboards: {written} written, {removed} removed"
 * ```
 *
 * @module
 */
import type { ChangeSet, WriteResult } from "../../src/plugin/mod.ts";
import {
  defineNotifier,
  type Notifier,
  type NotifierDefinition,
  NotifyError,
} from "../../src/plugin/mod.ts";
import * as s from "../../src/plugin/_schema.ts";
import { errorMessage } from "../../src/plugin/http.ts";

const MAX_LISTED = 10;
const MAX_TIMEOUT_MS = 600_000;

const httpUrl = s.url();

const schema = s.object({
  webhookUrl: httpUrl.optional(),
  webhookUrlFile: s.string().min(1).optional(),
  channel: s.string().min(1).optional(),
  username: s.string().min(1).optional(),
  text: s.string().min(1).optional(),
  timeoutMs: s.number().int().positive().max(MAX_TIMEOUT_MS).default(10_000),
  retries: s.number().int().min(0).default(5),
  backoffMs: s.number().int().min(0).default(1000),
  skipInit: s.boolean().default(false),
}).refine(
  (o) => (o.webhookUrl === undefined) !== (o.webhookUrlFile === undefined),
  "give exactly one of webhookUrl or webhookUrlFile",
  { path: (o) => [o.webhookUrl === undefined ? "webhookUrl" : "webhookUrlFile"] },
);

/**
 * Options of the `slack` notifier as written in the configuration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SlackOptions } from "./mod.ts";
 * const options: SlackOptions = { webhookUrlFile: "/etc/slack/url", channel: "#ops" };
 * assert(options.channel === "#ops");
 * ```
 */
export type SlackOptions = s.Input<typeof schema>;

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * The message for a change set: `template` with `{written}`, `{removed}`, `{rejected}` and `{seq}`
 * replaced by counts and the change set number, or the default summary plus up to 10 files.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { slackText } from "./mod.ts";
 * const result = { written: ["/c/a.json"], removed: [], rejected: [] };
 * assert(slackText({ seq: 7, initial: false, changes: [] }, result, "{written} new") === "1 new");
 * assert(
 *   slackText({ seq: 7, initial: false, changes: [] }, result).startsWith(
 *     "k8s-gsidecar: 1 file written, 0 removed (change set 7)",
 *   ),
 * );
 * ```
 */
export function slackText(changeSet: ChangeSet, result: WriteResult, template?: string): string {
  if (template !== undefined) {
    const values: Record<string, string> = {
      written: String(result.written.length),
      removed: String(result.removed.length),
      rejected: String(result.rejected.length),
      seq: String(changeSet.seq),
    };
    return template.replace(
      /\{(written|removed|rejected|seq)\}/g,
      (_, name: string) => values[name] ?? "",
    );
  }
  const counts = [
    plural(result.written.length, "file written", "files written"),
    `${result.removed.length} removed`,
    ...(result.rejected.length > 0 ? [`${result.rejected.length} rejected`] : []),
  ];
  const set = changeSet.initial
    ? `initial sync, change set ${changeSet.seq}`
    : `change set ${changeSet.seq}`;
  const files = [
    ...result.written.map((p) => `• written ${p}`),
    ...result.removed.map((p) => `• removed ${p}`),
  ];
  const lines = [`k8s-gsidecar: ${counts.join(", ")} (${set})`, ...files.slice(0, MAX_LISTED)];
  if (files.length > MAX_LISTED) lines.push(`… and ${files.length - MAX_LISTED} more`);
  return lines.join("\n");
}

async function webhookUrl(options: s.Infer<typeof schema>): Promise<URL> {
  if (options.webhookUrl !== undefined) return new URL(options.webhookUrl);
  const path = options.webhookUrlFile ?? "";
  let text: string;
  try {
    text = (await Deno.readTextFile(path)).trim();
  } catch (e) {
    // A mounted Secret may appear late or be mid-rotation: worth a retry. Name the file only.
    throw new NotifyError(
      `cannot read webhookUrlFile ${path}: ${e instanceof Error ? e.name : e}`,
      {
        retryable: true,
      },
    );
  }
  const parsed = httpUrl.safeParse(text);
  if (parsed.issues) {
    // Never quote the content: it is the secret.
    throw new NotifyError(`webhookUrlFile ${path} does not hold an http(s) URL`, {
      retryable: text === "",
    });
  }
  return new URL(parsed.value);
}

/**
 * A fetch failure's description with the webhook URL (whose path is the secret) cut down to its
 * origin wherever it appears.
 */
function describeFailure(error: unknown, url: URL): string {
  let text = errorMessage(error)
    .replace(/\burl \([^)]*\)/g, `url (${url.origin})`)
    .replaceAll(url.href, url.origin);
  for (const secret of [`${url.pathname}${url.search}`, url.pathname, url.search]) {
    if (secret.length > 1) text = text.replaceAll(secret, "/…");
  }
  return text;
}

/**
 * The `slack` notifier definition.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import slack from "./mod.ts";
 * import { changeSetOf, receiver, startNotifier } from "../../src/testing/mod.ts";
 * await using hooks = receiver(); // stands in for https://hooks.slack.com
 * const webhookUrlFile = await Deno.makeTempFile();
 * await Deno.writeTextFile(webhookUrlFile, `${hooks.url}/services/T000/B000/XXXX\n`);
 * await using n = await startNotifier(slack, { webhookUrlFile, channel: "#deployments" });
 * const result = { written: ["/config/a.json"], removed: [], rejected: [] };
 * await n.notify(changeSetOf([], { seq: 7 }), result);
 * assert.deepEqual(JSON.parse(hooks.received[0]!.body), {
 *   text: "k8s-gsidecar: 1 file written, 0 removed (change set 7)\n• written /config/a.json",
 *   channel: "#deployments",
 * });
 * await Deno.remove(webhookUrlFile);
 * ```
 */
const slack: NotifierDefinition<s.Infer<typeof schema>> = defineNotifier({
  name: "slack",
  version: "1.0.0",
  options: schema,
  timeoutMs: MAX_TIMEOUT_MS + 5_000,
  create(options, ctx): Notifier {
    return {
      skipInitial: options.skipInit,
      retry: { retries: options.retries, backoffMs: options.backoffMs, maxDelayMs: 120_000 },
      async notify(changeSet, result) {
        const url = await webhookUrl(options);
        const origin = url.origin;
        const payload: Record<string, string> = {
          text: slackText(changeSet, result, options.text),
        };
        if (options.channel !== undefined) payload.channel = options.channel;
        if (options.username !== undefined) payload.username = options.username;
        const timeout = AbortSignal.timeout(options.timeoutMs);
        const signal = AbortSignal.any([ctx.signal, timeout]);
        let res: Response;
        try {
          res = await fetch(url, {
            method: "POST",
            headers: { "content-type": "application/json", "user-agent": "k8s-gsidecar" },
            body: JSON.stringify(payload),
            redirect: "manual",
            signal,
          });
          await res.body?.cancel();
        } catch (e) {
          const why = timeout.aborted
            ? `timed out after ${options.timeoutMs} ms`
            : ctx.signal.aborted
            ? "aborted"
            : describeFailure(e, url);
          throw new NotifyError(`POST to Slack webhook at ${origin} failed: ${why}`, {
            retryable: true,
          });
        }
        const status = res.status;
        if (status >= 200 && status < 300) {
          ctx.logger.debug("posted to Slack", { origin, status, seq: changeSet.seq });
          return;
        }
        const retryable = status === 429 || status >= 500;
        const note = status >= 300 && status < 400 ? " (redirects are not followed)" : "";
        throw new NotifyError(`Slack webhook at ${origin} answered ${status}${note}`, {
          retryable,
        });
      },
    };
  },
});
export default slack;
