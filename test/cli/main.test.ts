import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { KMS_BIN, REPO } from "../helpers/server.js";

const kms = (...args: string[]) => execFileSync(process.execPath, [KMS_BIN, ...args], { encoding: "utf8" });

test("kms --version and -V print the package version", () => {
  const { version } = JSON.parse(readFileSync(`${REPO}/package.json`, "utf8")) as { version: string };
  assert.equal(kms("--version").trim(), version);
  assert.equal(kms("-V").trim(), version);
});

test("kms --help lists every command", () => {
  const help = kms("--help");
  for (const c of ["dev", "server", "bootstrap", "cert-manager", "template", "agent", "svccert", "pki"]) assert.match(help, new RegExp(`^  ${c}\\b`, "m"), c);
});
