import assert from "node:assert/strict";
import { type HealthServer, type HealthState, serveHealth } from "./server.ts";

const state: HealthState = {
  ready: () => true,
  notReady: () => [],
  problems: () => [],
  metrics: () => "",
};

function recording() {
  const listened: Deno.NetAddr[] = [];
  const errors: { message: string; fields: Record<string, string> }[] = [];
  return {
    listened,
    errors,
    reports: {
      onListen: (a: Deno.NetAddr) => listened.push(a),
      onError: (message: string, fields: Record<string, string>) =>
        errors.push({ message, fields }),
    },
  };
}

async function status(url: string): Promise<number> {
  const res = await fetch(url);
  await res.body?.cancel();
  return res.status;
}

Deno.test("serveHealth() without a hostname answers on IPv6 and IPv4", async () => {
  const r = recording();
  const server = serveHealth({ port: 0 }, state, r.reports);
  try {
    assert.deepEqual(r.errors, []);
    assert.equal(r.listened[0]?.hostname, "::");
    const port = server.addrs[0]!.port;
    assert.equal(await status(`http://127.0.0.1:${port}/healthz`), 200);
    assert.equal(await status(`http://[::1]:${port}/healthz`), 200);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHealth() reports a port in use, naming HEALTH_HOST/HEALTH_PORT, and does not throw", async () => {
  const first = serveHealth({ port: 0 }, state, recording().reports);
  const port = first.addrs[0]!.port;
  const servers: HealthServer[] = [first];
  try {
    for (const hostname of [undefined, "127.0.0.1", "::"]) {
      const r = recording();
      const second = serveHealth({ hostname, port }, state, r.reports);
      servers.push(second);
      assert.deepEqual(second.addrs, [], String(hostname));
      assert.equal(r.errors.length, 1);
      const shown = hostname === "127.0.0.1" ? `127.0.0.1:${port}` : `[::]:${port}`;
      assert.equal(
        r.errors[0]!.message,
        `health server not started: HEALTH_HOST/HEALTH_PORT address ${shown} is already in use ` +
          "(two sidecars in one pod need a HEALTH_PORT each); syncing goes on without /healthz, " +
          "/readyz and /metrics",
      );
      assert.deepEqual(r.errors[0]!.fields, {
        address: shown,
        HEALTH_HOST: hostname ?? "(unset)",
        HEALTH_PORT: String(port),
      });
    }
    assert.equal(await status(`http://127.0.0.1:${port}/healthz`), 200, "the first one answers");
  } finally {
    for (const s of servers) await s.shutdown();
  }
});

Deno.test("serveHealth() reports an address it cannot listen on", async () => {
  const r = recording();
  // TEST-NET-1: never an address of this machine.
  const server = serveHealth({ hostname: "192.0.2.1", port: 0 }, state, r.reports);
  await server.shutdown();
  assert.equal(server.addrs.length, 0);
  assert.match(r.errors[0]!.message, /address 192\.0\.2\.1:0 cannot be listened on \(/);
});

Deno.test("serveHealth() falls back to 0.0.0.0 where IPv6 is unavailable", async () => {
  const r = recording();
  const tried: string[] = [];
  const serve = ((options: Deno.ServeTcpOptions, handler: Deno.ServeHandler) => {
    tried.push(options.hostname ?? "");
    // What the kernel says when it was built or booted without IPv6.
    if (options.hostname === "::") throw new Error("Address family not supported by protocol");
    return Deno.serve({ ...options, hostname: "127.0.0.1" }, handler);
  }) as typeof Deno.serve;
  const server = serveHealth({ port: 0 }, state, r.reports, serve);
  try {
    assert.deepEqual(tried, ["::", "0.0.0.0"]);
    assert.deepEqual(r.errors, []);
    assert.equal(server.addrs.length, 1);
    assert.equal(await status(`http://127.0.0.1:${server.addrs[0]!.port}/readyz`), 200);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHealth() answers /healthz 503 with the problems and /readyz 503 until ready", async () => {
  let ready = false;
  const server = serveHealth({ hostname: "127.0.0.1", port: 0 }, {
    ready: () => ready,
    notReady: () => ready ? [] : ["configmap@ns: cannot list: 403"],
    problems: () => ready ? [] : ["initial sync not written yet"],
    metrics: () => "m 1\n",
  }, recording().reports);
  const base = `http://127.0.0.1:${server.addrs[0]!.port}`;
  try {
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 503);
    assert.equal(await health.text(), "initial sync not written yet\n");
    const readyz = await fetch(`${base}/readyz`);
    assert.equal(readyz.status, 503);
    assert.equal(
      await readyz.text(),
      "initial sync not written yet\nconfigmap@ns: cannot list: 403\n",
    );
    ready = true;
    assert.equal(await status(`${base}/healthz`), 200);
    assert.equal(await status(`${base}/readyz`), 200);
    assert.equal(await status(`${base}/nope`), 404);
  } finally {
    await server.shutdown();
  }
});
