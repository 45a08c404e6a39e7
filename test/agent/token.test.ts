import assert from "node:assert/strict";
import { test } from "node:test";
import type { AuthMethod } from "../../src/agent/auth/auth-method.js";
import { createUniversalAuth } from "../../src/agent/auth/universal-auth.js";
import { silentLogger } from "../../src/agent/log.js";
import { createTokenManager } from "../../src/agent/token.js";
import { apiErrorFor, KmsNetworkError } from "../../src/client/errors.js";
import type { TokenResponse } from "../../src/client/types.js";
import { FakeClock, instantClock } from "./fake-clock.js";
import { mkdtempSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const retry = { maxRetries: 3, baseDelayMs: 200, maxDelayMs: 5_000 };

/** A fake of the client's token routes, with a script of failures. */
const fakeTokenServer = (opts: { ttl: number; maxTtl: number; now: () => number }) => {
  let n = 0;
  const log: string[] = [];
  const issuedAt = new Map<string, number>();
  const fail: { login: unknown[]; renew: unknown[] } = { login: [], renew: [] };
  const token = (createdAt: number): TokenResponse => {
    const t = `tok-${++n}`;
    issuedAt.set(t, createdAt);
    return { accessToken: t, expiresIn: opts.ttl, accessTokenMaxTTL: opts.maxTtl, tokenType: "Bearer" };
  };
  const client = {
    universalAuthLogin: async () => {
      log.push("login");
      const e = fail.login.shift();
      if (e) throw e;
      return token(opts.now());
    },
    renewToken: async (t: string) => {
      log.push(`renew ${t}`);
      const e = fail.renew.shift();
      if (e) throw e;
      const created = issuedAt.get(t)!;
      if (opts.now() + opts.ttl * 1000 > created + opts.maxTtl * 1000) throw apiErrorFor({ method: "POST", path: "/renew", status: 401, serverMessage: "past max TTL" });
      const r = token(created);
      return r;
    },
    revokeToken: async (t: string) => {
      log.push(`revoke ${t}`);
    },
  };
  const method: AuthMethod = { type: "universal-auth", login: (c) => c.universalAuthLogin({ clientId: "a", clientSecret: "b" }) };
  return { client, method, log, fail };
};

test("get() logs in once and reuses the token", async () => {
  const clock = instantClock();
  const s = fakeTokenServer({ ttl: 3600, maxTtl: 86_400, now: clock.now });
  const tm = createTokenManager({ client: s.client, method: s.method, clock, retry, logger: silentLogger });
  assert.equal(await tm.get(), "tok-1");
  assert.equal(await tm.get(), "tok-1");
  assert.deepEqual(s.log, ["login"]);
  assert.equal(tm.isAuthenticated(), true);
});

test("concurrent get() calls share one login", async () => {
  const clock = instantClock();
  const s = fakeTokenServer({ ttl: 3600, maxTtl: 86_400, now: clock.now });
  const tm = createTokenManager({ client: s.client, method: s.method, clock, retry, logger: silentLogger });
  const tokens = await Promise.all([tm.get(), tm.get(), tm.get()]);
  assert.deepEqual(tokens, ["tok-1", "tok-1", "tok-1"]);
  assert.deepEqual(s.log, ["login"]);
});

test("login retries network errors and 5xx with backoff, not 401", async () => {
  const clock = instantClock();
  const s = fakeTokenServer({ ttl: 3600, maxTtl: 86_400, now: clock.now });
  s.fail.login.push(new KmsNetworkError("POST", "/login", new Error("ECONNREFUSED")), apiErrorFor({ method: "POST", path: "/login", status: 502, serverMessage: "bad gateway" }));
  const tm = createTokenManager({ client: s.client, method: s.method, clock, retry, logger: silentLogger, random: () => 0.5 });
  assert.equal(await tm.get(), "tok-1");
  assert.deepEqual(clock.sleeps, [200, 400]);
  s.fail.login.push(apiErrorFor({ method: "POST", path: "/login", status: 401, serverMessage: "Invalid credentials" }));
  const tm2 = createTokenManager({ client: s.client, method: s.method, clock, retry, logger: silentLogger });
  await assert.rejects(tm2.get(), /Invalid credentials/);
  assert.equal(tm2.isAuthenticated(), false);
});

test("the background loop renews at 2/3 of the TTL and logs in again before the max TTL", async () => {
  const clock = new FakeClock();
  const t0 = clock.now();
  const s = fakeTokenServer({ ttl: 300, maxTtl: 900, now: clock.now });
  const changes: boolean[] = [];
  const tm = createTokenManager({ client: s.client, method: s.method, clock, retry, logger: silentLogger, onAuthenticated: (v) => changes.push(v) });
  const ac = new AbortController();
  const loop = tm.run(ac.signal);
  await clock.advance(0);
  assert.deepEqual(s.log, ["login"]);
  const at: number[] = [];
  const seenLog = () => s.log.length;
  for (let i = 0; i < 5; i++) {
    const before = seenLog();
    await clock.runUntil(() => seenLog() > before);
    at.push((clock.now() - t0) / 1000);
  }
  ac.abort();
  await loop;
  // 300 s TTL → renew every 200 s while now + TTL stays within the 900 s max TTL; at 800 s a renewal
  // would pass it (800 + 300 > 900), so the agent logs in again, and renews that token at 1000 s.
  assert.deepEqual(s.log, ["login", "renew tok-1", "renew tok-2", "renew tok-3", "login", "renew tok-5"]);
  assert.deepEqual(at, [200, 400, 600, 800, 1000]);
  assert.deepEqual(changes, [true]);
});

test("a refused renewal falls back to a login", async () => {
  const clock = instantClock();
  const s = fakeTokenServer({ ttl: 300, maxTtl: 90_000, now: clock.now });
  const tm = createTokenManager({ client: s.client, method: s.method, clock, retry, logger: silentLogger });
  await tm.get();
  clock.t += 280_000; // within the 10% margin before expiry → refresh
  s.fail.renew.push(apiErrorFor({ method: "POST", path: "/renew", status: 401, serverMessage: "revoked" }));
  assert.equal(await tm.get(), "tok-2");
  assert.deepEqual(s.log, ["login", "renew tok-1", "login"]);
});

test("withToken logs in again once after a 401", async () => {
  const clock = instantClock();
  const s = fakeTokenServer({ ttl: 3600, maxTtl: 86_400, now: clock.now });
  const tm = createTokenManager({ client: s.client, method: s.method, clock, retry, logger: silentLogger });
  const used: string[] = [];
  const r = await tm.withToken(async (t) => {
    used.push(t);
    if (used.length === 1) throw apiErrorFor({ method: "GET", path: "/x", status: 401, serverMessage: "Token revoked" });
    return "ok";
  });
  assert.equal(r, "ok");
  assert.deepEqual(used, ["tok-1", "tok-2"]);
});

test("a loop that cannot log in keeps trying with growing delays", async () => {
  const clock = new FakeClock();
  const s = fakeTokenServer({ ttl: 300, maxTtl: 900, now: clock.now });
  for (let i = 0; i < 12; i++) s.fail.login.push(new KmsNetworkError("POST", "/login", new Error("ECONNREFUSED")));
  const tm = createTokenManager({ client: s.client, method: s.method, clock, retry: { ...retry, maxRetries: 0 }, logger: silentLogger, random: () => 0.5 });
  const ac = new AbortController();
  const loop = tm.run(ac.signal);
  await clock.runUntil(() => tm.isAuthenticated());
  ac.abort();
  await loop;
  assert.equal(s.log.filter((l) => l === "login").length, 13);
  const gaps = clock.sleeps.slice(0, 12);
  assert.deepEqual(gaps.slice(0, 7), [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000]);
});

test("expiresIn 0 never makes the loop spin", async () => {
  const clock = new FakeClock();
  const s = fakeTokenServer({ ttl: 0, maxTtl: 0, now: clock.now });
  const tm = createTokenManager({ client: s.client, method: s.method, clock, retry, logger: silentLogger });
  const ac = new AbortController();
  const loop = tm.run(ac.signal);
  await clock.advance(7 * 86_400_000);
  ac.abort();
  await loop;
  assert.deepEqual(s.log, ["login"]);
  assert.equal(await tm.get(), "tok-1");
});

test("universal auth reads credentials from files or literals, and removes the secret when asked (both spellings)", async () => {
  const d = mkdtempSync(join(tmpdir(), "kms-ua-test-"));
  for (const key of ["remove-client-secret-on-read", "remove_client_secret_on_read"] as const) {
    writeFileSync(join(d, "client-id"), "file-id\n");
    writeFileSync(join(d, "client-secret"), "file-secret\n");
    const remembered = new Map<string, string>();
    const m = createUniversalAuth(
      { type: "universal-auth", config: { "client-id": join(d, "client-id"), "client-secret": join(d, "client-secret"), [key]: true } },
      { remembered },
    );
    assert.equal(existsSync(join(d, "client-secret")), false, key);
    let sent: unknown;
    await m.login({ universalAuthLogin: async (c) => ((sent = c), { accessToken: "t", expiresIn: 1, accessTokenMaxTTL: 1 }) });
    assert.deepEqual(sent, { clientId: "file-id", clientSecret: "file-secret" });
    // A reload of the same config still works although the file is gone.
    const again = createUniversalAuth({ type: "universal-auth", config: { "client-id": join(d, "client-id"), "client-secret": join(d, "client-secret") } }, { remembered });
    await again.login({ universalAuthLogin: async (c) => ((sent = c), { accessToken: "t", expiresIn: 1, accessTokenMaxTTL: 1 }) });
    assert.deepEqual(sent, { clientId: "file-id", clientSecret: "file-secret" });
  }
  const literal = createUniversalAuth({ type: "universal-auth", config: { "client-id": "lit-id", "client-secret": "lit-secret" } });
  let sent: unknown;
  await literal.login({ universalAuthLogin: async (c) => ((sent = c), { accessToken: "t", expiresIn: 1, accessTokenMaxTTL: 1 }) });
  assert.deepEqual(sent, { clientId: "lit-id", clientSecret: "lit-secret" });
  assert.throws(() => createUniversalAuth({ type: "universal-auth", config: { "client-id": "./missing/id", "client-secret": "x" } }), /client-id file ".\/missing\/id" does not exist/);
});
