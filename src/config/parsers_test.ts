import assert from "node:assert/strict";
import {
  fileMode,
  Invalid,
  list,
  listenHost,
  MAX_TIMER_SECONDS,
  number,
  origin,
} from "./parsers.ts";

function problem(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof Invalid, String(e));
    return e.messages.join("; ");
  }
  assert.fail("no Invalid thrown");
}

Deno.test("number() keeps timers within what setTimeout can wait", () => {
  assert.ok(MAX_TIMER_SECONDS * 1000 <= 2 ** 31 - 1);
  assert.equal(number(String(MAX_TIMER_SECONDS), { max: MAX_TIMER_SECONDS, unit: "s" }), 2073600);
  assert.match(
    problem(() => number("2073601", { max: MAX_TIMER_SECONDS, unit: "s" })),
    /more than 2073600 s \(timers longer than 24 days cannot be kept\)/,
  );
  assert.equal(problem(() => number("0", { max: 10 })), "is not above 0 up to 10");
  assert.equal(number("0", { min: 0, max: 10 }), 0);
  assert.match(problem(() => number("1e3", { max: 1e9 })), /is not a number/);
  assert.match(problem(() => number("1.5", { integer: true, max: 9 })), /whole number/);
});

Deno.test("list() trims entries and reports every empty entry and bad entry at once", () => {
  assert.deepEqual(list("X", " a ,b", (e) => e.toUpperCase()), ["A", "B"]);
  let e: unknown;
  try {
    list("X", "a,,bad,", (v) => {
      if (v === "bad") throw new Invalid("is bad");
      return v;
    });
  } catch (err) {
    e = err;
  }
  assert.ok(e instanceof Invalid && e.whole);
  assert.deepEqual(e.messages, [
    'X="a,,bad," has an empty entry (entries 2, 4 of 4)',
    'X entry "bad" is bad',
  ]);
});

Deno.test("listenHost() takes IP addresses and host names, and nothing else", () => {
  for (const ok of ["0.0.0.0", "127.0.0.1", "::", "::1", "fe80::1", "localhost", "pod.local"]) {
    assert.equal(listenHost(ok), ok);
  }
  assert.equal(listenHost("[::]"), "::");
  assert.match(problem(() => listenHost("1.2.3.999")), /not a valid IPv4 address/);
  assert.match(problem(() => listenHost("::zz")), /not a valid IPv6 address/);
  assert.match(problem(() => listenHost("not a host")), /not an IP address or host name/);
  assert.match(problem(() => listenHost("-bad-.example")), /not an IP address or host name/);
});

Deno.test("origin() accepts scheme, host and port only", () => {
  assert.equal(origin("https://files.example.com"), "https://files.example.com");
  assert.equal(origin("http://10.0.0.1:8080/"), "http://10.0.0.1:8080");
  assert.match(problem(() => origin("files.example.com")), /is not an origin/);
  assert.match(problem(() => origin("https://x/p")), /has a path/);
  assert.match(problem(() => origin("https://x/?q")), /has a path, query/);
});

Deno.test("fileMode() reads octal modes up to 777", () => {
  assert.equal(fileMode("644"), 0o644);
  assert.equal(fileMode("0o0644"), 0o644);
  assert.match(problem(() => fileMode("1777")), /octal file mode up to 777/);
  assert.match(problem(() => fileMode("u=rw")), /octal/);
});
