/**
 * Finds out how to reach the API server: in a pod, from the service-account mount (the token is
 * re-read as the kubelet rotates it) without loading `@kubernetes/client-node`; elsewhere, from a
 * kubeconfig through client-node's `KubeConfig`, loaded only on that path.
 *
 * @module
 */
import { join } from "node:path";
import type { KubeConnection } from "./client.ts";

/**
 * Where the kubelet mounts the service-account token, CA and namespace.
 *
 * @example
 * ```ts
 * import { SERVICE_ACCOUNT_DIR } from "./connect.ts";
 * console.assert(SERVICE_ACCOUNT_DIR.endsWith("/serviceaccount"));
 * ```
 */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Inputs of {@linkcode resolveConnection}. */
export interface ConnectOptions {
  env: Record<string, string | undefined>;
  /** `KUBECONFIG` from the configuration. */
  kubeconfig?: string | undefined;
  /** `SKIP_TLS_VERIFY`. */
  skipTlsVerify?: boolean | undefined;
}

/** A connection plus where it came from, for the startup log. */
export interface ResolvedConnection {
  connection: KubeConnection;
  source: string;
}

/**
 * In-cluster when `KUBERNETES_SERVICE_HOST` is set and a token is mounted (and no `KUBECONFIG` is
 * given); otherwise the kubeconfig (`KUBECONFIG` or `~/.kube/config`).
 *
 * @example
 * ```ts ignore
 * const { connection, source } = await resolveConnection({ env: Deno.env.toObject() });
 * ```
 */
export async function resolveConnection(opts: ConnectOptions): Promise<ResolvedConnection> {
  const host = opts.env.KUBERNETES_SERVICE_HOST;
  const saDir = opts.env.GSIDECAR_SERVICE_ACCOUNT_DIR ?? SERVICE_ACCOUNT_DIR;
  if (host && !opts.kubeconfig && (await exists(join(saDir, "token")))) {
    const connection = await inCluster(host, opts.env.KUBERNETES_SERVICE_PORT ?? "443", saDir);
    connection.skipTlsVerify = opts.skipTlsVerify;
    return { connection, source: "in-cluster" };
  }
  const resolved = await fromKubeconfig(opts.kubeconfig);
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

async function fromKubeconfig(path: string | undefined): Promise<ResolvedConnection> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new Error(
      `no current cluster in the kubeconfig (${path ?? "KUBECONFIG or ~/.kube/config"})`,
    );
  }
  const user = kc.getCurrentUser();
  const readData = (data: string | undefined, file: string | undefined): string | undefined => {
    if (data) return new TextDecoder().decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
    if (file) return Deno.readTextFileSync(file);
    return undefined;
  };
  const connection: KubeConnection = {
    server: cluster.server,
    caCert: readData(cluster.caData, cluster.caFile),
    clientCert: readData(user?.certData, user?.certFile),
    clientKey: readData(user?.keyData, user?.keyFile),
  };
  if (user && (user.token || user.authProvider || user.exec)) {
    // Tokens, exec plugins and OIDC refresh through client-node, which caches until expiry.
    connection.token = async () => {
      const opts: { headers: Record<string, string> } = { headers: {} };
      await kc.applyToHTTPSOptions(opts);
      const auth = opts.headers.Authorization ?? opts.headers.authorization;
      return auth?.replace(/^Bearer\s+/i, "") ?? undefined;
    };
  }
  return {
    connection,
    source: `kubeconfig ${path ?? "(default)"} context ${kc.getCurrentContext()}`,
  };
}
