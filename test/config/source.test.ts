import { test } from "node:test";
import assert from "node:assert/strict";
import { CONFIG_ENV, configSource, readConfig } from "../../src/config/source.js";

const read = (value: string) => readConfig(configSource(undefined, { [CONFIG_ENV]: value })!, (text) => ({ ok: true as const, value: text }));

test(`${CONFIG_ENV}: base64 or base64url of the YAML, wrapped or not`, () => {
  const yaml = "version: v1\nkms:\n  address: https://kms.example.com\n";
  for (const encoded of [Buffer.from(yaml).toString("base64"), Buffer.from(yaml).toString("base64url"), Buffer.from(yaml).toString("base64").replace(/(.{20})/g, "$1\n")])
    assert.deepEqual(read(encoded), { ok: true, value: yaml });
});

test(`${CONFIG_ENV}: not base64, or not text, says so instead of a schema error about debris`, () => {
  const notB64 = read("version: v1") as { ok: false; problems: { message: string }[] };
  assert.equal(notB64.ok, false);
  assert.match(notB64.problems[0]!.message, /KMS_AGENT_CONFIG_BASE64 is not base64/);
  const binary = read(Buffer.from([0xff, 0xfe, 0x00, 0x9c]).toString("base64")) as { ok: false; problems: { message: string }[] };
  assert.match(binary.problems[0]!.message, /does not decode to text/);
});
