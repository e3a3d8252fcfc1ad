/**
 * A throw-away PKI for the local control plane, made with the `openssl` CLI: a CA, a serving
 * certificate for 127.0.0.1/localhost, an admin client certificate (group `system:masters`) and
 * the service-account signing key pair.
 *
 * @module
 */
import { join } from "node:path";

/** Paths (and PEM texts) of the generated material. */
export interface Pki {
  dir: string;
  caCert: string;
  caCertPath: string;
  servingCertPath: string;
  servingKeyPath: string;
  adminCert: string;
  adminKey: string;
  saKeyPath: string;
  saPubPath: string;
}

async function openssl(cwd: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "piped", stderr: "piped" })
    .output()
    .catch((e: unknown) => {
      throw new Error(`openssl is needed to make the test PKI: ${e}`);
    });
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Creates the whole PKI under `dir` (which must exist). */
export async function makePki(dir: string): Promise<Pki> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(
    dir,
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=gsidecar-test-ca",
  );

  const leaf = async (name: string, subj: string, ext: string) => {
    await Deno.writeTextFile(join(dir, `${name}.ext`), ext);
    await openssl(
      dir,
      "req",
      "-new",
      ...ec,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      subj,
    );
    await openssl(
      dir,
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
    );
  };
  await leaf(
    "serving",
    "/CN=kube-apiserver",
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n",
  );
  await leaf(
    "admin",
    "/O=system:masters/CN=gsidecar-admin",
    "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n",
  );

  await openssl(
    dir,
    "genpkey",
    "-algorithm",
    "RSA",
    "-pkeyopt",
    "rsa_keygen_bits:2048",
    "-out",
    "sa.key",
  );
  await openssl(dir, "pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub");

  const read = (f: string) => Deno.readTextFile(join(dir, f));
  return {
    dir,
    caCert: await read("ca.crt"),
    caCertPath: join(dir, "ca.crt"),
    servingCertPath: join(dir, "serving.crt"),
    servingKeyPath: join(dir, "serving.key"),
    adminCert: await read("admin.crt"),
    adminKey: await read("admin.key"),
    saKeyPath: join(dir, "sa.key"),
    saPubPath: join(dir, "sa.pub"),
  };
}
