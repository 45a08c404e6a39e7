/**
 * The external-CA worker on an injected clock, with an in-memory store: retry with backoff after a network
 * error, and the deadline turning a pending request into a failure that quotes the last error. (The claim's SQL
 * is exercised by the pebble e2e tests on SQLite and PostgreSQL.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import type { Clock } from "../../../../src/core/clock.js";
import { externalOrderWorkerFactory } from "../../../../src/core/pki/external/worker.js";
import type { ExternalCaTable, ExternalOrderTable } from "../../../../src/store/schema.js";

const T0 = Date.UTC(2030, 0, 1);
const clock = { t: T0, now() { return this.t; }, sleep: async () => {} } satisfies Clock & { t: number };
const iso = (ms: number) => new Date(ms).toISOString();
const accountKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;

const setup = () => {
  const ext: ExternalCaTable = {
    ca_id: "ca-1", project_id: "p-1", directory_url: "https://127.0.0.1:9/dir", account_email: "a@example.com", account_url: null,
    encrypted_secrets: "sealed", eab_kid: null, challenge_type: "http-01", dns_config: null, ca_bundle: null, order_timeout_seconds: 60,
    created_at: iso(T0), updated_at: iso(T0),
  };
  const order: ExternalOrderTable = {
    request_id: "r-1", ca_id: "ca-1", project_id: "p-1", profile_id: "pr-1", state: "new", order_url: null, csr: "unused", encrypted_private_key: null,
    details: JSON.stringify({ certificateId: "c-1", identifiers: [{ type: "dns", value: "a.example.com" }], keyAlgorithm: null, commonName: "a.example.com", storedRequest: {}, renewedFromId: null }),
    deadline: iso(T0 + 60_000), next_attempt_at: iso(T0), lock_until: null, created_at: iso(T0), updated_at: iso(T0),
  };
  const failed: { id: string; message: string }[] = [];
  const store = {
    getCa: async () => ext,
    setAccountUrl: async () => {},
    claimDue: async (now: string, leaseUntil: string) => {
      if (order.state === "done" || order.next_attempt_at > now || (order.lock_until && order.lock_until >= now)) return [];
      order.lock_until = leaseUntil;
      return [{ ...order }];
    },
    updateOrder: async (_id: string, patch: Partial<ExternalOrderTable>) => { Object.assign(order, patch); },
    putHttpChallenge: async () => {},
    completeIssued: async () => { throw new Error("not expected"); },
    completeFailed: async (id: string, message: string) => { failed.push({ id, message }); order.state = "done"; },
  };
  const worker = externalOrderWorkerFactory({
    store: store as never, pki: { getCa: async () => ({ name: "upstream" }) as never },
    keys: { decryptText: async () => JSON.stringify({ accountKey }) }, clock, options: { pollMs: 1_000, leaseMs: 30_000, maxBackoffMs: 8_000 },
  });
  return { order, failed, worker };
};

test("a network error is retried with growing backoff; past the deadline the request fails quoting the last error", async () => {
  clock.t = T0;
  const { order, failed, worker } = setup();
  const waits: number[] = [];
  for (let i = 0; i < 4; i++) {
    await worker.tick();
    assert.equal(order.lock_until, null, "released after each step");
    waits.push(Date.parse(order.next_attempt_at) - clock.t);
    clock.t = Date.parse(order.next_attempt_at);
  }
  assert.deepEqual(waits, [2_000, 4_000, 8_000, 8_000], "doubling from pollMs, capped at maxBackoffMs");
  assert.equal(failed.length, 0);
  clock.t = T0 + 61_000;
  order.next_attempt_at = iso(clock.t);
  await worker.tick();
  assert.equal(failed.length, 1);
  assert.match(failed[0]!.message, /^Timed out after 60s waiting for ACME CA 'upstream'; last error: .*ECONNREFUSED/);
});

test("a request whose CA record cannot be loaded still ends at its deadline", async () => {
  clock.t = T0;
  const { order, failed } = setup();
  const worker = externalOrderWorkerFactory({
    store: {
      getCa: async () => undefined,
      claimDue: async () => [{ ...order }],
      updateOrder: async (_id: string, patch: Partial<ExternalOrderTable>) => { Object.assign(order, patch); },
      completeFailed: async (id: string, message: string) => { failed.push({ id, message }); },
    } as never,
    pki: { getCa: async () => undefined }, keys: { decryptText: async () => "" }, clock, options: { pollMs: 1_000, leaseMs: 30_000, maxBackoffMs: 8_000 },
  });
  await worker.tick();
  assert.equal(failed.length, 0, "before the deadline: retried");
  assert.match(JSON.parse(order.details).lastError, /the external CA ca-1 no longer exists/);
  clock.t = T0 + 60_000;
  await worker.tick();
  assert.match(failed[0]!.message, /^Timed out after 60s waiting for ACME CA 'ca-1'; last error: the external CA ca-1 no longer exists/);
});
