/**
 * Finds out how to reach the API server: in a pod, from the service-account mount (the token is
 * re-read as the kubelet rotates it) without loading `@kubernetes/client-node`; elsewhere, from
 * kubeconfig files through client-node's `KubeConfig`, loaded only on that path.
 *
 * Every credential form kubectl accepts works: `token`, `tokenFile` (kubectl's field, which
 * client-node does not read; re-read as it rotates), client certificates (data or file),
 * `username`/`password`, exec plugins (relative commands resolve against the kubeconfig's folder,
 * as kubectl does), auth providers, and `as` (impersonation). A configuration that cannot work —
 * no kubeconfig anywhere, a file that cannot be read, no current context — is a
 * {@linkcode KubeConfigError}, which the command line turns into exit code 2.
 *
 * @module
 */
import { dirname, isAbsolute, join, resolve } from "../util/posix_path.ts";
import { SERVICE_ACCOUNT_DIR as SA_DIR } from "../config/vars.ts";
import { encodeBase64 } from "../util/base64.ts";
import { errorMessage } from "../util/errors.ts";
import type { KubeConnection } from "./client.ts";
import { loadYaml } from "../util/load_yaml.ts";

/**
 * Where the kubelet mounts the service-account token, CA and namespace.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SERVICE_ACCOUNT_DIR } from "./connect.ts";
 * assert(SERVICE_ACCOUNT_DIR.endsWith("/serviceaccount"));
 * ```
 */
export const SERVICE_ACCOUNT_DIR: string = SA_DIR;

/**
 * A connection configuration that cannot work; the message names the variable and the file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KubeConfigError } from "./connect.ts";
 * const e = new KubeConfigError("KUBECONFIG=/nope: cannot read /nope: NotFound");
 * assert(e.name === "KubeConfigError");
 * ```
 */
export class KubeConfigError extends Error {
  override name = "KubeConfigError";
}

/** Inputs of {@linkcode resolveConnection}. */
export interface ConnectOptions {
  /** `KUBERNETES_SERVICE_HOST`/`PORT`, `HOME`. */
  env: Record<string, string | undefined>;
  /** `KUBECONFIG` from the configuration: one path or several, `:`-separated. */
  kubeconfig?: string | undefined;
  /** `SKIP_TLS_VERIFY`. */
  skipTlsVerify?: boolean | undefined;
  /** Where the service account is mounted; default {@linkcode SERVICE_ACCOUNT_DIR}. */
  serviceAccountDir?: string | undefined;
}

/** A connection plus where it came from, for the startup log. */
export interface ResolvedConnection {
  connection: KubeConnection;
  source: string;
}

/**
 * In-cluster when `KUBERNETES_SERVICE_HOST` is set and a token is mounted (and no `KUBECONFIG` is
 * given); otherwise the kubeconfig (`KUBECONFIG` or `~/.kube/config`). Throws
 * {@linkcode KubeConfigError} when neither can work.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveConnection } from "./connect.ts";
 * // In a pod: the kubelet mounts the service account and names the API server in the environment
 * // (main.ts passes Deno.env.toObject() and the default mount).
 * const serviceAccountDir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${serviceAccountDir}/token`, "t0ken\n");
 * const { connection, source } = await resolveConnection({
 *   env: { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" },
 *   serviceAccountDir,
 * });
 * assert.equal(source, "in-cluster");
 * assert.equal(connection.server, "https://10.96.0.1:443");
 * assert.equal(await connection.token?.(), "t0ken");
 * await Deno.remove(serviceAccountDir, { recursive: true });
 * ```
 */
export async function resolveConnection(opts: ConnectOptions): Promise<ResolvedConnection> {
  const host = opts.env.KUBERNETES_SERVICE_HOST;
  const saDir = opts.serviceAccountDir ?? opts.env.GSIDECAR_SERVICE_ACCOUNT_DIR ??
    SERVICE_ACCOUNT_DIR;
  const tokenPath = join(saDir, "token");
  const kubeconfig = opts.kubeconfig?.trim() ? opts.kubeconfig : undefined;
  if (host && !kubeconfig && (await exists(tokenPath))) {
    const connection = await inCluster(host, opts.env.KUBERNETES_SERVICE_PORT ?? "443", saDir);
    connection.skipTlsVerify = opts.skipTlsVerify;
    return { connection, source: "in-cluster" };
  }
  let files: { path: string; fromEnv: boolean }[];
  if (kubeconfig !== undefined) {
    // kubectl's rules: entries separated by ':', empty ones skipped.
    files = kubeconfig.split(":").filter((p) => p.trim() !== "").map((p) => ({
      path: p,
      fromEnv: true,
    }));
  } else {
    const home = opts.env.HOME;
    const fallback = home ? join(home, ".kube", "config") : undefined;
    if (fallback === undefined || !(await exists(fallback))) {
      const pod = host
        ? `KUBERNETES_SERVICE_HOST is set but there is no service-account token at ${tokenPath}`
        : "not running in a pod (KUBERNETES_SERVICE_HOST is unset)";
      const kube = fallback === undefined
        ? "HOME is unset, so there is no ~/.kube/config"
        : `${fallback} does not exist`;
      throw new KubeConfigError(
        `no way to reach the Kubernetes API server: ${pod}, KUBECONFIG is unset, and ${kube}. ` +
          "Run in a pod with a service account (automountServiceAccountToken), or set KUBECONFIG",
      );
    }
    files = [{ path: fallback, fromEnv: false }];
  }
  const resolved = await fromKubeconfig(files, kubeconfig);
  if (opts.skipTlsVerify) resolved.connection.skipTlsVerify = true;
  return resolved;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Re-reads the token at most every 10 s: the kubelet rotates it well before expiry. */
function rotatingToken(path: string): () => Promise<string> {
  let token = "";
  let readAt = 0;
  return async () => {
    if (Date.now() - readAt > 10_000 || !token) {
      token = (await Deno.readTextFile(path)).trim();
      readAt = Date.now();
    }
    return token;
  };
}

async function inCluster(host: string, port: string, saDir: string): Promise<KubeConnection> {
  const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const caPath = join(saDir, "ca.crt");
  const caCert = (await exists(caPath)) ? await Deno.readTextFile(caPath) : undefined;
  return { server, caCert, token: rotatingToken(join(saDir, "token")) };
}

/** The raw fields of one kubeconfig user that client-node does not carry over. */
interface RawUser {
  dir: string;
  token?: unknown;
  tokenFile?: unknown;
  "token-file"?: unknown;
  exec?: { command?: unknown } | undefined;
}

async function fromKubeconfig(
  files: { path: string; fromEnv: boolean }[],
  kubeconfigVar: string | undefined,
): Promise<ResolvedConnection> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const { parse } = await loadYaml();
  const named = (file: { path: string; fromEnv: boolean }) =>
    file.fromEnv ? `KUBECONFIG=${JSON.stringify(kubeconfigVar)}: ${file.path}` : file.path;
  const rawUsers = new Map<string, RawUser>();
  let kc: InstanceType<typeof KubeConfig> | undefined;
  for (const file of files) {
    const path = resolve(file.path);
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      throw new KubeConfigError(
        `${named(file)}: cannot read the kubeconfig (${e instanceof Error ? e.name : String(e)})`,
      );
    }
    const one = new KubeConfig();
    try {
      // Without pretty errors the parser does not quote the source, which holds credentials.
      const doc = parse(text, { prettyErrors: false }) as {
        users?: { name?: unknown; user?: Record<string, unknown> }[];
      };
      // The first file that defines a user wins, as in kubectl's merge.
      for (const u of Array.isArray(doc?.users) ? doc.users : []) {
        if (typeof u?.name === "string" && !rawUsers.has(u.name)) {
          rawUsers.set(u.name, { dir: dirname(path), ...(u.user ?? {}) });
        }
        // client-node would read `token-file` once, relative to the working directory.
        if (u?.user) delete u.user["token-file"];
      }
      one.loadFromString(JSON.stringify(doc));
      one.makePathsAbsolute(dirname(path));
    } catch (e) {
      throw new KubeConfigError(
        `${named(file)}: not a valid kubeconfig: ${kubeconfigProblem(e, text)}`,
      );
    }
    if (kc === undefined) kc = one;
    else kc.mergeConfig(one);
  }
  const where = files.map(named).join(", ");
  if (kc === undefined) {
    throw new KubeConfigError(`KUBECONFIG=${JSON.stringify(kubeconfigVar)} names no file`);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) {
    throw new KubeConfigError(
      `${where}: no current context with a cluster and a server (current-context: ${
        JSON.stringify(kc.getCurrentContext() ?? "")
      })`,
    );
  }
  const user = kc.getCurrentUser();
  const raw = user ? rawUsers.get(user.name) : undefined;
  const readData = (data: string | undefined, file: string | undefined, what: string) => {
    if (data) return new TextDecoder().decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
    if (!file) return undefined;
    try {
      return Deno.readTextFileSync(file);
    } catch (e) {
      throw new KubeConfigError(
        `${where}: cannot read the ${what} ${file} (${e instanceof Error ? e.name : String(e)})`,
      );
    }
  };
  const connection: KubeConnection = {
    server: cluster.server,
    caCert: readData(cluster.caData, cluster.caFile, "certificate authority"),
    clientCert: readData(user?.certData, user?.certFile, "client certificate"),
    clientKey: readData(user?.keyData, user?.keyFile, "client key"),
  };
  if (cluster.skipTLSVerify) connection.skipTlsVerify = true;

  // kubectl: an inline token wins over tokenFile; a relative tokenFile is relative to its file.
  const tokenFile = [raw?.tokenFile, raw?.["token-file"]].find((t) => typeof t === "string" && t);
  const inlineToken = typeof raw?.token === "string" && raw.token !== "";
  if (user && raw && typeof tokenFile === "string" && !inlineToken) {
    const path = isAbsolute(tokenFile) ? tokenFile : join(raw.dir, tokenFile);
    if (!(await exists(path))) {
      throw new KubeConfigError(
        `${where}: user ${JSON.stringify(user.name)}: tokenFile ${path} does not exist`,
      );
    }
    connection.token = rotatingToken(path);
  }
  const exec = user?.exec as { command?: unknown } | undefined;
  if (
    exec && raw && typeof exec.command === "string" && exec.command.includes("/") &&
    !isAbsolute(exec.command)
  ) {
    exec.command = join(raw.dir, exec.command);
  }
  if (user && (user.token || user.authProvider || user.exec || user.username)) {
    // Tokens, exec plugins and OIDC refresh through client-node, which caches until expiry.
    const apply = async () => {
      const o: { headers: Record<string, string>; auth?: string; cert?: unknown; key?: unknown } = {
        headers: {},
      };
      await kc!.applyToHTTPSOptions(o);
      return o;
    };
    if (user.exec) {
      // An exec plugin may answer with a client certificate instead of a token: it is read once,
      // here, since the connection's TLS identity is fixed when the client is made.
      const first = await apply().catch(() => undefined);
      if (first?.cert && first.key && !connection.clientCert) {
        connection.clientCert = String(first.cert);
        connection.clientKey = String(first.key);
      }
    }
    const fromToken = connection.token;
    connection.authHeaders = async () => {
      const o = await apply();
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(o.headers)) {
        if (k.toLowerCase() === "authorization" || k.toLowerCase().startsWith("impersonate-")) {
          headers[k.toLowerCase()] = String(v);
        }
      }
      if (o.auth && !headers.authorization) {
        headers.authorization = `Basic ${encodeBase64(new TextEncoder().encode(o.auth))}`;
      }
      if (fromToken && !headers.authorization) {
        const t = await fromToken();
        if (t) headers.authorization = `Bearer ${t}`;
      }
      return headers;
    };
  }
  return {
    connection,
    source: `kubeconfig ${files.map((f) => f.path).join(":")} context ${kc.getCurrentContext()}`,
  };
}

/**
 * What is wrong with a kubeconfig, without quoting it: a YAML error by position and kind (its
 * message may quote a line holding a token), anything else (client-node's checks of the shape) by
 * its message.
 */
function kubeconfigProblem(e: unknown, text: string): string {
  const yaml = e as { name?: string; code?: string; pos?: [number, number] };
  if (yaml.name === "YAMLParseError" || yaml.name === "YAMLWarning") {
    const kind = (yaml.code ?? "syntax error").toLowerCase().replaceAll("_", " ");
    if (yaml.pos === undefined) return `not valid YAML (${kind})`;
    const before = text.slice(0, yaml.pos[0]);
    const line = before.split("\n").length;
    const column = yaml.pos[0] - before.lastIndexOf("\n");
    return `not valid YAML at line ${line}, column ${column} (${kind})`;
  }
  return errorMessage(e);
}
