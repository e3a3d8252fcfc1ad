/**
 * kiwigrid/k8s-sidecar's own end-to-end cases, run against this project with `COMPAT=kiwigrid`:
 * the 55 checks of kiwigrid's CI (.github/workflows/build_and_test.yaml, numbered in the order of
 * the Rust port's tally of them, vplme/k8s-sidecar-rs test/run.sh) and the 33 of the Rust
 * port's extended suite (test/run-ext.sh), on the pods and objects of
 * `fixtures/kiwigrid-e2e/` (see its README).
 *
 * Every pod is the sidecar from source, as its own process with its pod's service-account
 * token, in a private mount namespace where `/tmp`, `/opt`, `/srv` and the service-account
 * mount are its own (tests/harness/pod_runner.ts). Both suites run at once on one control plane,
 * in the order kiwigrid's CI uses: cluster objects, pods (ready), `resources.yaml`, checks of the
 * initial sync, `change_resources.yaml`, checks of the update; the extended suite creates its
 * objects case by case, as run-ext.sh does.
 *
 * A check whose meaning this project keeps different on purpose asserts this project's
 * documented behaviour instead and says so in its name ("differs: …", or "migrated: …" where
 * the README's migration adds a variable to the pod); the README section
 * "Coming from kiwigrid or the Grafana chart" lists each one and why.
 *
 * Needs root (mount namespaces). Run under the shared lock:
 *   flock /tmp/gsidecar-heavy.lock deno test --allow-all tests/kiwigrid_e2e_test.ts
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { encodeBase64 } from "../src/util/base64.ts";
import type { KubeObject } from "../src/kube/client.ts";
import { type Cluster, startCluster } from "./harness/cluster.ts";
import { dummyServer } from "./harness/dummy_server.ts";
import { type PodSpec, readPodDir } from "./harness/pod_file.ts";
import { hostPathIn, type RunningPod, startPod } from "./harness/pod_runner.ts";

const FIXTURES = fileURLToPath(new URL("./fixtures/kiwigrid-e2e/", import.meta.url));
const fixture = (name: string) => Deno.readTextFile(`${FIXTURES}${name}`);

/** How long a change may take to show (kiwigrid's CI allows 150 s per wait, the Rust port 45 s). */
const MAIN_WAIT_MS = 120_000;
const EXT_WAIT_MS = 45_000;

/** Why a check asserts something other than kiwigrid's CI (README: "Coming from kiwigrid …"). */
const DIFFERS = {
  logWording: "differs: log wording",
  scriptPerChangeSet: "differs: SCRIPT once per change set",
  logConfig: "differs: LOG_CONFIG",
  noSleepAssert: "differs: no sleep-then-assert",
} as const;

/** Pod-file translations the README's migration adds (beyond each pod file's `migrate` lines). */
const MIGRATED = {
  authOrigins: "migrated: REQ_AUTH_ORIGINS",
  annotationRoots: "migrated: FOLDER_ANNOTATION_ROOTS",
} as const;

interface CheckDef {
  title: string;
  note?: string;
}

/**
 * Every check, in kiwigrid's order. `K` = kiwigrid's CI, `T` = the Rust port's extended suite
 * (its own numbering).
 */
const CHECKS: Record<string, CheckDef> = {
  K1: { title: "sidecar: /tmp/hello.world is 'Hello World!'" },
  K2: { title: "sidecar: /tmp/cm-kubelogo.png has the PNG's bytes (ConfigMap binaryData)" },
  K3: { title: "sidecar: /tmp/secret-kubelogo.png has the PNG's bytes (Secret)" },
  K4: { title: "sidecar: /tmp/url-downloaded-kubelogo.png has the PNG's bytes (.url download)" },
  K5: { title: "sidecar: /tmp/absolute/absolute.txt (absolute folder annotation)" },
  K6: { title: "sidecar: /tmp/relative/relative.txt (relative folder annotation)" },
  K7: { title: "sidecar: /tmp/orig-dir/change-dir.txt" },
  K8: { title: "sidecar: /tmp/similar-configmap.txt (ConfigMap and Secret of one name)" },
  K9: { title: "sidecar: /tmp/similar-secret.txt (ConfigMap and Secret of one name)" },
  K10: {
    title: "sidecar: /tmp/secured.txt is 'allowed' (basic auth from REQ_USERNAME/REQ_PASSWORD)",
    note: MIGRATED.authOrigins,
  },
  K11: { title: "sidecar: /tmp/500.txt is empty or missing (the download answered 500)" },
  K12: { title: "sidecar: SCRIPT ran (/tmp/script_result exists)" },
  K13: {
    title: "sidecar-healthcheck: the log announces the health server on its port",
    note: DIFFERS.logWording,
  },
  K14: { title: "sidecar-healthcheck: /healthz answers on IPv4 (0.0.0.0)" },
  K15: { title: "sidecar-healthcheck: /healthz answers on IPv6 ([::1])" },
  K16: {
    title: "sidecar-healthcheck-ipv4: the log announces the health server on its port",
    note: DIFFERS.logWording,
  },
  K17: { title: "sidecar-healthcheck-ipv4: HEALTH_HOST=0.0.0.0 answers on IPv4" },
  K18: { title: "sidecar-healthcheck-ipv4: HEALTH_HOST=0.0.0.0 refuses IPv6" },
  K19: {
    title: "sidecar-basicauth-args: secured.txt is 'allowed' (--req-*-file arguments)",
    note: MIGRATED.authOrigins,
  },
  K20: {
    title: "sidecar-basicauth-envfile: secured.txt is 'allowed' (REQ_*_FILE)",
    note: MIGRATED.authOrigins,
  },
  K21: { title: "sidecar-5xx: the log shows /secured's 'Not authenticated' answer" },
  K22: { title: "sidecar-5xx: hello.world is 'Hello World!'" },
  K23: { title: "sidecar-5xx: cm-kubelogo.png has the PNG's bytes" },
  K24: { title: "sidecar-5xx: secret-kubelogo.png has the PNG's bytes" },
  K25: { title: "sidecar-5xx: url-downloaded-kubelogo.png has the PNG's bytes" },
  K26: {
    title: "sidecar-5xx: /tmp/absolute/absolute.txt (annotation outside FOLDER)",
    note: MIGRATED.annotationRoots,
  },
  K27: { title: "sidecar-5xx: relative/relative.txt" },
  K28: { title: "sidecar-5xx: orig-dir/change-dir.txt" },
  K29: { title: "sidecar-5xx: similar-configmap.txt" },
  K30: { title: "sidecar-5xx: similar-secret.txt" },
  K31: { title: "sidecar-5xx: 500.txt is empty or missing" },
  K32: { title: "sidecar-5xx: SCRIPT ran (/tmp/script_result exists)" },
  K33: {
    title: "sidecar-pythonscript: the python SCRIPT's output is logged once per run",
    note: DIFFERS.scriptPerChangeSet,
  },
  K34: {
    title: "sidecar-pythonscript-logfile: the python SCRIPT's output is logged once per run",
    note: `${DIFFERS.scriptPerChangeSet}, ${DIFFERS.logConfig}`,
  },
  K35: {
    title:
      "sidecar-logtofile-pythonscript: LOG_CONFIG is reported as unsupported and logs stay on stdout",
    note: DIFFERS.logConfig,
  },
  K36: { title: "after the update: /tmp/hello.world is gone" },
  K37: { title: "after the update: /tmp/cm-kubelogo.png is gone" },
  K38: { title: "after the update: /tmp/secret-kubelogo.png is gone" },
  K39: { title: "after the update: /tmp/absolute/absolute.txt is gone" },
  K40: { title: "after the update: /tmp/relative/relative.txt is gone" },
  K41: { title: "after the update: /tmp/orig-dir/change-dir.txt is gone" },
  K42: { title: "after the update: /tmp/similar-configmap.txt is gone" },
  K43: { title: "after the update: /tmp/similar-secret.txt is gone" },
  K44: { title: "after the update: /tmp/change-hello.world exists" },
  K45: { title: "after the update: /tmp/change-cm-kubelogo.png exists" },
  K46: { title: "after the update: /tmp/change-secret-kubelogo.png exists" },
  K47: { title: "after the update: /tmp/absolute/change-absolute.txt exists" },
  K48: { title: "after the update: /tmp/relative/change-relative.txt exists" },
  K49: { title: "after the update: /tmp/new-dir/change-dir.txt exists (annotation changed)" },
  K50: { title: "after the update: /tmp/change-similar-configmap.txt exists" },
  K51: { title: "after the update: /tmp/change-similar-secret.txt exists" },
  K52: {
    title: "sidecar-logtofile-pythonscript: SCRIPT ran again for the update",
    note: `${DIFFERS.scriptPerChangeSet}, ${DIFFERS.logConfig}`,
  },
  K53: { title: "sidecar: 500.txt is still empty or missing" },
  K54: { title: "sidecar-5xx: 500.txt is still empty or missing" },
  K55: {
    title: "sidecar: the log reports the 500 download as failed after its retries",
    note: DIFFERS.logWording,
  },

  "T1.1a": { title: "ext-diff: a.txt written" },
  "T1.1b": { title: "ext-diff: b.txt written" },
  "T1.2a": { title: "ext-diff: a.txt kept when another key is dropped" },
  "T1.2b": { title: "ext-diff: b.txt removed when its key is dropped" },
  "T1.3a": { title: "ext-diff: a.txt written to the annotated folder" },
  "T1.3b": { title: "ext-diff: a.txt removed from the old folder" },
  "T1.4": { title: "ext-diff: a.txt removed when the ConfigMap is deleted" },
  "T2.1a": { title: "ext-gate: x.txt written" },
  "T2.1b": { title: "ext-gate: SCRIPT ran once" },
  "T2.2": {
    title: "ext-gate: unchanged content (annotation bump) neither rewrites nor re-runs SCRIPT",
    note: DIFFERS.noSleepAssert,
  },
  "T2.3a": { title: "ext-gate: x.txt updated" },
  "T2.3b": { title: "ext-gate: changed content re-runs SCRIPT" },
  "T3.1": { title: "ext-unique: the ConfigMap key gets a unique name" },
  "T3.2": { title: "ext-unique: the Secret key of the same name does not collide" },
  "T3.3": { title: "ext-unique: the plain file name is not used" },
  "T4.1": { title: "ext-mode: m.txt written" },
  "T4.2": { title: "ext-mode: DEFAULT_FILE_MODE=400 applied" },
  "T5.1": { title: "ext-list: METHOD=LIST wrote the file" },
  "T5.2": { title: "ext-list: METHOD=LIST exits 0 after syncing" },
  "T6.1": { title: "ext-sleep: METHOD=SLEEP picks up a new ConfigMap" },
  "T6.2": { title: "ext-sleep: METHOD=SLEEP picks up a deletion" },
  "T7.1": { title: "ext-allns: NAMESPACE=ALL collects from ext-a" },
  "T7.2": { title: "ext-allns: NAMESPACE=ALL collects from ext-b" },
  "T8.1": { title: "ext-multins: NAMESPACE=ext-a,ext-b collects from ext-a" },
  "T8.2": { title: "ext-multins: NAMESPACE=ext-a,ext-b collects from ext-b" },
  "T9.1": { title: "ext-resname: bare name form selects an unlabelled ConfigMap" },
  "T9.2": { title: "ext-resname: configmap/name form" },
  "T9.3": { title: "ext-resname: namespace/configmap/name form" },
  "T9.4": { title: "ext-resname: a labelled but unnamed ConfigMap is ignored" },
  "T10.1": { title: "ext-ignore: i.txt written on the first pass" },
  "T10.2": {
    title: "ext-ignore: later polls skip the unchanged ConfigMap (no rewrite)",
    note: DIFFERS.logWording,
  },
  "T11.1": { title: "ext-page: all 12 ConfigMaps synced" },
  "T11.2": { title: "ext-page: the last one's content is right" },
};

const TRACE = Deno.env.get("KIWIGRID_E2E_TRACE") === "1";
const started = Date.now();
/** Progress on stderr with `KIWIGRID_E2E_TRACE=1`, to see where a slow run spends its time. */
function trace(msg: string): void {
  if (TRACE) {
    Deno.stderr.writeSync(
      new TextEncoder().encode(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}\n`),
    );
  }
}

/** Records the outcome of each check; a check never throws into the scenario. */
class Results {
  readonly outcomes = new Map<string, unknown>();
  readonly notes: string[] = [];

  /**
   * Runs check `id` and records its outcome. `requires` names earlier checks whose success
   * makes this one meaningful (a removal is only shown if the file was there).
   */
  async check(
    id: keyof typeof CHECKS,
    fn: () => Promise<void>,
    requires: (keyof typeof CHECKS)[] = [],
  ): Promise<void> {
    assert.ok(CHECKS[id], `unknown check ${id}`);
    try {
      for (const r of requires) {
        if (this.outcomes.get(r) !== null) throw new Error(`needs ${r}, which did not pass`);
      }
      await fn();
      this.outcomes.set(id, null);
      trace(`${id} ok`);
    } catch (e) {
      this.outcomes.set(id, e);
      trace(`${id} FAILED: ${String(e).split("\n")[0]}`);
    }
  }
}

// --- assertions on a pod ---------------------------------------------------------------------

/**
 * Polls `fn` until it passes; fails at once when a pod that should keep running has exited,
 * and with the pod's log tail on timeout.
 */
async function until<T>(
  pod: RunningPod,
  what: string,
  fn: () => T | Promise<T>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  pod.proc.wait().then(() => exited = true);
  let last: unknown;
  while (true) {
    try {
      return await fn();
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline || (exited && pod.spec.ready !== "exits")) {
      const why = exited && pod.spec.ready !== "exits" ? "the sidecar exited" : "timed out";
      throw new Error(
        `${pod.name}: ${what}: ${why}: ${last instanceof Error ? last.message : last}\n` +
          `--- ${pod.name} log (tail) ---\n${pod.log.slice(-3000)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function readBytes(pod: RunningPod, path: string): Promise<Uint8Array> {
  return await Deno.readFile(pod.hostPath(path));
}

async function exists(pod: RunningPod, path: string): Promise<boolean> {
  try {
    await Deno.lstat(pod.hostPath(path));
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** kiwigrid's check_content / check_diff: the file shows up with exactly these bytes. */
function hasContent(pod: RunningPod, path: string, expected: string | Uint8Array, ms: number) {
  const want = typeof expected === "string" ? new TextEncoder().encode(expected) : expected;
  return until(pod, `${path} has the expected content`, async () => {
    const got = await readBytes(pod, path);
    assert.deepEqual(got, want, `${path}: ${new TextDecoder().decode(got.slice(0, 120))}`);
  }, ms);
}

function appears(pod: RunningPod, path: string, ms: number) {
  return until(pod, `${path} exists`, async () => {
    assert.ok(await exists(pod, path), `${path} missing`);
  }, ms);
}

function disappears(pod: RunningPod, path: string, ms: number) {
  return until(pod, `${path} is gone`, async () => {
    assert.ok(!(await exists(pod, path)), `${path} still exists`);
  }, ms);
}

/** kiwigrid's check_empty_or_missing, read once: call it after a positive sign. */
async function emptyOrMissing(pod: RunningPod, path: string): Promise<void> {
  if (!(await exists(pod, path))) return;
  const size = (await Deno.stat(pod.hostPath(path))).size;
  assert.equal(size, 0, `${pod.name}: ${path} has ${size} bytes`);
}

function logLines(pod: RunningPod): string[] {
  return pod.log.split("\n");
}

function countLines(text: string, needle: string): number {
  return text.split("\n").filter((l) => l.includes(needle)).length;
}

/** A positive sign that `key`'s download was given up: a log line naming the key and a failure. */
function downloadFailed(pod: RunningPod, key: string, ms: number) {
  return until(pod, `the failed download of ${key} is logged`, () => {
    assert.ok(
      logLines(pod).some((l) => l.includes(key) && /fail|error/i.test(l)),
      `no failure logged for ${key}`,
    );
  }, ms);
}

async function countInFile(pod: RunningPod, path: string, needle: string): Promise<number> {
  try {
    return countLines(await Deno.readTextFile(pod.hostPath(path)), needle);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return 0;
    throw e;
  }
}

// --- cluster objects ---------------------------------------------------------------------------

function configMap(
  namespace: string,
  name: string,
  data: Record<string, string>,
  labels: Record<string, string> = {},
  annotations: Record<string, string> = {},
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace, labels, annotations },
    data,
  };
}

/** The pod files of one phase, by name. */
async function podSpecs(phase: "main" | "ext"): Promise<Map<string, PodSpec>> {
  return new Map((await readPodDir(`${FIXTURES}pods/${phase}`)).map((p) => [p.name, p]));
}

/**
 * What the README's migration adds to a kiwigrid pod: the pod file's own `migrate` lines, and
 * `REQ_AUTH_ORIGINS` where the pod has credentials for `.url` downloads and no `REQ_URL` (here
 * credentials go only to listed origins; kiwigrid sends them to every host).
 */
function migration(spec: PodSpec, dummyOrigin: string): Record<string, string> {
  const env = { ...spec.migrate };
  const hasCredentials = spec.env.REQ_USERNAME !== undefined ||
    spec.env.REQ_USERNAME_FILE !== undefined ||
    spec.args.some((a) => a.startsWith("--req-username-file"));
  if (hasCredentials && !spec.env.REQ_URL) env.REQ_AUTH_ORIGINS = dummyOrigin;
  return env;
}

// --- the scenario ------------------------------------------------------------------------------

interface Env {
  cluster: Cluster;
  results: Results;
  png: Uint8Array;
  dummyHost: string;
  start: (spec: PodSpec) => Promise<RunningPod>;
}

/** kiwigrid's CI: pods, resources.yaml, checks, change_resources.yaml, checks. */
async function kiwigridSuite({ cluster, results, png, dummyHost, start }: Env): Promise<void> {
  const check = results.check.bind(results);
  const specs = await podSpecs("main");
  const pods = new Map<string, RunningPod>();
  // kubectl apply -f sidecar.yaml: every pod at once, then wait until each is ready.
  await Promise.all(
    [...specs.values()].map(async (spec) => pods.set(spec.name, await start(spec))),
  );
  const readiness = await Promise.allSettled(
    [...pods.values()].map((p) => p.ready().then(() => trace(`${p.name} ready`))),
  );
  readiness.forEach((r) => {
    if (r.status === "rejected") results.notes.push(String(r.reason));
  });
  trace("main: pods ready");
  const pod = (name: string) => {
    const p = pods.get(name);
    if (!p) throw new Error(`no pod ${name} in fixtures/kiwigrid-e2e/pods/main`);
    return p;
  };

  const substitutions = (text: string) =>
    text.replaceAll("__DUMMY_PNG_URL_B64__", btoa(`http://${dummyHost}/static/kubelogo.png`))
      .replaceAll("__DUMMY__", dummyHost);
  await cluster.apply(substitutions(await fixture("resources.yaml")));
  trace("main: resources.yaml applied");

  const W = MAIN_WAIT_MS;
  const sc = pod("sidecar");
  const s5 = pod("sidecar-5xx");
  const hc = pod("sidecar-healthcheck");
  const hc4 = pod("sidecar-healthcheck-ipv4");
  const py = pod("sidecar-pythonscript");
  const pyLog = pod("sidecar-pythonscript-logfile");
  const pyFile = pod("sidecar-logtofile-pythonscript");
  const hello = "Hello from python script!";

  /** The python pods' script runs are counted once everything they watch has been handled. */
  const scriptOutputOncePerRun = async (p: RunningPod) => {
    await downloadFailed(p, "500.txt.url", W);
    await appears(p, "/tmp/similar-secret.txt", W);
    await p.settled(W);
    const runs = await p.metric("gsidecar_notifications_total");
    const lines = countLines(p.log, hello);
    assert.ok(runs >= 1, "SCRIPT has not run");
    assert.equal(lines, runs, `${lines} output lines for ${runs} SCRIPT runs`);
    assert.ok(lines <= 10, `${lines} runs: more than kiwigrid's one per object`);
  };
  const announcesHealthPort = (p: RunningPod) =>
    until(p, "the health server's port is logged", () => {
      assert.ok(
        logLines(p).some((l) => /health/i.test(l) && l.includes(String(p.healthPort))),
        `no log line about the health server on ${p.healthPort} (the pod's ${p.podHealthPort})`,
      );
    }, W);
  const healthAnswers = async (p: RunningPod, host: string) => {
    const { status } = await p.health("/healthz", host);
    assert.equal(status, 200, `/healthz on ${host} answered ${status}`);
  };

  // "Verify sidecar files after initial sync" and the other pre-update checks.
  await Promise.all([
    check("K1", () => hasContent(sc, "/tmp/hello.world", "Hello World!", W)),
    check("K2", () => hasContent(sc, "/tmp/cm-kubelogo.png", png, W)),
    check("K3", () => hasContent(sc, "/tmp/secret-kubelogo.png", png, W)),
    check("K4", () => hasContent(sc, "/tmp/url-downloaded-kubelogo.png", png, W)),
    check("K5", () => hasContent(sc, "/tmp/absolute/absolute.txt", "This absolutely exists", W)),
    check("K6", () => hasContent(sc, "/tmp/relative/relative.txt", "This relatively exists", W)),
    check("K7", () => hasContent(sc, "/tmp/orig-dir/change-dir.txt", "This change-dir exists", W)),
    check("K8", () => hasContent(sc, "/tmp/similar-configmap.txt", "I'm very similar", W)),
    check("K9", () => hasContent(sc, "/tmp/similar-secret.txt", "I'm very similar", W)),
    check("K10", () => hasContent(sc, "/tmp/secured.txt", "allowed", W)),
    check("K11", async () => {
      await downloadFailed(sc, "500.txt.url", W);
      await emptyOrMissing(sc, "/tmp/500.txt");
    }),
    check("K12", () => appears(sc, "/tmp/script_result", W)),
    check("K13", () => announcesHealthPort(hc)),
    check("K14", () => healthAnswers(hc, "0.0.0.0")),
    check("K15", () => healthAnswers(hc, "::1")),
    check("K16", () => announcesHealthPort(hc4)),
    check("K17", () => healthAnswers(hc4, "0.0.0.0")),
    check("K18", async () => {
      const refused = await hc4.health("/healthz", "::1").then(() => false, () => true);
      assert.ok(refused, "/healthz answered on [::1] with HEALTH_HOST=0.0.0.0");
    }),
    check(
      "K19",
      () => hasContent(pod("sidecar-basicauth-args"), "/tmp/secured.txt", "allowed", W),
    ),
    check(
      "K20",
      () => hasContent(pod("sidecar-basicauth-envfile"), "/tmp/secured.txt", "allowed", W),
    ),
    check("K21", () =>
      until(s5, "/secured's answer is logged", () => {
        assert.ok(
          logLines(s5).some((l) => /\/secured.*Not authenticated/.test(l)),
          "no log line matches /secured.*Not authenticated",
        );
      }, W)),
    check("K22", () => hasContent(s5, "/srv/tmp-5xx/hello.world", "Hello World!", W)),
    check("K23", () => hasContent(s5, "/srv/tmp-5xx/cm-kubelogo.png", png, W)),
    check("K24", () => hasContent(s5, "/srv/tmp-5xx/secret-kubelogo.png", png, W)),
    check("K25", () => hasContent(s5, "/srv/tmp-5xx/url-downloaded-kubelogo.png", png, W)),
    check("K26", () => hasContent(s5, "/tmp/absolute/absolute.txt", "This absolutely exists", W)),
    check(
      "K27",
      () => hasContent(s5, "/srv/tmp-5xx/relative/relative.txt", "This relatively exists", W),
    ),
    check(
      "K28",
      () => hasContent(s5, "/srv/tmp-5xx/orig-dir/change-dir.txt", "This change-dir exists", W),
    ),
    check("K29", () => hasContent(s5, "/srv/tmp-5xx/similar-configmap.txt", "I'm very similar", W)),
    check("K30", () => hasContent(s5, "/srv/tmp-5xx/similar-secret.txt", "I'm very similar", W)),
    check("K31", async () => {
      await downloadFailed(s5, "500.txt.url", W);
      await emptyOrMissing(s5, "/srv/tmp-5xx/500.txt");
    }),
    check("K32", () => appears(s5, "/tmp/script_result", W)),
    check("K33", () => scriptOutputOncePerRun(py)),
    check("K34", () => scriptOutputOncePerRun(pyLog)),
    check("K35", async () => {
      await scriptOutputOncePerRun(pyFile);
      assert.ok(
        logLines(pyFile).some((l) => l.includes("LOG_CONFIG")),
        "no log line names LOG_CONFIG (set, and not supported)",
      );
      assert.ok(!(await exists(pyFile, "/opt/logs/sidecar.log")), "/opt/logs/sidecar.log written");
    }),
  ]);
  // The pod of RESOURCE_NAME has no check of its own in kiwigrid's CI, only a wait: it must
  // have handled its two objects before the update.
  await appears(pod("sidecar-pythonscript-resource-name"), "/tmp/secret-kubelogo.png", W)
    .catch((e) => results.notes.push(String(e)));

  // "Update Configmaps and Secrets".
  const helloBeforeUpdate = countLines(pyFile.log, hello);
  const existedBeforeUpdate = new Set<string>();
  for (
    const path of [
      "/tmp/hello.world",
      "/tmp/cm-kubelogo.png",
      "/tmp/secret-kubelogo.png",
      "/tmp/absolute/absolute.txt",
      "/tmp/relative/relative.txt",
      "/tmp/orig-dir/change-dir.txt",
      "/tmp/similar-configmap.txt",
      "/tmp/similar-secret.txt",
    ]
  ) if (await exists(sc, path)) existedBeforeUpdate.add(path);
  await cluster.apply(await fixture("change_resources.yaml"));
  trace("main: change_resources.yaml applied");

  // A removal shows only for a file that was there: each one must have existed before.
  const gone = (id: keyof typeof CHECKS, path: string) =>
    check(id, async () => {
      assert.ok(existedBeforeUpdate.has(path), `${path} was never written`);
      await disappears(sc, path, W);
    });
  const came = (id: keyof typeof CHECKS, path: string) => check(id, () => appears(sc, path, W));
  await Promise.all([
    gone("K36", "/tmp/hello.world"),
    gone("K37", "/tmp/cm-kubelogo.png"),
    gone("K38", "/tmp/secret-kubelogo.png"),
    gone("K39", "/tmp/absolute/absolute.txt"),
    gone("K40", "/tmp/relative/relative.txt"),
    gone("K41", "/tmp/orig-dir/change-dir.txt"),
    gone("K42", "/tmp/similar-configmap.txt"),
    gone("K43", "/tmp/similar-secret.txt"),
    came("K44", "/tmp/change-hello.world"),
    came("K45", "/tmp/change-cm-kubelogo.png"),
    came("K46", "/tmp/change-secret-kubelogo.png"),
    came("K47", "/tmp/absolute/change-absolute.txt"),
    came("K48", "/tmp/relative/change-relative.txt"),
    came("K49", "/tmp/new-dir/change-dir.txt"),
    came("K50", "/tmp/change-similar-configmap.txt"),
    came("K51", "/tmp/change-similar-secret.txt"),
    check("K52", async () => {
      await appears(pyFile, "/tmp/change-similar-secret.txt", W);
      await pyFile.settled(W);
      const lines = countLines(pyFile.log, hello);
      assert.ok(lines > helloBeforeUpdate, `still ${lines} output lines`);
      assert.equal(lines, await pyFile.metric("gsidecar_notifications_total"));
    }),
  ]);
  // "Verify 5xx error handling": the update is through (files above), the 500 stays failed.
  await Promise.all([
    check("K53", () => emptyOrMissing(sc, "/tmp/500.txt"), ["K11", "K51"]),
    check("K54", async () => {
      await appears(s5, "/srv/tmp-5xx/change-similar-secret.txt", W);
      await emptyOrMissing(s5, "/srv/tmp-5xx/500.txt");
    }, ["K31"]),
    check("K55", () => {
      const line = logLines(sc).find((l) => l.includes("500.txt.url") && /fail|error/i.test(l));
      assert.ok(line, "no failure logged for 500.txt.url");
      assert.match(line, /HTTP 500|"status":\s*500/, "the failure does not name the 500 status");
      return Promise.resolve();
    }),
  ]);
}

/**
 * The Rust port's extended suite. Its cases touch disjoint pods and labels, so they run at once;
 * within a case, the steps keep run-ext.sh's order.
 */
async function extendedSuite({ cluster, results, start }: Env): Promise<void> {
  const check = results.check.bind(results);
  const specs = await podSpecs("ext");
  const spec = (name: string) => {
    const s = specs.get(name);
    if (!s) throw new Error(`no pod ${name} in fixtures/kiwigrid-e2e/pods/ext`);
    return s;
  };
  const pods = new Map<string, RunningPod>();
  const always = [...specs.values()].filter((s) => s.ready !== "exits");
  await Promise.all(always.map(async (s) => pods.set(s.name, await start(s))));
  const readiness = await Promise.allSettled(
    [...pods.values()].map((p) => p.ready().then(() => trace(`${p.name} ready`))),
  );
  readiness.forEach((r) => {
    if (r.status === "rejected") results.notes.push(String(r.reason));
  });
  trace("ext: pods ready");
  const pod = (name: string) => pods.get(name)!;
  const W = EXT_WAIT_MS;
  const apply = (...objs: KubeObject[]) => cluster.apply(objs);
  const del = (ns: string, name: string) =>
    cluster.admin.request("DELETE", `/api/v1/namespaces/${ns}/configmaps/${name}`);

  // T1: stale keys and folder-annotation changes (the annotation /data/sub is /srv/data/sub).
  const t1 = async () => {
    const diff = pod("ext-diff");
    const extdiff = { extdiff: "yes" };
    await apply(configMap("ext-a", "d-cm", { "a.txt": "A", "b.txt": "B" }, extdiff));
    await check("T1.1a", () => hasContent(diff, "/srv/data/a.txt", "A", W));
    await check("T1.1b", () => hasContent(diff, "/srv/data/b.txt", "B", W));
    await apply(configMap("ext-a", "d-cm", { "a.txt": "A" }, extdiff));
    await check("T1.2b", () => disappears(diff, "/srv/data/b.txt", W), ["T1.1b"]);
    await check("T1.2a", () => appears(diff, "/srv/data/a.txt", W), ["T1.2b"]);
    await apply(
      configMap("ext-a", "d-cm", { "a.txt": "A" }, extdiff, {
        "k8s-sidecar-target-directory": "/srv/data/sub",
      }),
    );
    await check("T1.3a", () => hasContent(diff, "/srv/data/sub/a.txt", "A", W));
    await check("T1.3b", () => disappears(diff, "/srv/data/a.txt", W), ["T1.2a"]);
    await del("ext-a", "d-cm");
    await check("T1.4", () => disappears(diff, "/srv/data/sub/a.txt", W), ["T1.3a"]);
  };

  // T2: unchanged content must not re-run SCRIPT (script.sh appends SCRIPT_RAN to /srv/out).
  const t2 = async () => {
    const gate = pod("ext-gate");
    const extgate = { extgate: "yes" };
    const log = "/srv/out/script.log";
    await apply(configMap("ext-a", "g-cm", { "x.txt": "1" }, extgate));
    await check("T2.1a", () => hasContent(gate, "/srv/data/x.txt", "1", W));
    await check("T2.1b", () =>
      until(gate, "SCRIPT ran once", async () => {
        assert.equal(await countInFile(gate, log, "SCRIPT_RAN"), 1);
      }, W));
    // The annotation bump: wait for its watch event, then change the data. Events of one watch
    // are applied in order, so once x.txt holds "2" the bump has been handled; T2.2 then asks
    // whether the bump wrote anything (which would have run SCRIPT).
    const eventsBefore = await gate.metric("gsidecar_watch_events_total").catch(() => 0);
    await apply(configMap("ext-a", "g-cm", { "x.txt": "1" }, extgate, { touch: "1" }));
    await until(gate, "the annotation bump arrives", async () => {
      assert.ok((await gate.metric("gsidecar_watch_events_total")) > eventsBefore);
    }, W).catch((e) => results.notes.push(String(e)));
    await apply(configMap("ext-a", "g-cm", { "x.txt": "2" }, extgate, { touch: "1" }));
    await check("T2.3a", () => hasContent(gate, "/srv/data/x.txt", "2", W));
    await check("T2.3b", () =>
      until(gate, "SCRIPT ran twice", async () => {
        assert.equal(await countInFile(gate, log, "SCRIPT_RAN"), 2);
      }, W));
    await check("T2.2", async () => {
      await gate.settled(W);
      assert.equal(
        await gate.metric("gsidecar_files_written_total"),
        2,
        "files written: x.txt once for '1' and once for '2', nothing for the annotation bump",
      );
      assert.equal(await gate.metric("gsidecar_notifications_total"), 2, "notifications");
      assert.equal(await countInFile(gate, log, "SCRIPT_RAN"), 2, "SCRIPT runs");
    }, ["T2.3a"]);
  };

  // T3: UNIQUE_FILENAMES.
  const t3 = async () => {
    const uniq = pod("ext-unique");
    await apply(configMap("ext-a", "u-cm", { "u.txt": "from-cm" }, { extuniq: "yes" }), {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "u-sec", namespace: "ext-a", labels: { extuniq: "yes" } },
      data: { "u.txt": encodeBase64(new TextEncoder().encode("from-secret")) },
    });
    await check(
      "T3.1",
      () => hasContent(uniq, "/srv/data/namespace_ext-a.configmap_u-cm.u.txt", "from-cm", W),
    );
    await check(
      "T3.2",
      () => hasContent(uniq, "/srv/data/namespace_ext-a.secret_u-sec.u.txt", "from-secret", W),
    );
    await check("T3.3", async () => {
      assert.ok(!(await exists(uniq, "/srv/data/u.txt")), "/srv/data/u.txt exists");
    }, ["T3.1", "T3.2"]);
  };

  // T4: DEFAULT_FILE_MODE.
  const t4 = async () => {
    const mode = pod("ext-mode");
    await apply(configMap("ext-a", "m-cm", { "m.txt": "M" }, { extmode: "yes" }));
    await check("T4.1", () => appears(mode, "/srv/data/m.txt", W));
    await check("T4.2", () =>
      until(mode, "m.txt has mode 400", async () => {
        const m = (await Deno.stat(mode.hostPath("/srv/data/m.txt"))).mode! & 0o777;
        assert.equal(m.toString(8), "400");
      }, W), ["T4.1"]);
  };

  // T5: METHOD=LIST syncs once and exits; its ConfigMap exists before it starts.
  const t5 = async () => {
    await apply(configMap("ext-a", "l-cm", { "l.txt": "L" }, { extlist: "yes" }));
    const list = await start(spec("ext-list"));
    const exitCode = list.exited(W).catch((e) => e as Error);
    await check("T5.1", () => hasContent(list, "/srv/data/l.txt", "L", W));
    await check("T5.2", async () => {
      const code = await exitCode;
      if (code instanceof Error) throw code;
      assert.equal(code, 0, `exit code\n${list.log.slice(-2000)}`);
    });
  };

  // T6: METHOD=SLEEP polls.
  const t6 = async () => {
    const sleep = pod("ext-sleep");
    await apply(configMap("ext-a", "s-cm", { "s.txt": "S" }, { extsleep: "yes" }));
    await check("T6.1", () => hasContent(sleep, "/srv/data/s.txt", "S", W));
    await del("ext-a", "s-cm");
    await check("T6.2", () => disappears(sleep, "/srv/data/s.txt", W), ["T6.1"]);
  };

  // T7/T8: namespace scoping.
  const t7t8 = async () => {
    const both = { extall: "yes", extmulti: "yes" };
    await apply(
      configMap("ext-a", "na-cm", { "ns-a.txt": "in-a" }, both),
      configMap("ext-b", "nb-cm", { "ns-b.txt": "in-b" }, both),
    );
    const [all, multi] = [pod("ext-allns"), pod("ext-multins")];
    await Promise.all([
      check("T7.1", () => hasContent(all, "/srv/data/ns-a.txt", "in-a", W)),
      check("T7.2", () => hasContent(all, "/srv/data/ns-b.txt", "in-b", W)),
      check("T8.1", () => hasContent(multi, "/srv/data/ns-a.txt", "in-a", W)),
      check("T8.2", () => hasContent(multi, "/srv/data/ns-b.txt", "in-b", W)),
    ]);
  };

  // T9: RESOURCE_NAME selects by name, whatever the labels; rn-other has the label, no name.
  const t9 = async () => {
    const rn = pod("ext-resname");
    await apply(
      configMap("ext-a", "rn-one", { "rn1.txt": "one" }),
      configMap("ext-a", "rn-two", { "rn2.txt": "two" }),
      configMap("ext-a", "rn-three", { "rn3.txt": "three" }),
      configMap("ext-a", "rn-other", { "rnx.txt": "other" }, { extrn: "yes" }),
    );
    await Promise.all([
      check("T9.1", () => hasContent(rn, "/srv/data/rn1.txt", "one", W)),
      check("T9.2", () => hasContent(rn, "/srv/data/rn2.txt", "two", W)),
      check("T9.3", () => hasContent(rn, "/srv/data/rn3.txt", "three", W)),
    ]);
    await check("T9.4", async () => {
      // The sidecar holds exactly the three named objects: rn-other was not selected (a
      // positive statement, not "nothing happened yet").
      assert.equal(await rn.metric("gsidecar_objects"), 3, "selected objects");
      assert.ok(!(await exists(rn, "/srv/data/rnx.txt")), "rnx.txt written");
    });
  };

  // T10: IGNORE_ALREADY_PROCESSED with METHOD=SLEEP (polls every 5 s).
  const t10 = async () => {
    const ign = pod("ext-ignore");
    await apply(configMap("ext-a", "i-cm", { "i.txt": "I" }, { extign: "yes" }));
    await check("T10.1", () => hasContent(ign, "/srv/data/i.txt", "I", W));
    await check("T10.2", async () => {
      const before = await Deno.stat(ign.hostPath("/srv/data/i.txt"));
      const written = await ign.metric("gsidecar_files_written_total");
      const lists = await ign.metric("gsidecar_lists_total");
      await until(ign, "two more polls", async () => {
        assert.ok((await ign.metric("gsidecar_lists_total")) >= lists + 2);
      }, W);
      const after = await Deno.stat(ign.hostPath("/srv/data/i.txt"));
      assert.equal(await ign.metric("gsidecar_files_written_total"), written, "files written");
      assert.equal(after.ino, before.ino, "i.txt was replaced");
      assert.equal(after.mtime?.getTime(), before.mtime?.getTime(), "i.txt was rewritten");
    }, ["T10.1"]);
  };

  // T11: a list of 12 objects (kiwigrid pages by 5).
  const t11 = async () => {
    const page = pod("ext-page");
    const names = Array.from({ length: 12 }, (_, i) => String(i + 1).padStart(2, "0"));
    await apply(
      ...names.map((i) =>
        configMap("ext-b", `page-cm-${i}`, { [`page-${i}.txt`]: `p${i}` }, { extpage: "yes" })
      ),
    );
    await check("T11.1", async () => {
      for (const i of names) await appears(page, `/srv/data/page-${i}.txt`, W);
    });
    await check("T11.2", () => hasContent(page, "/srv/data/page-12.txt", "p12", W));
  };

  const cases = await Promise.allSettled(
    [t1, t2, t3, t4, t5, t6, t7t8, t9, t10, t11].map((c) => c()),
  );
  for (const c of cases) if (c.status === "rejected") results.notes.push(String(c.reason));
}

Deno.test({
  name: "kiwigrid's CI (55 checks) and the Rust port's extended suite (33) with COMPAT=kiwigrid",
  // Module-level servers and the shared cluster outlive single steps by design.
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const results = new Results();
  const png = await Deno.readFile(`${FIXTURES}kubelogo.png`);
  {
    await using cluster = await startCluster();
    await using dummy = dummyServer(png);
    const dummyHost = new URL(dummy.url).host;
    await cluster.apply(await fixture("infra-main.yaml"));
    await cluster.apply(await fixture("infra-ext.yaml"));
    const start = (spec: PodSpec) =>
      startPod(cluster, spec, {
        env: { COMPAT: "kiwigrid", ...migration(spec, dummy.origin) },
        substitutions: { __DUMMY__: dummyHost },
      });
    const env: Env = { cluster, results, png, dummyHost, start };
    const suites = await Promise.allSettled([kiwigridSuite(env), extendedSuite(env)]);
    for (const s of suites) if (s.status === "rejected") results.notes.push(String(s.reason));
    trace("suites done; stopping");
  }
  trace("stopped");
  for (const [id, def] of Object.entries(CHECKS)) {
    const name = `${id} ${def.title}${def.note ? ` (${def.note})` : ""}`;
    await t.step(name, () => {
      if (!results.outcomes.has(id)) {
        throw new Error(`not run: the scenario stopped before it\n${results.notes.join("\n")}`);
      }
      const error = results.outcomes.get(id);
      if (error) throw error;
    });
  }
  assert.deepEqual(results.notes, [], "setup steps that failed (see the failed checks too)");
});

Deno.test("kiwigrid_e2e: every pod file parses and uses only the pod's private folders", async () => {
  for (const phase of ["main", "ext"] as const) {
    const specs = await podSpecs(phase);
    assert.ok(specs.size >= 11, `${phase}: ${specs.size} pods`);
    for (const spec of specs.values()) {
      for (const path of [...spec.files.map((f) => f.path), ...spec.dirs]) {
        hostPathIn("/pod", path); // throws for a folder a pod here cannot have
      }
      for (const key of ["FOLDER", "SCRIPT", "REQ_USERNAME_FILE", "REQ_PASSWORD_FILE"]) {
        if (spec.env[key]) hostPathIn("/pod", spec.env[key]);
      }
    }
  }
});

/** Kept beside the checks: both sides count what the issue counts. */
Deno.test("kiwigrid_e2e: 55 checks of kiwigrid's CI and 33 of the extended suite", () => {
  const ids = Object.keys(CHECKS);
  assert.equal(ids.filter((id) => id.startsWith("K")).length, 55);
  assert.equal(ids.filter((id) => id.startsWith("T")).length, 33);
});
