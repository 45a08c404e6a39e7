import assert from "node:assert/strict";
import { test } from "node:test";
import { systemClock } from "../../../src/core/clock.js";
import { silentLogger } from "../../../src/agent/log.js";
import { concerns, createChangeStreams } from "../../../src/agent/secrets/change-stream.js";
import type { ChangeNotice } from "../../../src/agent/secrets/change-stream.js";
import type { SecretEventsQuery, ServerSentEvent } from "../../../src/client/secret-events.js";
import { apiErrorFor, KmsNetworkError } from "../../../src/client/errors.js";

/** A scripted events server: each open takes the next script (events to send, then end or fail). */
const fakeEvents = () => {
  const opens: { q: SecretEventsQuery; token: string; lastEventId?: string }[] = [];
  type Script = { events?: ServerSentEvent[]; fail?: unknown; hold?: boolean };
  const scripts: (() => Script)[] = [];
  const open = async (q: SecretEventsQuery, o: { token: string; lastEventId?: string; signal?: AbortSignal }) => {
    opens.push({ q, token: o.token, lastEventId: o.lastEventId });
    const s: Script = (scripts.shift() ?? (() => ({ hold: true })))();
    if (s.fail) throw s.fail;
    return (async function* () {
      for (const e of s.events ?? []) yield e;
      if (s.hold) await new Promise<void>((_, reject) => o.signal?.addEventListener("abort", () => reject(o.signal!.reason), { once: true }));
    })();
  };
  return { open, opens, scripts };
};

const tokens = () => {
  const invalidated: string[] = [];
  return { get: async () => "tok", invalidate: (t: string) => void invalidated.push(t), invalidated };
};

const until = async (cond: () => boolean, ms = 3_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timeout");
    await new Promise((r) => setTimeout(r, 5));
  }
};

const scope = (secretPath: string, recursive = false) => ({ projectId: "P", environment: "dev", secretPath, recursive });
const ready = (id: string): ServerSentEvent => ({ event: "ready", data: "{}", id });
const change = (id: string, secretPath: string, secretKey = "K"): ServerSentEvent => ({ event: "change", id, data: JSON.stringify({ projectId: "P", environment: "dev", secretPath, secretKey, action: "updated" }) });

test("concerns: same folder, or under a recursive read", () => {
  assert.equal(concerns(scope("/app"), "P", "dev", "/app"), true);
  assert.equal(concerns(scope("/app"), "P", "dev", "/app/db"), false);
  assert.equal(concerns(scope("/app", true), "P", "dev", "/app/db"), true);
  assert.equal(concerns(scope("/app", true), "P", "dev", "/apple"), false);
  assert.equal(concerns(scope("/", true), "P", "dev", "/x/y"), true);
  assert.equal(concerns(scope("/"), "P", "prod", "/"), false);
});

test("one stream per folder; a recursive read covers its sub-folders; dropping interest closes streams", async () => {
  const ev = fakeEvents();
  const cs = createChangeStreams({ events: ev, tokens: tokens(), clock: systemClock, logger: silentLogger });
  cs.setInterest("t0", [scope("/app", true), scope("/app/db"), scope("/other")]);
  cs.setInterest("t1", [scope("/other")]);
  await until(() => ev.opens.length === 2);
  assert.deepEqual(ev.opens.map((o) => `${o.q.secretPath}:${o.q.recursive}`).sort(), ["/app:true", "/other:false"]);
  cs.dropInterest("t0");
  cs.dropInterest("t1");
  assert.equal(cs.status().length, 0);
  await cs.stop();
});

test("the first ready is a resync (changes before it were not seen); changes follow; a reconnect sends Last-Event-ID", async () => {
  const ev = fakeEvents();
  ev.scripts.push(() => ({ events: [ready("e-1"), change("e-2", "/app")] }), () => ({ events: [change("e-3", "/app"), ready("e-3")], hold: true }));
  const cs = createChangeStreams({ events: ev, tokens: tokens(), clock: systemClock, logger: silentLogger, reconnect: { baseDelayMs: 5, maxDelayMs: 10 } });
  const notices: ChangeNotice[] = [];
  cs.onNotice((n) => notices.push(n));
  cs.setInterest("t", [scope("/app")]);
  await until(() => notices.length === 3);
  assert.equal(notices[0]!.change, undefined);
  assert.deepEqual(notices.slice(1).map((n) => n.change?.secretPath), ["/app", "/app"]);
  assert.equal(ev.opens[1]!.lastEventId, "e-2");
  await until(() => cs.status()[0]?.connected === true);
  await cs.stop();
});

test("failures back off and retry; a 401 drops the token; a server `resync` is passed on", async () => {
  const ev = fakeEvents();
  const tk = tokens();
  ev.scripts.push(
    () => ({ fail: new KmsNetworkError("GET", "/api/v1/secrets/events", new Error("ECONNREFUSED")) }),
    () => ({ fail: apiErrorFor({ method: "GET", path: "/api/v1/secrets/events", status: 401, serverMessage: "expired" }) }),
    () => ({ events: [] }), // closed before ready: a failure too
    () => ({ events: [{ event: "resync", data: "{}", id: "x-9" }, ready("x-9")], hold: true }),
  );
  const cs = createChangeStreams({ events: ev, tokens: tk, clock: systemClock, logger: silentLogger, reconnect: { baseDelayMs: 5, maxDelayMs: 20 } });
  const notices: ChangeNotice[] = [];
  cs.onNotice((n) => notices.push(n));
  cs.setInterest("t", [scope("/")]);
  await until(() => cs.status()[0]?.connected === true);
  assert.equal(ev.opens.length, 4);
  assert.deepEqual(tk.invalidated, ["tok"]);
  // The resync and the first ready both ask for a render; a render too many costs a read, not a write.
  assert.ok(notices.length >= 1 && notices.every((n) => n.change === undefined));
  await cs.stop();
});
