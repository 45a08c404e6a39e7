import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { api, createUaIdentity, login, startServer } from "../helpers/server.js";
import type { TestServer } from "../helpers/server.js";
import { makeFixture } from "./secrets-agent-harness.js";
import type { Fixture } from "./secrets-agent-harness.js";

/**
 * A change stream does not outlive the access it was opened with: with every heartbeat the server checks the
 * token and the caller's role again, and ends the stream when either is gone; the reconnect is then refused.
 */
describe("secret change stream: access checked with every heartbeat", () => {
  let s: TestServer;
  let f: Fixture;
  const HEARTBEAT_MS = 200;

  /** Opens the stream; resolves once `ready` arrived, with a promise of when (ms after ready) the stream ended. */
  const openStream = async (token: string) => {
    const res = await fetch(`${s.address}/api/v1/secrets/events?projectId=${f.projectId}&environment=dev`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, await (res.status === 200 ? "" : res.text()));
    const reader = res.body!.getReader();
    let text = "";
    while (!text.includes("event: ready")) {
      const { value, done } = await reader.read();
      assert.ok(!done, `stream ended before ready: ${text}`);
      text += Buffer.from(value).toString();
    }
    const readyAt = Date.now();
    let pings = 0;
    const ended = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return Date.now() - readyAt;
        pings += (Buffer.from(value).toString().match(/^: ping$/gm) ?? []).length;
      }
    })();
    return { ended, pings: () => pings, cancel: () => reader.cancel() };
  };
  const reconnectStatus = async (token: string) =>
    (await fetch(`${s.address}/api/v1/secrets/events?projectId=${f.projectId}&environment=dev`, { headers: { authorization: `Bearer ${token}` } })).status;
  const reader = async (name: string, role: Record<string, unknown>) => {
    const c = await createUaIdentity(s, name);
    const m = await api(s.address, "POST", `/api/v1/projects/${f.projectId}/memberships/identities/${c.identityId}`, { token: s.adminToken, body: { roles: [{ role: "viewer", ...role }] } });
    assert.equal(m.status, 200, m.text);
    return login(s.address, c.clientId, c.clientSecret);
  };

  before(async () => {
    s = await startServer({ env: { KMS_SECRET_EVENTS_HEARTBEAT_MS: String(HEARTBEAT_MS) } });
    f = await makeFixture(s, "events-access");
  });
  after(async () => s?.cleanup());

  test("a stream with its access intact stays open, with a heartbeat each interval", { timeout: 10_000 }, async () => {
    const token = await reader("steady", { isTemporary: false });
    const st = await openStream(token);
    const early = await Promise.race([st.ended, new Promise<"open">((r) => setTimeout(() => r("open"), 6 * HEARTBEAT_MS))]);
    assert.equal(early, "open");
    assert.ok(st.pings() >= 3, `pings: ${st.pings()}`);
    await st.cancel();
  });

  test("a temporary membership whose time is up ends the stream within a heartbeat; the reconnect is a 403", { timeout: 10_000 }, async () => {
    const token = await reader("temporary", { isTemporary: true, temporaryMode: "relative", temporaryRange: "2s", temporaryAccessStartTime: new Date().toISOString() });
    const st = await openStream(token);
    const after = await st.ended;
    assert.ok(after < 2_000 + 3 * HEARTBEAT_MS, `ended ${after} ms after ready`);
    assert.equal(await reconnectStatus(token), 403);
  });

  test("a revoked token ends the stream within a heartbeat; the reconnect is a 401", { timeout: 10_000 }, async () => {
    const token = await reader("revoked", { isTemporary: false });
    const st = await openStream(token);
    const revokedAt = Date.now();
    const r = await api(s.address, "POST", "/api/v1/auth/token/revoke", { body: { accessToken: token } });
    assert.equal(r.status, 200, r.text);
    await st.ended;
    assert.ok(Date.now() - revokedAt < 3 * HEARTBEAT_MS + 500, `ended ${Date.now() - revokedAt} ms after the revocation`);
    assert.equal(await reconnectStatus(token), 401);
  });
});
