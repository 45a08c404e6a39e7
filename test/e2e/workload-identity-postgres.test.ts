import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Agent, setGlobalDispatcher } from "undici";
import { createKmsClient, type KmsClient } from "../../src/client/kms-client.js";
import { serviceNames } from "../../src/core/identity/service-key-names.js";
import { buildServiceCsr, loadServiceKey, mintServiceJwt, publicKeyPem } from "../../src/core/identity/service-key-client.js";
import { api, startServer, type ApiResponse, type TestServer } from "../helpers/server.js";
import { PERMISSIVE_POLICY, setupPki, type PkiFixture } from "../helpers/pki.js";
import { selfSignedServerCert } from "../helpers/k8s.js";
import { createPgDatabase } from "../helpers/postgres.js";
import { needService } from "../helpers/services.js";

/**
 * The workload-identity store on PostgreSQL: single-use jti and register tokens (insert/update races decided by
 * the database), the identity-by-name join, the service-certificate binding and the fingerprint lookup of mTLS.
 */

const DOMAIN = "svc.example.com";
const POLICY = {
  ...PERMISSIVE_POLICY,
  subject: [{ type: "common_name", allowed: [`*.*.${DOMAIN}`] }],
  sans: [{ type: "dns_name", allowed: [`*.*.${DOMAIN}`] }, { type: "uri", allowed: [`spiffe://${DOMAIN}/*`] }],
};

describe("workload identity on PostgreSQL", () => {
  const tls = selfSignedServerCert();
  const key = loadServiceKey(generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey.export({ type: "pkcs8", format: "pem" }) as string);
  const keyPem = key.key.export({ type: "pkcs8", format: "pem" }) as string;
  let pg: ReturnType<typeof createPgDatabase> | undefined;
  let server: TestServer;
  let client: KmsClient;
  let fx: PkiFixture;
  let id: string;
  let skip = false;
  const must = async (p: Promise<ApiResponse<any>>): Promise<any> => {
    const r = await p;
    assert.equal(r.status, 200, r.text);
    return r.body;
  };
  const csr = () => buildServiceCsr(key, serviceNames({ identity: "api", project: fx.projectSlug, dnsDomain: DOMAIN }));
  const jwt = (o: { byName?: boolean } = {}) =>
    mintServiceJwt(key, { identity: o.byName ? "api" : id, project: o.byName ? fx.projectSlug : undefined, keyVersion: "1", audience: server.address, nowMs: Date.now() });

  before(async (t) => {
    if (!(await needService(t as any, "postgres"))) { skip = true; return; }
    pg = createPgDatabase();
    setGlobalDispatcher(new Agent({ connect: { ca: tls.cert } }));
    server = await startServer({ databaseUrl: pg.url, args: ["--tls-cert", tls.certPath, "--tls-key", tls.keyPath, "--tls-request-client-cert"] });
    client = createKmsClient({ address: server.address, tls: { ca: tls.cert } });
    fx = await setupPki(server, { policy: POLICY });
    const admin = (m: string, p: string, body?: unknown) => api(server.address, m, p, { token: server.adminToken, body });
    id = (await must(admin("POST", "/api/v1/identities", { name: "api", organizationId: server.orgId }))).identity.id;
    await must(admin("POST", `/api/v1/auth/service-key/identities/${id}`, { profileId: fx.profileId, dnsDomains: DOMAIN }));
    await must(admin("POST", `/api/v1/auth/service-key/identities/${id}/keys`, { keyVersion: "1", publicKey: publicKeyPem(key) }));
    await must(admin("POST", `/api/v1/auth/tls-cert-auth/identities/${id}`, { projectId: fx.projectId }));
  });
  after(async () => {
    await client?.close();
    await server?.cleanup();
    pg?.drop();
  });

  test("a JWT is spent once, by id or by name", async (t) => {
    if (skip) return t.skip("postgres unavailable");
    const j = await jwt();
    await client.serviceKeyLogin({ jwt: j });
    await assert.rejects(client.serviceKeyLogin({ jwt: j }), /replayed token/);
    await client.serviceKeyLogin({ jwt: await jwt({ byName: true }) });
  });

  test("a register token is spent once", async (t) => {
    if (skip) return t.skip("postgres unavailable");
    const { token } = await must(api(server.address, "POST", `/api/v1/auth/service-key/identities/${id}/instance-register-tokens`, { token: server.adminToken, body: { instanceId: "vm-1" } }));
    await client.registerInstance({ token, instanceId: "vm-1", csr: await csr() });
    await assert.rejects(client.registerInstance({ token, instanceId: "vm-1", csr: await csr() }), /already been used/);
  });

  test("the certificate held renews itself and logs in; once revoked it does neither", async (t) => {
    if (skip) return t.skip("postgres unavailable");
    const issued = await client.serviceKeyCertificate({ jwt: await jwt(), csr: await csr() });
    const creds = { cert: issued.certificate, key: keyPem, ca: tls.cert };
    const renewed = await client.refreshServiceCertificate({ csr: await csr(), project: fx.projectSlug }, creds);
    assert.notEqual(renewed.serialNumber, issued.serialNumber);
    await client.tlsCertAuthLogin({ identityId: id }, { ...creds, cert: renewed.certificate });
    await must(api(server.address, "POST", `/api/v1/cert-manager/certificates/${renewed.certificateId}/revoke`, { token: server.adminToken, body: {} }));
    await assert.rejects(client.refreshServiceCertificate({ csr: await csr() }, { ...creds, cert: renewed.certificate }), /revoked/);
    await assert.rejects(client.tlsCertAuthLogin({ identityId: id }, { ...creds, cert: renewed.certificate }), /revoked/);
  });
});
