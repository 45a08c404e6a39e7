import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createSecretEventsClient } from "../../src/client/secret-events.js";
import type { ServerSentEvent } from "../../src/client/secret-events.js";
import { api, createUaIdentity, login, startServer } from "../helpers/server.js";
import type { TestServer } from "../helpers/server.js";
import { deleteSecret, makeFixture, makeFolder, setSecret } from "./secrets-agent-harness.js";
import type { Fixture } from "./secrets-agent-harness.js";

/** GET /api/v1/secrets/events against a real server process, read with the agent's own SSE client. */

describe("secret change stream (GET /api/v1/secrets/events)", () => {
  let s: TestServer;
  let f: Fixture;
  let token: string;
  const client = () => createSecretEventsClient({ address: s.address });

  /** Opens a stream and collects its events until `n` arrived (or `ms` passed). */
  const collect = async (q: { secretPath: string; recursive: boolean; lastEventId?: string }, until: (evs: ServerSentEvent[]) => boolean, action?: () => Promise<void>, ms = 5_000) => {
    const c = client();
    const abort = new AbortController();
    const it = await c.open({ projectId: f.projectId, environment: "dev", ...q }, { token, lastEventId: q.lastEventId, signal: abort.signal });
    const events: ServerSentEvent[] = [];
    const timer = setTimeout(() => abort.abort(), ms);
    let acted = false;
    try {
      for await (const ev of it) {
        events.push(ev);
        if (ev.event === "ready" && action && !acted) {
          acted = true;
          await action();
        }
        if (until(events)) break;
      }
    } catch {
      // aborted after the timeout: the caller checks what arrived
    } finally {
      clearTimeout(timer);
      abort.abort();
      await c.close();
    }
    return events;
  };
  const changes = (evs: ServerSentEvent[]) => evs.filter((e) => e.event === "change").map((e) => JSON.parse(e.data) as Record<string, string>);

  before(async () => {
    s = await startServer();
    f = await makeFixture(s, "events-proj");
    const c = await createUaIdentity(s, "events-reader");
    await api(s.address, "POST", `/api/v1/projects/${f.projectId}/memberships/identities/${c.identityId}`, { token: s.adminToken, body: { roles: [{ role: "viewer", isTemporary: false }] } });
    token = await login(s.address, c.clientId, c.clientSecret);
    await makeFolder(s, f.projectId, "app");
    await makeFolder(s, f.projectId, "db", "/app");
  });
  after(async () => s?.cleanup());

  test("a change in the folder arrives as a `change` event with project, environment, path, key and action, and no value", async () => {
    const evs = await collect({ secretPath: "/app", recursive: false }, (e) => changes(e).length >= 3, async () => {
      await setSecret(s, f.projectId, "API_KEY", "v1", { path: "/app" });
      await setSecret(s, f.projectId, "API_KEY", "very-secret-v2", { path: "/app" });
      await deleteSecret(s, f.projectId, "API_KEY", { path: "/app" });
    });
    assert.equal(evs[0]?.event, "ready");
    assert.deepEqual(changes(evs), [
      { projectId: f.projectId, environment: "dev", secretPath: "/app", secretKey: "API_KEY", action: "created" },
      { projectId: f.projectId, environment: "dev", secretPath: "/app", secretKey: "API_KEY", action: "updated" },
      { projectId: f.projectId, environment: "dev", secretPath: "/app", secretKey: "API_KEY", action: "deleted" },
    ]);
    assert.ok(!JSON.stringify(evs).includes("very-secret-v2"));
    assert.ok(evs.filter((e) => e.event === "change").every((e) => /^.+-\d+$/.test(e.id ?? "")));
  });

  test("other folders are filtered out unless recursive covers them", async () => {
    const flat = await collect({ secretPath: "/app", recursive: false }, () => false, async () => {
      await setSecret(s, f.projectId, "ROOT_ONLY", "x");
      await setSecret(s, f.projectId, "DEEP", "x", { path: "/app/db" });
    }, 800);
    assert.deepEqual(changes(flat), []);
    const deep = await collect({ secretPath: "/app", recursive: true }, (e) => changes(e).length >= 1, async () => {
      await setSecret(s, f.projectId, "ROOT_ONLY", "y");
      await setSecret(s, f.projectId, "DEEP", "y", { path: "/app/db" });
    });
    assert.deepEqual(changes(deep).map((c) => `${c.secretPath}/${c.secretKey}`), ["/app/db/DEEP"]);
  });

  test("Last-Event-ID replays what was missed; an id from another server process asks for a resync", async () => {
    const first = await collect({ secretPath: "/", recursive: false }, (e) => changes(e).length >= 1, () => setSecret(s, f.projectId, "A", "1").then(() => undefined));
    const lastId = first.filter((e) => e.event === "change").pop()!.id!;
    await setSecret(s, f.projectId, "B", "1");
    await setSecret(s, f.projectId, "C", "1", { path: "/app" });
    const replay = await collect({ secretPath: "/", recursive: false, lastEventId: lastId }, (e) => e.some((x) => x.event === "ready"));
    assert.deepEqual(changes(replay).map((c) => c.secretKey), ["B"]);
    const foreign = await collect({ secretPath: "/", recursive: false, lastEventId: "someoneelse-12" }, (e) => e.some((x) => x.event === "ready"));
    assert.deepEqual(foreign.map((e) => e.event), ["resync", "ready"]);
  });

  test("refusals are ordinary JSON errors: no token 401, another project's identity 404/403, unknown environment 404, bad query 422", async () => {
    const base = `/api/v1/secrets/events?projectId=${f.projectId}&environment=dev`;
    assert.equal((await api(s.address, "GET", base)).status, 401);
    const other = await makeFixture(s, "events-other", "admin");
    const o = await createUaIdentity(s, "events-outsider");
    await api(s.address, "POST", `/api/v1/projects/${other.projectId}/memberships/identities/${o.identityId}`, { token: s.adminToken, body: { roles: [{ role: "admin", isTemporary: false }] } });
    const outsider = await login(s.address, o.clientId, o.clientSecret);
    assert.equal((await api(s.address, "GET", base, { token: outsider })).status, 403);
    const env = await api(s.address, "GET", `/api/v1/secrets/events?projectId=${f.projectId}&environment=nope`, { token });
    assert.equal(env.status, 404);
    assert.match(env.body.message, /Environment with slug 'nope'/);
    assert.equal((await api(s.address, "GET", `${base}&recursive=maybe`, { token })).status, 422);
  });

  test("the server shuts down promptly with streams open", async () => {
    const c = client();
    const it = await c.open({ projectId: f.projectId, environment: "dev", secretPath: "/", recursive: true }, { token });
    const first = await it.next();
    assert.equal(first.value?.event, "ready");
    const t0 = Date.now();
    await s.restart();
    assert.ok(Date.now() - t0 < 5_000, `restart took ${Date.now() - t0} ms`);
    // The old stream ended (cleanly, by the server) rather than hanging.
    const rest = await it.next().catch(() => ({ done: true }));
    assert.equal(rest.done, true);
    await c.close();
  });
});
