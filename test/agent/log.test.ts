import assert from "node:assert/strict";
import { test } from "node:test";
import { createLogger, redact, REDACTED } from "../../src/agent/log.js";
import { instantClock } from "./fake-clock.js";

const capture = (format: "text" | "json", level: "debug" | "info" = "info") => {
  const out: string[] = [];
  const logger = createLogger({ format, level, stream: { write: (s: string) => (out.push(s), true) }, clock: instantClock(Date.UTC(2030, 0, 1)) });
  return { logger, out };
};

test("text lines: time, level, message, key=value", () => {
  const { logger, out } = capture("text");
  logger.child({ certificate: "api.example.com" }).info("certificate issued", { serial: "0A1B", notAfter: "2030-02-01T00:00:00Z", note: "two words" });
  assert.equal(out[0], '2030-01-01T00:00:00.000Z INFO  certificate issued certificate=api.example.com serial=0A1B notAfter=2030-02-01T00:00:00Z note="two words"\n');
});

test("json lines are one object each", () => {
  const { logger, out } = capture("json");
  logger.warn("x", { n: 1 });
  assert.deepEqual(JSON.parse(out[0]!), { time: "2030-01-01T00:00:00.000Z", level: "warn", msg: "x", n: 1 });
});

test("levels below the threshold are dropped; --verbose shows debug", () => {
  const quiet = capture("text");
  quiet.logger.debug("hidden");
  assert.equal(quiet.out.length, 0);
  const loud = capture("text", "debug");
  loud.logger.debug("shown");
  assert.equal(loud.out.length, 1);
});

test("tokens, secrets and private keys never reach a line", () => {
  for (const format of ["text", "json"] as const) {
    const { logger, out } = capture(format);
    const pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----";
    logger.info(`got ${pem}`, {
      accessToken: "tok-123",
      clientSecret: "cs-456",
      "client-secret": "cs-789",
      privateKey: pem,
      nested: { password: "pw", fine: "visible" },
      header: "Authorization: Bearer abc.def.ghi",
      error: new Error(`failed with ${pem}`),
    });
    const line = out.join("");
    for (const secret of ["tok-123", "cs-456", "cs-789", "MIIEvQIBADANBg", "pw\"", "abc.def.ghi"]) assert.ok(!line.includes(secret), `${format}: ${secret} leaked: ${line}`);
    assert.ok(line.includes("visible"));
    assert.ok(line.includes(REDACTED));
  }
});

test("redact leaves ordinary values alone", () => {
  assert.deepEqual(redact({ serial: "01", path: "/etc/ssl/web.key", keySource: "local", count: 3 }), { serial: "01", path: "/etc/ssl/web.key", keySource: "local", count: 3 });
});

test("credentials in a URL are redacted, the rest of the URL kept", () => {
  assert.equal(redact("http://user:pw@kms.example.com:8080/api"), `http://${REDACTED}@kms.example.com:8080/api`);
  assert.deepEqual(redact({ address: "https://a:b@host/", other: "https://host/path@x" }), { address: `https://${REDACTED}@host/`, other: "https://host/path@x" });
});
