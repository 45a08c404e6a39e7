import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Actor } from "../core/actor.js";
import type { Services } from "../server/services.js";

/**
 * The newcomer's demo, provisioned through the same services the HTTP API uses: a project, a root and an
 * intermediate CA, a policy, a profile and a universal-auth identity for the agent. Every step finds what
 * an earlier run created before creating anything, so `kms dev` can be run again and again.
 */
export interface DemoState {
  adminEmail: string;
  adminPassword: string;
  adminToken: string;
  projectId: string;
  projectSlug: string;
  rootCaId: string;
  intermediateCaId: string;
  profileSlug: string;
  identityId: string;
}

export const DEMO = {
  projectSlug: "kms-demo",
  profileSlug: "demo-web-server",
  commonName: "web.demo.kms.local",
} as const;

const LOCAL: { ip: string; userAgent: string } = { ip: "127.0.0.1", userAgent: "kms dev" };

const readJson = <T>(file: string): T | undefined => (existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as T) : undefined);

export const provisionDemo = async (s: Services, dir: string): Promise<DemoState & { clientIdFile: string; clientSecretFile: string; rootCaFile: string }> => {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stateFile = join(dir, "dev.json");
  let state = readJson<Partial<DemoState>>(stateFile) ?? {};
  const save = () => writeFileSync(stateFile, JSON.stringify(state, null, 2) + "\n", { mode: 0o600 });

  if (!state.adminToken) {
    if (await s.bootstrap.isBootstrapped())
      throw new Error(`the server in ${dir} was bootstrapped by something else and ${stateFile} is missing: delete ${dir} to start afresh`);
    const password = randomBytes(12).toString("base64url");
    const boot = await s.bootstrap.bootstrap({ email: "admin@kms.local", password, organization: "KMS Demo" }, LOCAL);
    state = { adminEmail: "admin@kms.local", adminPassword: password, adminToken: boot.identity.credentials.token };
    save();
  }
  const admin: Actor = await s.tokens.authenticate(state.adminToken!, LOCAL);

  const projects = await s.projects.list(admin);
  const project = projects.find((p) => p.slug === DEMO.projectSlug)
    ?? (await s.projects.create(admin, { projectName: "KMS demo", slug: DEMO.projectSlug, type: "cert-manager" }));
  state.projectId = project.id;
  state.projectSlug = project.slug;

  const subject = { organization: "KMS Demo", ou: "", country: "", province: "", locality: "" };
  const cas = await s.cas.list(admin, project.id);
  const root = cas.find((c) => c.name === "demo-root-ca") ?? (await s.cas.create(admin, {
    projectId: project.id, name: "demo-root-ca", status: "active",
    configuration: { type: "root", commonName: "KMS Demo Root CA", ...subject, keyAlgorithm: "EC_prime256v1", maxPathLength: -1 },
  }));
  const issuing = cas.find((c) => c.name === "demo-issuing-ca") ?? (await s.cas.create(admin, {
    projectId: project.id, name: "demo-issuing-ca", status: "active",
    configuration: {
      type: "intermediate", commonName: "KMS Demo Issuing CA", ...subject, keyAlgorithm: "EC_prime256v1", parentCaId: root.id, maxPathLength: 0,
      notAfter: new Date(s.clock.now() + 5 * 365 * 86_400_000).toISOString(),
    },
  }));
  state.rootCaId = root.id;
  state.intermediateCaId = issuing.id;

  const policies = await s.policies.list(admin, project.id, { limit: 1000 });
  const policy = policies.certificatePolicies.find((p) => p.name === "demo-web-servers") ?? (await s.policies.create(admin, {
    projectId: project.id, name: "demo-web-servers", description: "TLS server certificates for *.demo.kms.local",
    subject: [{ type: "common_name", allowed: ["*.demo.kms.local"] }],
    sans: [{ type: "dns_name", allowed: ["*.demo.kms.local", "localhost"] }, { type: "ip_address", allowed: ["127.0.0.1", "::1"] }],
    keyUsages: { allowed: ["digital_signature", "key_encipherment", "key_agreement"] },
    extendedKeyUsages: { allowed: ["server_auth", "client_auth"] },
    algorithms: { signature: ["SHA256-ECDSA", "SHA384-ECDSA"], keyAlgorithm: ["ECDSA-P256", "ECDSA-P384", "RSA-2048"] },
    validity: { max: "90d" },
  }));
  const profiles = await s.profiles.list(admin, project.id, { limit: 1000 });
  if (!profiles.certificateProfiles.some((p) => p.slug === DEMO.profileSlug))
    await s.profiles.create(admin, {
      projectId: project.id, certificatePolicyId: policy.id, caId: issuing.id, slug: DEMO.profileSlug,
      description: "API enrollment for the demo agent", enrollmentType: "api", issuerType: "ca", apiConfig: { autoRenew: false },
    });
  state.profileSlug = DEMO.profileSlug;

  const identities = await s.identities.list(admin);
  const identity = identities.find((i) => i.name === "kms-dev-agent") ?? (await s.identities.create(admin, { name: "kms-dev-agent", organizationId: admin.orgId, role: "no-access" }));
  state.identityId = identity.id;
  const members = await s.projects.listMemberships(admin, project.id);
  if (!members.some((m) => m.identityId === identity.id)) await s.projects.addMembership(admin, project.id, identity.id, { role: "member" });

  const agentDir = join(dir, "agent");
  mkdirSync(agentDir, { recursive: true, mode: 0o700 });
  const clientIdFile = join(agentDir, "client-id");
  const clientSecretFile = join(agentDir, "client-secret");
  let ua = await s.universalAuth.get(admin, identity.id).catch(() => undefined);
  ua ??= await s.universalAuth.attach(admin, identity.id, { accessTokenTTL: 3600, accessTokenMaxTTL: 86_400 });
  writeFileSync(clientIdFile, ua.clientId + "\n", { mode: 0o600 });
  if (!existsSync(clientSecretFile)) {
    const secret = await s.universalAuth.createClientSecret(admin, identity.id, { description: "kms dev agent" });
    writeFileSync(clientSecretFile, secret.clientSecret + "\n", { mode: 0o600 });
  }

  const rootCaFile = join(dir, "certs", "demo-root-ca.pem");
  mkdirSync(join(dir, "certs"), { recursive: true });
  writeFileSync(rootCaFile, (await s.cas.certificate(admin, root.id)).certificate);
  save();
  return { ...(state as DemoState), clientIdFile, clientSecretFile, rootCaFile };
};
