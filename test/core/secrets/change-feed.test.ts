import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Actor } from "../../../src/core/actor.js";
import { secretChangeFeedFactory, type ChangeRelay, type SecretChangeEvent } from "../../../src/core/secrets/change-feed.js";
import type { ScopeResolver } from "../../../src/core/secrets/scope.js";

/**
 * The change feed against a relay that reports a gap in what it received (store/channels.ts does it when
 * its LISTEN connection comes back): every open subscription hears `resync`, whatever its folder, and a
 * client reconnecting with an id from before the gap is told to resync too.
 */

const actor: Actor = { identityId: "i", orgId: "o", orgRole: "admin", tokenId: "t", ip: "127.0.0.1" };

// Grants every request, echoing what it names: the permission check is scope.ts's, tested elsewhere.
const scopes: Pick<ScopeResolver, "resolve"> = {
  resolve: async (_actor, req) => ({
    project: { id: req.projectId! } as never,
    env: { slug: req.environment! } as never,
    path: req.path ?? "/",
    folder: undefined,
  }),
};

/** A relay as the feed sees it, driven by the test: messages from "other servers" and resumptions. */
const fakeRelay = () => {
  const onMessage: ((m: string) => void)[] = [];
  const onResumed: ((since: Date) => void)[] = [];
  const sent: string[] = [];
  const relay: ChangeRelay = {
    send: (m) => void sent.push(m),
    onMessage: (fn) => void onMessage.push(fn),
    onResumed: (fn) => void onResumed.push(fn),
  };
  return {
    relay, sent,
    fromOtherServer: (secretKey: string, secretPath = "/") =>
      onMessage.forEach((fn) => fn(JSON.stringify({ origin: "other", change: { projectId: "p", environment: "dev", secretPath, secretKey, action: "updated" } }))),
    resume: () => onResumed.forEach((fn) => fn(new Date(0))),
  };
};

/** Subscribes and records what the subscription hears, in order. */
const record = async (feed: ReturnType<typeof secretChangeFeedFactory>, secretPath: string, recursive = false, lastEventId?: string) => {
  const heard: (["change", SecretChangeEvent] | ["resync", string])[] = [];
  const sub = await feed.subscribe(actor, { projectId: "p", environment: "dev", secretPath, recursive, lastEventId }, {
    change: (e) => void heard.push(["change", e]),
    resync: (id) => void heard.push(["resync", id]),
  });
  return { sub, heard };
};

const seqOf = (id: string) => Number(id.split("-").pop());

describe("change feed: the relay was deaf and listens again", () => {
  test("every open subscription hears resync once, whatever folder it watches", async () => {
    const r = fakeRelay();
    const feed = secretChangeFeedFactory({ scopes, relay: r.relay });
    const root = await record(feed, "/", true);
    const app = await record(feed, "/app");
    const other = await record(feed, "/elsewhere");
    const closed = await record(feed, "/app");
    closed.sub.close();

    r.resume();

    for (const s of [root, app, other]) {
      assert.equal(s.heard.length, 1);
      assert.equal(s.heard[0]![0], "resync");
    }
    assert.equal(root.heard[0]![1], app.heard[0]![1], "one resync, one id, for all");
    assert.deepEqual(closed.heard, [], "a closed subscription hears nothing");
    assert.deepEqual(r.sent, [], "a resync is this server's own business: nothing is relayed");
  });

  test("the resync's id follows the events before it and precedes those after it", async () => {
    const r = fakeRelay();
    const feed = secretChangeFeedFactory({ scopes, relay: r.relay });
    const s = await record(feed, "/");
    r.fromOtherServer("BEFORE");
    r.resume();
    r.fromOtherServer("AFTER");
    assert.deepEqual(s.heard.map(([kind, x]) => (kind === "change" ? x.secretKey : kind)), ["BEFORE", "resync", "AFTER"]);
    const ids = s.heard.map(([kind, x]) => seqOf(kind === "change" ? x.id : x));
    assert.ok(ids[0]! < ids[1]! && ids[1]! < ids[2]!, `ids ${ids.join(",")} increase`);
  });

  test("a client reconnecting with an id from before the resync is told to resync; from the resync on, it is replayed", async () => {
    const r = fakeRelay();
    const feed = secretChangeFeedFactory({ scopes, relay: r.relay });
    const s = await record(feed, "/");
    r.fromOtherServer("BEFORE");
    const beforeId = (s.heard[0] as ["change", SecretChangeEvent])[1].id;
    r.resume();
    const resyncId = s.heard[1]![1] as string;
    r.fromOtherServer("AFTER");
    s.sub.close();

    // It was disconnected during the resume: it never heard the resync, so it must be told now.
    const missed = await record(feed, "/", false, beforeId);
    assert.equal(missed.sub.backlog, "resync");
    // It heard the resync: only what came after is replayed.
    const heard = await record(feed, "/", false, resyncId);
    assert.ok(Array.isArray(heard.sub.backlog));
    assert.deepEqual((heard.sub.backlog as SecretChangeEvent[]).map((e) => e.secretKey), ["AFTER"]);
    // The id the stream starts from covers the resync: a reconnect from there is not told again.
    const fresh = await record(feed, "/");
    const again = await record(feed, "/", false, fresh.sub.lastId);
    assert.deepEqual(again.sub.backlog, []);
  });

  test("without a resume, a reconnect inside the buffer is replayed, not resynced (the check above is not always on)", async () => {
    const r = fakeRelay();
    const feed = secretChangeFeedFactory({ scopes, relay: r.relay });
    const s = await record(feed, "/");
    r.fromOtherServer("ONE");
    r.fromOtherServer("TWO");
    const firstId = (s.heard[0] as ["change", SecretChangeEvent])[1].id;
    const back = await record(feed, "/", false, firstId);
    assert.deepEqual((back.sub.backlog as SecretChangeEvent[]).map((e) => e.secretKey), ["TWO"]);
  });

  test("a subscriber that throws on resync does not keep the others from hearing it", async () => {
    const r = fakeRelay();
    const feed = secretChangeFeedFactory({ scopes, relay: r.relay });
    await feed.subscribe(actor, { projectId: "p", environment: "dev", secretPath: "/", recursive: false }, {
      change: () => {},
      resync: () => { throw new Error("stream gone"); },
    });
    const s = await record(feed, "/");
    r.resume();
    assert.equal(s.heard.length, 1);
    assert.equal(s.heard[0]![0], "resync");
  });
});
