import { api, createUaIdentity, type TestServer } from "./server.js";

export interface PkiFixture {
  projectId: string;
  projectSlug: string;
  rootCaId: string;
  intermediateCaId: string;
  rootCaPem: string;
  intermediateCaPem: string;
  policyId: string;
  profileId: string;
  profileSlug: string;
  /** A universal-auth identity with the project role `member`: what an agent runs as. */
  identityId: string;
  clientId: string;
  clientSecret: string;
}

export interface PkiOptions {
  projectSlug?: string;
  profileSlug?: string;
  keyAlgorithm?: string;
  /** Rules for the policy; the default permits the seed's example (example.com names, RSA and EC, server/client auth, 1y). */
  policy?: Record<string, unknown>;
  issuerType?: "ca" | "self-signed";
  /** Issue from the root instead of the intermediate. */
  fromRoot?: boolean;
  role?: string;
}

export const PERMISSIVE_POLICY = {
  subject: [{ type: "common_name", allowed: ["*.example.com", "example.com", "localhost"] }],
  sans: [
    { type: "dns_name", allowed: ["*.example.com", "example.com", "localhost"] },
    { type: "ip_address", allowed: ["127.0.0.1", "::1"] },
  ],
  keyUsages: { allowed: ["digital_signature", "key_encipherment", "key_agreement"] },
  extendedKeyUsages: { allowed: ["server_auth", "client_auth"] },
  algorithms: {
    signature: ["SHA256-RSA", "SHA384-RSA", "SHA512-RSA", "SHA256-ECDSA", "SHA384-ECDSA", "SHA512-ECDSA"],
    keyAlgorithm: ["RSA-2048", "RSA-3072", "RSA-4096", "ECDSA-P256", "ECDSA-P384", "ECDSA-P521"],
  },
  validity: { max: "1y" },
};

const must = async (p: ReturnType<typeof api>, what: string): Promise<any> => {
  const r = await p;
  if (r.status !== 200) throw new Error(`${what}: ${r.status} ${r.text}`);
  return r.body;
};

/** A cert-manager project with a root and an intermediate CA, a policy, a profile and an agent identity. */
export const setupPki = async (s: TestServer, o: PkiOptions = {}): Promise<PkiFixture> => {
  const t = s.adminToken;
  const projectSlug = o.projectSlug ?? `pki-${Math.random().toString(36).slice(2, 8)}`;
  const project = (await must(api(s.address, "POST", "/api/v1/projects", { token: t, body: { projectName: projectSlug, slug: projectSlug, type: "cert-manager" } }), "project")).project;
  const subject = { organization: "Acme", ou: "", country: "US", province: "", locality: "" };
  const keyAlgorithm = o.keyAlgorithm ?? "EC_prime256v1";
  const root = await must(api(s.address, "POST", "/api/v1/cert-manager/ca/internal", { token: t, body: {
    projectId: project.id, name: "root-ca", status: "active", configuration: { type: "root", commonName: "Test Root CA", ...subject, keyAlgorithm, maxPathLength: -1 },
  } }), "root CA");
  const inter = await must(api(s.address, "POST", "/api/v1/cert-manager/ca/internal", { token: t, body: {
    projectId: project.id, name: "issuing-ca", status: "active",
    configuration: { type: "intermediate", commonName: "Test Issuing CA", ...subject, keyAlgorithm, parentCaId: root.id, maxPathLength: 0, notAfter: new Date(Date.now() + 5 * 365 * 86_400_000).toISOString() },
  } }), "intermediate CA");
  const rootCaPem = (await must(api(s.address, "GET", `/api/v1/cert-manager/ca/internal/${root.id}/certificate`, { token: t }), "root cert")).certificate;
  const intermediateCaPem = (await must(api(s.address, "GET", `/api/v1/cert-manager/ca/internal/${inter.id}/certificate`, { token: t }), "intermediate cert")).certificate;
  const policy = (await must(api(s.address, "POST", "/api/v1/cert-manager/certificate-policies", { token: t, body: { projectId: project.id, name: "agent-policy", ...(o.policy ?? PERMISSIVE_POLICY) } }), "policy")).certificatePolicy;
  const profileSlug = o.profileSlug ?? "web-servers";
  const issuerType = o.issuerType ?? "ca";
  const profile = (await must(api(s.address, "POST", "/api/v1/cert-manager/certificate-profiles", { token: t, body: {
    projectId: project.id, certificatePolicyId: policy.id, slug: profileSlug, enrollmentType: "api", issuerType,
    ...(issuerType === "ca" && { caId: o.fromRoot ? root.id : inter.id }), apiConfig: { autoRenew: false },
  } }), "profile")).certificateProfile;
  const identity = await createUaIdentity(s, `agent-${projectSlug}`);
  await must(api(s.address, "POST", `/api/v1/projects/${project.id}/memberships/identities/${identity.identityId}`, { token: t, body: { roles: [{ role: o.role ?? "member", isTemporary: false }] } }), "membership");
  return {
    projectId: project.id, projectSlug, rootCaId: root.id, intermediateCaId: inter.id, rootCaPem, intermediateCaPem,
    policyId: policy.id, profileId: profile.id, profileSlug, ...identity,
  };
};
