import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { api, createUaIdentity, login, startServer, type TestServer } from "../helpers/server.js";
import { needService } from "../helpers/services.js";
import { createPgDatabase } from "../helpers/postgres.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const suite = (backend: "sqlite" | "postgres") =>
  describe(`identities and universal auth (${backend})`, () => {
    let s: TestServer;
    let pg: ReturnType<typeof createPgDatabase> | undefined;
    let skip = false;

    before(async (t) => {
      if (backend === "postgres") {
        if (!(await needService(t as any, "postgres"))) { skip = true; return; }
        pg = createPgDatabase();
      }
      s = await startServer({ databaseUrl: pg?.url });
    });
    after(async () => {
      await s?.cleanup();
      pg?.drop();
    });

    test("a second bootstrap is refused", async (t) => {
      if (skip) return t.skip("postgres unavailable");
      const r = await api(s.address, "POST", "/api/v1/admin/bootstrap", { body: { email: "x@example.com", password: "p", organization: "o" } });
      assert.equal(r.status, 400);
      assert.equal(r.body.message, "Instance has already been set up");
      assert.equal((await api(s.address, "GET", "/api/v1/admin/config")).body.config.initialized, true);
    });

    test("login, renew, use count, revoke", async (t) => {
      if (skip) return t.skip("postgres unavailable");
      const c = await createUaIdentity(s, "worker", { ua: { accessTokenTTL: 60, accessTokenMaxTTL: 120, accessTokenNumUsesLimit: 0 } });
      const r = await api(s.address, "POST", "/api/v1/auth/universal-auth/login/", { body: { clientId: c.clientId, clientSecret: c.clientSecret, organizationSlug: "ignored" } });
      assert.equal(r.status, 200);
      assert.equal(r.body.expiresIn, 60);
      assert.equal(r.body.accessTokenMaxTTL, 120);
      assert.equal(r.body.tokenType, "Bearer");
      const renewed = await api(s.address, "POST", "/api/v1/auth/token/renew", { body: { accessToken: r.body.accessToken } });
      assert.equal(renewed.status, 200);
      assert.equal(renewed.body.expiresIn, 60);
      const revoke = await api(s.address, "POST", "/api/v1/auth/token/revoke", { body: { accessToken: renewed.body.accessToken } });
      assert.equal(revoke.status, 200);
      assert.equal((await api(s.address, "GET", "/api/v1/projects", { token: renewed.body.accessToken })).status, 401);
      assert.equal((await api(s.address, "POST", "/api/v1/auth/token/renew", { body: { accessToken: renewed.body.accessToken } })).status, 401);
    });

    test("token use limit is counted and enforced", async (t) => {
      if (skip) return t.skip("postgres unavailable");
      const c = await createUaIdentity(s, "limited", { ua: { accessTokenNumUsesLimit: 2 } });
      const token = await login(s.address, c.clientId, c.clientSecret);
      assert.equal((await api(s.address, "GET", "/api/v1/projects", { token })).status, 200);
      assert.equal((await api(s.address, "GET", "/api/v1/projects", { token })).status, 200);
      const third = await api(s.address, "GET", "/api/v1/projects", { token });
      assert.equal(third.status, 401);
      assert.match(third.body.message, /use limit/);
    });

    test("renewal past the max TTL is refused; an expired token is refused", async (t) => {
      if (skip) return t.skip("postgres unavailable");
      const c = await createUaIdentity(s, "short", { ua: { accessTokenTTL: 2, accessTokenMaxTTL: 3 } });
      const token = await login(s.address, c.clientId, c.clientSecret);
      assert.equal((await api(s.address, "POST", "/api/v1/auth/token/renew", { body: { accessToken: token } })).status, 200);
      await sleep(1500);
      const r = await api(s.address, "POST", "/api/v1/auth/token/renew", { body: { accessToken: token } });
      assert.equal(r.status, 401);
      assert.match(r.body.message, /Max TTL/);
      await sleep(2000);
      assert.equal((await api(s.address, "GET", "/api/v1/projects", { token })).status, 401);
    });

    test("maxTTL below TTL is a 422 naming the field", async (t) => {
      if (skip) return t.skip("postgres unavailable");
      const i = await api(s.address, "POST", "/api/v1/identities", { token: s.adminToken, body: { name: "bad-ttl", organizationId: s.orgId } });
      const r = await api(s.address, "POST", `/api/v1/auth/universal-auth/identities/${i.body.identity.id}`, { token: s.adminToken, body: { accessTokenTTL: 100, accessTokenMaxTTL: 10 } });
      assert.equal(r.status, 422);
      assert.equal(r.body.error, "ValidationFailure");
      assert.deepEqual(r.body.message[0].path, ["accessTokenMaxTTL"]);
    });

    test("client secrets: use limit, TTL, revocation, listing without plaintext", async (t) => {
      if (skip) return t.skip("postgres unavailable");
      const c = await createUaIdentity(s, "secrets");
      const base = `/api/v1/auth/universal-auth/identities/${c.identityId}/client-secrets`;
      const once = await api(s.address, "POST", base, { token: s.adminToken, body: { description: "one use", numUsesLimit: 1 } });
      assert.equal(once.body.clientSecretData.clientSecretPrefix, once.body.clientSecret.slice(0, 4));
      await login(s.address, c.clientId, once.body.clientSecret);
      await assert.rejects(login(s.address, c.clientId, once.body.clientSecret), /use limit/);
      const short = await api(s.address, "POST", base, { token: s.adminToken, body: { ttl: 1 } });
      await sleep(1200);
      await assert.rejects(login(s.address, c.clientId, short.body.clientSecret), /expired/);
      const revoked = await api(s.address, "POST", `${base}/${once.body.clientSecretData.id}/revoke`, { token: s.adminToken });
      assert.equal(revoked.body.clientSecretData.isClientSecretRevoked, true);
      const list = await api(s.address, "GET", base, { token: s.adminToken });
      assert.equal(list.body.clientSecretData.length, 3);
      assert.ok(!list.text.includes(once.body.clientSecret), "a listing never carries a plaintext secret");
    });

    test("trusted IPs are enforced as CIDR lists (IPv4 and IPv6)", async (t) => {
      if (skip) return t.skip("postgres unavailable");
      const far = await createUaIdentity(s, "far", { ua: { clientSecretTrustedIps: [{ ipAddress: "10.0.0.0/8" }, { ipAddress: "2001:db8::/32" }] } });
      const r = await api(s.address, "POST", "/api/v1/auth/universal-auth/login", { body: { clientId: far.clientId, clientSecret: far.clientSecret } });
      assert.equal(r.status, 403);
      const near = await createUaIdentity(s, "near", { ua: { clientSecretTrustedIps: [{ ipAddress: "127.0.0.0/8" }], accessTokenTrustedIps: [{ ipAddress: "192.168.1.1" }] } });
      const token = await login(s.address, near.clientId, near.clientSecret);
      assert.equal((await api(s.address, "GET", "/api/v1/projects", { token })).status, 403, "token used from an untrusted IP");
      const bad = await api(s.address, "POST", `/api/v1/auth/universal-auth/identities/${near.identityId}`, { token: s.adminToken, body: {} });
      assert.equal(bad.status, 400, "attaching twice");
      const badCidr = await api(s.address, "PATCH", `/api/v1/auth/universal-auth/identities/${near.identityId}`, { token: s.adminToken, body: { accessTokenTrustedIps: [{ ipAddress: "10.0.0.0/33" }] } });
      assert.equal(badCidr.status, 400);
      assert.match(badCidr.body.message, /accessTokenTrustedIps\[0\]/);
    });

    test("a token follows its auth method: tightened trusted IPs apply to it, renewal included, and detaching revokes it", async (t) => {
      if (skip) return t.skip("postgres unavailable");
      const c = await createUaIdentity(s, "follows-method");
      const token = await login(s.address, c.clientId, c.clientSecret);
      const other = await login(s.address, c.clientId, c.clientSecret);
      assert.equal((await api(s.address, "GET", "/api/v1/projects", { token })).status, 200);
      const tighten = await api(s.address, "PATCH", `/api/v1/auth/universal-auth/identities/${c.identityId}`, { token: s.adminToken, body: { accessTokenTrustedIps: [{ ipAddress: "10.0.0.0/8" }] } });
      assert.equal(tighten.status, 200, tighten.text);
      assert.equal((await api(s.address, "GET", "/api/v1/projects", { token })).status, 403, "the token issued before the change");
      const renew = await api(s.address, "POST", "/api/v1/auth/token/renew", { body: { accessToken: token } });
      assert.equal(renew.status, 403, renew.text);
      await api(s.address, "PATCH", `/api/v1/auth/universal-auth/identities/${c.identityId}`, { token: s.adminToken, body: { accessTokenTrustedIps: [{ ipAddress: "0.0.0.0/0" }, { ipAddress: "::/0" }] } });
      assert.equal((await api(s.address, "GET", "/api/v1/projects", { token: other })).status, 200);
      const detach = await api(s.address, "DELETE", `/api/v1/auth/universal-auth/identities/${c.identityId}`, { token: s.adminToken });
      assert.equal(detach.status, 200, detach.text);
      for (const tk of [token, other]) {
        const r = await api(s.address, "GET", "/api/v1/projects", { token: tk });
        assert.equal(r.status, 401, r.text);
        assert.match(r.body.message, /revoked/);
      }
    });

    test("the organization admin cannot take the admin role from itself", async (t) => {
      if (skip) return t.skip("postgres unavailable");
      const list = await api(s.address, "GET", "/api/v1/identities", { token: s.adminToken });
      const admins = (list.body.identities as { identity: { id: string }; role: string }[]).filter((i) => i.role === "admin");
      assert.equal(admins.length, 1, list.text);
      const r = await api(s.address, "PATCH", `/api/v1/identities/${admins[0]!.identity.id}`, { token: s.adminToken, body: { role: "member" } });
      assert.equal(r.status, 400, r.text);
      assert.match(r.body.message, /cannot take the organization admin role from itself/);
      assert.equal((await api(s.address, "GET", "/api/v1/identities", { token: s.adminToken })).status, 200, "still an admin");
      // Renaming itself is fine.
      assert.equal((await api(s.address, "PATCH", `/api/v1/identities/${admins[0]!.identity.id}`, { token: s.adminToken, body: { name: "still-admin", role: "admin" } })).status, 200);
    });

    test("repeated failed logins lock the client id out with a 429", async (t) => {
      if (skip) return t.skip("postgres unavailable");
      const c = await createUaIdentity(s, "locked");
      for (let i = 0; i < 3; i++)
        assert.equal((await api(s.address, "POST", "/api/v1/auth/universal-auth/login", { body: { clientId: c.clientId, clientSecret: "wrong" } })).status, 401);
      const r = await api(s.address, "POST", "/api/v1/auth/universal-auth/login", { body: { clientId: c.clientId, clientSecret: c.clientSecret } });
      assert.equal(r.status, 429);
      assert.equal(r.body.error, "RateLimitExceeded");
      assert.ok(Number(r.headers.get("retry-after")) > 250);
      const cleared = await api(s.address, "POST", `/api/v1/auth/universal-auth/identities/${c.identityId}/clear-lockouts`, { token: s.adminToken });
      assert.equal(cleared.body.deleted, 1);
      await login(s.address, c.clientId, c.clientSecret);
    });
  });

suite("sqlite");
suite("postgres");
