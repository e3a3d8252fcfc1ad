import assert from "node:assert/strict";
import { after, systemClock } from "./clock.ts";

Deno.test("after() calls back once, and never once cancelled", async () => {
  // The cancelled timer is due first: had it fired, it would be in `fired` before "kept".
  const fired: string[] = [];
  const cancelled = after(1, () => fired.push("cancelled"));
  const { promise, resolve } = Promise.withResolvers<void>();
  after(20, () => {
    fired.push("kept");
    resolve();
  });
  cancelled.cancel();
  cancelled.cancel();
  await promise;
  assert.deepEqual(fired, ["kept"]);
});

Deno.test("systemClock.timer() fires in order of due time", async () => {
  const fired: number[] = [];
  const { promise, resolve } = Promise.withResolvers<void>();
  systemClock.timer(30, () => {
    fired.push(30);
    resolve();
  });
  systemClock.timer(5, () => fired.push(5));
  systemClock.timer(15, () => fired.push(15)).cancel();
  await promise;
  assert.deepEqual(fired, [5, 30]);
});

Deno.test("no module of the sidecar calls the global setTimeout or setInterval", async () => {
  // In Deno 2.9 their first call loads Node's timers (3 MiB resident); `after()` does not.
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: new URL("../../", import.meta.url),
    stdout: "piped",
  }).output();
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string }[];
  };
  const local = graph.modules.map((m) => m.specifier).filter((s) => s.startsWith("file:"));
  assert.ok(local.length > 50, `${local.length} modules in main.ts's graph`);
  const offenders: string[] = [];
  for (const specifier of local) {
    const code = (await Deno.readTextFile(new URL(specifier)))
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/\/\/.*$/gm, "");
    if (/\b(?:setTimeout|setInterval)\s*\(/.test(code)) offenders.push(specifier);
  }
  assert.deepEqual(offenders, []);
});
