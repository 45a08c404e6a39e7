/**
 * The external-CA tables and worker on PostgreSQL: the order claim (a conditional UPDATE), the pending → issued
 * transaction and a restart mid-order, against pebble.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { api, startServer, type TestServer } from "../helpers/server.js";
import { setupPki, type PkiFixture } from "../helpers/pki.js";
import { openssl, scratch } from "../helpers/openssl.js";
import { needPebble, startPebble, type Pebble } from "../helpers/pebble.js";
import { createPgDatabase } from "../helpers/postgres.js";
import { needService } from "../helpers/services.js";

let s: TestServer | undefined;
let pebble: Pebble | undefined;
let pg: ReturnType<typeof createPgDatabase> | undefined;
let fx: PkiFixture;

before(async (t) => {
  if (!needPebble(t as never) || !(await needService(t as never, "postgres"))) return;
  pg = createPgDatabase();
  s = await startServer({ databaseUrl: pg.url, env: { KMS_EXTERNAL_CA_POLL_MS: "150" } });
  pebble = await startPebble(Number(new URL(s.address).port));
  fx = await setupPki(s);
});
after(async () => { await pebble?.stop(); await s?.cleanup(); pg?.drop(); });

test("PostgreSQL: pending → issued from pebble across a KMS restart in the middle of the order", async (t) => {
  if (!s) return t.skip("pebble or PostgreSQL missing (see above)");
  const ca = await api(s.address, "POST", "/api/v1/cert-manager/ca/acme", { token: s.adminToken, body: {
    projectId: fx.projectId, name: "pebble-pg", directoryUrl: pebble!.directoryUrl, accountEmail: "pki@example.com", caBundle: pebble!.tlsCa,
  } });
  assert.equal(ca.status, 200, ca.text);
  const prof = await api(s.address, "POST", "/api/v1/cert-manager/certificate-profiles", { token: s.adminToken, body: {
    projectId: fx.projectId, certificatePolicyId: fx.policyId, caId: ca.body.id, slug: "pebble-pg", enrollmentType: "api", issuerType: "ca", apiConfig: { autoRenew: false },
  } });
  assert.equal(prof.status, 200, prof.text);
  const issued = await api(s.address, "POST", "/api/v1/cert-manager/certificates", { token: s.adminToken, body: {
    profileId: prof.body.certificateProfile.id, attributes: { commonName: "pg.example.com", altNames: [{ type: "dns_name", value: "pg.example.com" }] },
  } });
  assert.equal(issued.body.status, "pending", issued.text);
  // Restart as soon as the order is placed upstream (its URL is in the database).
  for (let i = 0; i < 200; i++) {
    const url = execFileSync("psql", [pg!.url, "-tAc", `select coalesce(order_url, '') from external_orders where request_id = '${issued.body.certificateRequestId}'`], { encoding: "utf8" }).trim();
    if (url) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await s.restart();
  let r = await api(s.address, "GET", `/api/v1/cert-manager/certificates/certificate-requests/${issued.body.certificateRequestId}`, { token: s.adminToken });
  for (const end = Date.now() + 30_000; r.body.status === "pending" && Date.now() < end;) {
    await new Promise((res) => setTimeout(res, 150));
    r = await api(s.address, "GET", `/api/v1/cert-manager/certificates/certificate-requests/${issued.body.certificateRequestId}`, { token: s.adminToken });
  }
  assert.equal(r.body.status, "issued", r.body.errorMessage);
  const dir = scratch();
  const v = openssl("verify", "-CAfile", dir.write("root.pem", await pebble!.root()), "-untrusted", dir.write("chain.pem", r.body.certificateChain), dir.write("leaf.pem", r.body.certificate));
  assert.equal(v.status, 0, v.out);
});
