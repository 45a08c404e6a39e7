import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { createSecretEventsClient, type ServerSentEvent } from "../../src/client/secret-events.js";
import { KmsNetworkError, KmsNotFoundError, KmsUnauthorizedError } from "../../src/client/errors.js";
import { selfSignedServerCert } from "../helpers/k8s.js";

// The stream client's transport against a scripted server: what goes on the wire, how an answer that is not
// a stream is reported, and how a silent or broken connection ends the iteration. End-to-end tests
// (test/e2e/secrets-agent-events.test.ts) run it against the real server.
let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(500).end();
const server = createServer((req, res) => handler(req, res));
let address = "";
before(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  return new Promise<void>((r) => server.close(() => r()));
});

const scope = { projectId: "p1", environment: "dev", secretPath: "/app", recursive: true };
const sse = (res: ServerResponse) => res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
const drain = async (it: AsyncGenerator<ServerSentEvent>) => {
  const out: ServerSentEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
};

test("sends the query, token, Last-Event-ID and user agent, and yields the events until the server ends the stream", async () => {
  let seen: IncomingMessage | undefined;
  handler = (req, res) => {
    seen = req;
    sse(res);
    res.write(": hello\n\nevent: ready\ndata: {}\n\n");
    // An event split across writes, with CRLF line ends.
    res.write("id: s-7\r\nevent: change\r\nda");
    setTimeout(() => res.end('ta: {"key":"A"}\r\n\r\n'), 20);
  };
  const c = createSecretEventsClient({ address: `${address}/api/`, userAgent: "kms-agent-test" });
  const events = await drain(await c.open(scope, { token: "tok", lastEventId: "s-6" }));
  assert.deepEqual(events, [{ event: "ready", data: "{}" }, { event: "change", data: '{"key":"A"}', id: "s-7" }]);
  const url = new URL(seen!.url!, address);
  assert.equal(url.pathname, "/api/v1/secrets/events");
  assert.deepEqual(Object.fromEntries(url.searchParams), { projectId: "p1", environment: "dev", secretPath: "/app", recursive: "true" });
  assert.equal(seen!.headers.authorization, "Bearer tok");
  assert.equal(seen!.headers["last-event-id"], "s-6");
  assert.equal(seen!.headers.accept, "text/event-stream");
  assert.equal(seen!.headers["user-agent"], "kms-agent-test");
  await c.close();
});

test("a character whose UTF-8 bytes arrive in two chunks is decoded whole", async () => {
  const bytes = Buffer.from('event: change\ndata: {"secretKey":"PASSWÖRD"}\n\n');
  const cut = bytes.indexOf(Buffer.from("Ö")) + 1; // between the two bytes of Ö
  handler = (_req, res) => {
    sse(res);
    res.write(bytes.subarray(0, cut));
    setTimeout(() => res.end(bytes.subarray(cut)), 20);
  };
  const c = createSecretEventsClient({ address });
  assert.deepEqual(await drain(await c.open(scope, { token: "t" })), [{ event: "change", data: '{"secretKey":"PASSWÖRD"}' }]);
  await c.close();
});

test("a refusal is the typed API error with the server's message", async () => {
  const c = createSecretEventsClient({ address });
  handler = (_req, res) => res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ statusCode: 401, error: "Unauthorized", message: "Token expired" }));
  await assert.rejects(c.open(scope, { token: "t" }), (e: Error) => e instanceof KmsUnauthorizedError && /Token expired/.test(e.message));
  handler = (_req, res) => res.writeHead(404).end("no such thing");
  await assert.rejects(c.open(scope, { token: "t" }), (e: Error) => e instanceof KmsNotFoundError && /no such thing/.test(e.message));
  await c.close();
});

test("silence longer than the idle timeout ends the iteration with a network error; heartbeats keep it open", async () => {
  handler = (_req, res) => {
    sse(res);
    res.write("event: ready\ndata: {}\n\n");
    // Three heartbeats 100 ms apart (each within the 250 ms idle timeout), then nothing.
    let n = 0;
    const beat = setInterval(() => (++n <= 3 ? res.write(": heartbeat\n\n") : clearInterval(beat)), 100);
    res.on("close", () => clearInterval(beat));
  };
  const c = createSecretEventsClient({ address, idleTimeoutMs: 250 });
  const started = Date.now();
  const got: ServerSentEvent[] = [];
  await assert.rejects(async () => { for await (const e of await c.open(scope, { token: "t" })) got.push(e); }, (e: Error) => {
    assert.ok(e instanceof KmsNetworkError, String(e));
    assert.match(e.message, /UND_ERR_BODY_TIMEOUT/);
    return true;
  });
  const took = Date.now() - started;
  assert.ok(took >= 500 && took < 2_000, `ended after ${took} ms: the heartbeats kept it alive, then 250 ms of silence ended it`);
  assert.deepEqual(got, [{ event: "ready", data: "{}" }]);
  await c.close();
});

test("a connection broken mid-stream is a network error, not a quiet end", async () => {
  handler = (req, res) => {
    sse(res);
    res.write("event: ready\ndata: {}\n\n");
    setTimeout(() => req.socket.destroy(), 30);
  };
  const c = createSecretEventsClient({ address });
  const it = await c.open(scope, { token: "t" });
  await assert.rejects(drain(it), KmsNetworkError);
  await c.close();
});

test("an unreachable server is a network error; an abort throws the abort's reason", async () => {
  const c = createSecretEventsClient({ address: "http://127.0.0.1:1" });
  await assert.rejects(c.open(scope, { token: "t" }), (e: Error) => e instanceof KmsNetworkError && /ECONNREFUSED/.test(e.message));
  await c.close();

  handler = (_req, res) => {
    sse(res);
    res.write("event: ready\ndata: {}\n\n");
  };
  const d = createSecretEventsClient({ address });
  const abort = new AbortController();
  const it = await d.open(scope, { token: "t", signal: abort.signal });
  const first = await it.next();
  assert.equal(first.value?.event, "ready");
  const reason = new Error("agent stopping");
  abort.abort(reason);
  await assert.rejects(it.next(), (e) => e === reason);
  await d.close();
});

test("https: trusts the CA it is given", async () => {
  const tls = selfSignedServerCert();
  const https = createHttpsServer({ cert: tls.cert, key: tls.key }, (_req, res) => {
    sse(res);
    res.end("event: ready\ndata: {}\n\n");
  });
  await new Promise<void>((r) => https.listen(0, "127.0.0.1", r));
  const url = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;
  try {
    const untrusting = createSecretEventsClient({ address: url });
    await assert.rejects(untrusting.open(scope, { token: "t" }), (e: Error) => e instanceof KmsNetworkError && /self[- ]signed|certificate/i.test(e.message));
    await untrusting.close();
    const trusting = createSecretEventsClient({ address: url, tls: { ca: tls.cert } });
    assert.deepEqual(await drain(await trusting.open(scope, { token: "t" })), [{ event: "ready", data: "{}" }]);
    await trusting.close();
  } finally {
    https.closeAllConnections();
    await new Promise<void>((r) => https.close(() => r()));
  }
});
