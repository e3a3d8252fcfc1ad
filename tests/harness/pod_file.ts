/**
 * Reads the `.pod` files of `fixtures/kiwigrid-e2e/pods/`: one pod of kiwigrid's CI (or of the
 * Rust port's extended suite) as the lines a kubelet would act on — namespace, service account,
 * mounted files and directories, environment, arguments — plus `migrate` lines (what the
 * project's README tells a migrating user to add) and how the pod counts as ready.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parsePodFile } from "./pod_file.ts";
 * const pod = parsePodFile("sidecar", "namespace default\nserviceaccount sa\nready running\nenv FOLDER=/tmp/\n");
 * assert(pod.env.FOLDER === "/tmp/");
 * ```
 *
 * @module
 */

/** How the pod shows it is ready: a running process, `/healthz` 200, or an exit (one-shot). */
export type PodReadiness = "running" | "healthz" | "exits";

/** A file the kubelet would mount from a ConfigMap or Secret key. */
export interface PodFileMount {
  /** Absolute path inside the pod. */
  path: string;
  kind: "configmap" | "secret";
  /** Object name, in the pod's namespace. */
  object: string;
  key: string;
  /** File mode (the volume's `defaultMode`). */
  mode: number;
}

/** One pod of the kiwigrid end-to-end cases. */
export interface PodSpec {
  /** File name without `.pod`, the pod's name in the original manifests. */
  name: string;
  namespace: string;
  serviceAccount: string;
  ready: PodReadiness;
  files: PodFileMount[];
  /** Empty directories the pod has (emptyDir mounts). */
  dirs: string[];
  /** The container's environment, in order; an empty value is kept (`env ENABLE_5XX=`). */
  env: Record<string, string>;
  /** Command-line arguments of the container. */
  args: string[];
  /** What the README's migration adds for this pod. */
  migrate: Record<string, string>;
}

const READINESS: readonly PodReadiness[] = ["running", "healthz", "exits"];

/**
 * Parses one `.pod` file; throws an error naming the pod and line for anything it does not know.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parsePodFile } from "./pod_file.ts";
 * try {
 *   parsePodFile("bad", "namespace default\nvolume x\n");
 * } catch (e) {
 *   assert(String(e).includes("bad.pod line 2"));
 * }
 * ```
 */
export function parsePodFile(name: string, text: string): PodSpec {
  const spec: Partial<PodSpec> & Pick<PodSpec, "files" | "dirs" | "env" | "args" | "migrate"> = {
    name,
    files: [],
    dirs: [],
    env: {},
    args: [],
    migrate: {},
  };
  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const where = `${name}.pod line ${i + 1}`;
    const space = line.indexOf(" ");
    const word = space < 0 ? line : line.slice(0, space);
    const rest = space < 0 ? "" : line.slice(space + 1).trim();
    const assignment = (what: string): [string, string] => {
      const eq = rest.indexOf("=");
      if (eq <= 0) {
        throw new Error(`${where}: ${what} wants NAME=value, got ${JSON.stringify(rest)}`);
      }
      return [rest.slice(0, eq), rest.slice(eq + 1)];
    };
    switch (word) {
      case "namespace":
      case "serviceaccount": {
        if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(rest)) {
          throw new Error(`${where}: ${word} ${JSON.stringify(rest)} is not a name`);
        }
        if (word === "namespace") spec.namespace = rest;
        else spec.serviceAccount = rest;
        return;
      }
      case "ready": {
        if (!READINESS.includes(rest as PodReadiness)) {
          throw new Error(`${where}: ready must be one of ${READINESS.join(", ")}`);
        }
        spec.ready = rest as PodReadiness;
        return;
      }
      case "file": {
        const parts = rest.split(/\s+/);
        const [path, kind, object, key, mode] = parts;
        if (
          parts.length !== 5 || path === undefined || !path.startsWith("/") ||
          (kind !== "configmap" && kind !== "secret") || object === undefined ||
          key === undefined || mode === undefined || !/^0?[0-7]{3}$/.test(mode)
        ) {
          throw new Error(
            `${where}: file wants <absolute path> <configmap|secret> <object> <key> <octal mode>`,
          );
        }
        spec.files.push({ path, kind, object, key, mode: parseInt(mode, 8) });
        return;
      }
      case "dir": {
        if (!rest.startsWith("/") || /\s/.test(rest)) {
          throw new Error(`${where}: dir wants one absolute path`);
        }
        spec.dirs.push(rest);
        return;
      }
      case "env": {
        const [k, v] = assignment("env");
        spec.env[k] = v;
        return;
      }
      case "migrate": {
        const [k, v] = assignment("migrate");
        spec.migrate[k] = v;
        return;
      }
      case "arg": {
        if (rest === "") throw new Error(`${where}: arg wants a value`);
        spec.args.push(rest);
        return;
      }
      default:
        throw new Error(`${where}: unknown directive ${JSON.stringify(word)}`);
    }
  });
  for (const field of ["namespace", "serviceAccount", "ready"] as const) {
    if (spec[field] === undefined) throw new Error(`${name}.pod: no ${field.toLowerCase()} line`);
  }
  return spec as PodSpec;
}

/**
 * Reads every `*.pod` file of `dir`, sorted by name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readPodDir } from "./pod_file.ts";
 * // The end-to-end test reads tests/fixtures/kiwigrid-e2e/pods/main and pods/ext.
 * const dir = await Deno.makeTempDir();
 * const pod = (namespace: string, ready: string) =>
 *   `namespace ${namespace}\nserviceaccount sa\nready ${ready}\n`;
 * await Deno.writeTextFile(`${dir}/b.pod`, pod("default", "running"));
 * await Deno.writeTextFile(`${dir}/a.pod`, pod("other", "exits"));
 * await Deno.writeTextFile(`${dir}/README.md`, "not a pod");
 * const pods = await readPodDir(dir);
 * assert.deepEqual(pods.map((p) => [p.name, p.namespace, p.ready]), [
 *   ["a", "other", "exits"],
 *   ["b", "default", "running"],
 * ]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readPodDir(dir: string): Promise<PodSpec[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".pod")) names.push(e.name);
  }
  names.sort();
  return await Promise.all(
    names.map(async (n) =>
      parsePodFile(n.slice(0, -".pod".length), await Deno.readTextFile(`${dir}/${n}`))
    ),
  );
}
