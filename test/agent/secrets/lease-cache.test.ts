import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createLogger } from "../../../src/agent/log.js";
import { openLeaseCache } from "../../../src/agent/cache/lease-cache.js";
import type { CachedLease } from "../../../src/agent/cache/lease-cache.js";
import { systemClock } from "../../../src/core/clock.js";

const entry = (key: string, expireAt: number): CachedLease => ({
  key, projectSlug: "app", environment: "dev", secretPath: "/", name: "pg", ttl: "1h", principals: "", leaseId: `id-${key}`,
  data: { DB_USERNAME: "u", DB_PASSWORD: "very-secret-password" }, expireAt, createdAt: Date.now(),
});
const setup = () => {
  const dir = mkdtempSync(join(tmpdir(), "kms-lease-cache-"));
  const logs: string[] = [];
  const logger = createLogger({ stream: { write: (l: string) => (logs.push(l), true) } });
  return { dir, logs, deps: { clock: systemClock, logger } };
};

test("file cache: key file created 0600, cache file 0600 and sealed (no credential in clear), round trip, expired entries dropped", async () => {
  const t = setup();
  const cfg = { type: "file" as const, path: join(t.dir, "c"), "key-file": join(t.dir, "k") };
  const c = await openLeaseCache(cfg, t.deps);
  assert.equal(statSync(join(t.dir, "k")).mode & 0o777, 0o600);
  assert.equal(readFileSync(join(t.dir, "k")).length, 32);
  await c.write([entry("live", Date.now() + 60_000), entry("dead", Date.now() - 1)]);
  assert.equal(statSync(c.file).mode & 0o777, 0o600);
  assert.ok(!readFileSync(c.file, "utf8").includes("very-secret-password"));
  const back = await (await openLeaseCache(cfg, t.deps)).read();
  assert.deepEqual([...back.keys()], ["live"]);
  assert.equal(back.get("live")!.data.DB_PASSWORD, "very-secret-password");
});

test("a tampered file, or one sealed under another service-account token, is discarded with a warning", async () => {
  const t = setup();
  const token = join(t.dir, "token");
  writeFileSync(token, "token-one");
  const cfg = { type: "kubernetes" as const, path: join(t.dir, "c"), "service-account-token-path": token };
  const c = await openLeaseCache(cfg, t.deps);
  await c.write([entry("a", Date.now() + 60_000)]);
  assert.equal((await c.read()).size, 1);

  writeFileSync(token, "token-two");
  assert.equal((await (await openLeaseCache(cfg, t.deps)).read()).size, 0);
  assert.match(t.logs.join(""), /cannot be decrypted: tampered with, or written under another service-account token; discarded/);

  writeFileSync(token, "token-one");
  const again = await openLeaseCache(cfg, t.deps);
  await again.write([entry("a", Date.now() + 60_000)]);
  const j = JSON.parse(readFileSync(again.file, "utf8"));
  j.tag = Buffer.alloc(16).toString("base64");
  writeFileSync(again.file, JSON.stringify(j));
  t.logs.length = 0;
  assert.equal((await again.read()).size, 0);
  assert.equal(t.logs.length, 1);
  assert.ok(!t.logs.join("").includes("token-one"));
});

test("an empty service-account token is refused", async () => {
  const t = setup();
  writeFileSync(join(t.dir, "token"), "");
  await assert.rejects(openLeaseCache({ type: "kubernetes", path: join(t.dir, "c"), "service-account-token-path": join(t.dir, "token") }, t.deps), /is empty/);
});
