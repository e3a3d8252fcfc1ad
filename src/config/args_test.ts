import assert from "node:assert/strict";
import { parseArgs } from "./args.ts";

Deno.test("parseArgs() reads --help, -h and --config in both forms, the last --config winning", () => {
  assert.equal(parseArgs(["--help"], false).help, true);
  assert.equal(parseArgs(["-h"], false).help, true);
  assert.equal(parseArgs(["--config", "/a.yaml"], false).configPath, "/a.yaml");
  assert.equal(parseArgs(["--config=/a.yaml"], false).configPath, "/a.yaml");
  assert.equal(parseArgs(["--config=/a", "--config", "/c"], false).configPath, "/c");
  assert.equal(parseArgs([], false).configPath, undefined);
  // A flag without its value is reported by readConfigFile, which names the flag.
  assert.equal(parseArgs(["--config"], false).configPath, "");
  assert.deepEqual(parseArgs(["--config", "/a", "--help"], false).errors, []);
});

Deno.test("parseArgs() refuses unknown arguments and positionals", () => {
  assert.deepEqual(parseArgs(["--verbose"], false).errors, [
    'unknown command-line argument "--verbose": this program takes --config PATH and --help; ' +
    "settings come from environment variables (see --help)",
  ]);
  assert.match(parseArgs(["extra"], false).errors[0]!, /unexpected command-line argument "extra"/);
  assert.equal(parseArgs(["--", "--config", "/a"], false).errors.length, 2);
  assert.equal(parseArgs(["--help=yes"], false).errors.length, 1);
  // Abbreviations are kiwigrid's (argparse's) habit, accepted only under COMPAT.
  assert.equal(parseArgs(["--conf", "/a"], false).errors.length, 2);
  assert.equal(parseArgs(["--conf", "/a"], true).configPath, "/a");
});

Deno.test("parseArgs() without COMPAT refuses kiwigrid's flags, naming the variable to use", () => {
  const { errors, env } = parseArgs(["--req-username-file=/creds/user"], false);
  assert.deepEqual(env, {});
  assert.deepEqual(errors, [
    "command-line argument --req-username-file is kiwigrid/k8s-sidecar's: set REQ_USERNAME_FILE " +
    "instead, or COMPAT=kiwigrid to accept kiwigrid's flags",
  ]);
});

Deno.test("parseArgs() under COMPAT reads kiwigrid's flags as argparse does", () => {
  assert.deepEqual(
    parseArgs(["--req-username-file", "/creds/user", "--req-password-file=/creds/pw"], true),
    {
      help: false,
      env: { REQ_USERNAME_FILE: "/creds/user", REQ_PASSWORD_FILE: "/creds/pw" },
      errors: [],
    },
  );
  assert.deepEqual(parseArgs(["--req-u=/u", "--req-pass", "/p"], true).env, {
    REQ_USERNAME_FILE: "/u",
    REQ_PASSWORD_FILE: "/p",
  });
  assert.match(parseArgs(["--req-=/x"], true).errors[0]!, /"--req-" is ambiguous/);
  assert.match(parseArgs(["--req-username-file"], true).errors[0]!, /needs a value/);
  assert.match(
    parseArgs(["--verbose"], true).errors[0]!,
    /--req-username-file, --req-password-file/,
  );
});
