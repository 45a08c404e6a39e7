import type { Kysely } from "kysely";
import type { Clock } from "../core/clock.js";
import type { RootKeyring } from "../crypto/envelope.js";
import type { Database } from "../store/schema.js";
import { identityStore } from "../store/identities.js";
import { projectStore } from "../store/projects.js";
import { auditStore } from "../store/audit.js";
import { auditServiceFactory } from "../core/audit/audit-service.js";
import { tokenServiceFactory } from "../core/identity/token-service.js";
import { identityServiceFactory } from "../core/identity/identity-service.js";
import { universalAuthServiceFactory } from "../core/identity/universal-auth-service.js";
import { bootstrapServiceFactory } from "../core/identity/bootstrap-service.js";
import { projectAccessFactory } from "../core/projects/access.js";
import { projectKeysFactory } from "../core/projects/project-keys.js";
import { projectServiceFactory } from "../core/projects/project-service.js";
import { environmentBySlugFrom } from "../core/projects/environments.js";
import { pkiStore } from "../store/pki.js";
import { caServiceFactory } from "../core/pki/ca-service.js";
import { crlRowsFactory, crlServiceFactory } from "../core/pki/crl-service.js";
import { ocspServiceFactory } from "../core/pki/ocsp-service.js";
import { policyServiceFactory } from "../core/pki/policy-service.js";
import { profileServiceFactory } from "../core/pki/profile-service.js";
import { certificateServiceFactory } from "../core/pki/certificate-service.js";
import { externalCaStore } from "../store/external-ca.js";
import { externalCaServiceFactory } from "../core/pki/external/external-ca-service.js";
import { externalOrderWorkerFactory, workerOptionsFromEnv } from "../core/pki/external/worker.js";
import { dynamicSecretStore } from "../store/dynamic-secrets.js";
import { dynamicSecretModule } from "../core/dynamic-secrets/module.js";
import { dynamicSecretOptionsFromEnv } from "../core/dynamic-secrets/options.js";
import { secretStore } from "../store/secrets.js";
import { folderStore } from "../store/folders.js";
import { scopeFactory } from "../core/secrets/scope.js";
import { secretServiceFactory } from "../core/secrets/secret-service.js";
import { folderServiceFactory } from "../core/secrets/folder-service.js";
import { importServiceFactory } from "../core/secrets/import-service.js";
import { tagServiceFactory } from "../core/secrets/tag-service.js";
import { secretChangeFeedFactory, type ChangeRelay } from "../core/secrets/change-feed.js";
import { workloadIdentityStore } from "../store/workload-identity.js";
import { workloadAuthServiceFactory } from "../core/identity/workload-auth.js";
import { kubernetesAuthKind } from "../core/identity/kubernetes-auth.js";
import { awsAuthKind } from "../core/identity/aws-auth.js";
import { gcpAuthKind } from "../core/identity/gcp-auth.js";
import { azureAuthKind } from "../core/identity/azure-auth.js";
import { serviceKeyServiceFactory } from "../core/identity/service-key-service.js";
import { instanceTokenServiceFactory } from "../core/identity/instance-token-service.js";
import { tlsCertServiceFactory } from "../core/identity/tls-cert-service.js";
import { enrollmentStore } from "../store/enrollment.js";
import { acmeModule } from "../core/acme/module.js";
import { acmeOptionsFromEnv } from "../core/acme/options.js";
import { estServiceFactory } from "../core/est/est-service.js";
import { kmsKeyStore } from "../store/kms-keys.js";
import { kmsKeyServiceFactory } from "../core/kms-keys/kms-key-service.js";

export interface ServiceOptions {
  db: Kysely<Database>;
  root: RootKeyring;
  clock: Clock;
  /** Public base URL of this server (CRL distribution points and AIA URLs point here); known once listening. */
  publicUrl: () => string;
  /** How secret changes reach the other server processes on the same database (PostgreSQL), if any. */
  changeRelay?: ChangeRelay;
}

/** Builds every service from the store up. Called once per server process (the composition root). */
export const createServices = ({ db, root, clock, publicUrl, changeRelay }: ServiceOptions) => {
  const stores = { identities: identityStore(db), projects: projectStore(db), audit: auditStore(db), pki: pkiStore(db) };
  const audit = auditServiceFactory({ store: stores.audit, clock });
  const tokens = tokenServiceFactory({ store: stores.identities, audit, clock });
  const workloadStore = workloadIdentityStore(db);
  const identities = identityServiceFactory({ store: stores.identities, workloadMethods: workloadStore.listAuthMethods, audit, clock });
  const universalAuth = universalAuthServiceFactory({ store: stores.identities, identities, tokens, audit, clock });
  const bootstrap = bootstrapServiceFactory({ store: stores.identities, tokens, audit, clock });
  const access = projectAccessFactory({ store: stores.projects, clock });
  const keys = projectKeysFactory({ root, store: stores.projects });
  const secretStores = { secrets: secretStore(db), folders: folderStore(db) };
  // Built before the project and folder services, which delete the dynamic secrets of what they delete.
  const dynamicSecrets = dynamicSecretModule({
    store: dynamicSecretStore(db), folders: secretStores.folders, access, projects: { environmentBySlug: environmentBySlugFrom(stores.projects) },
    keys, identities: stores.identities, audit, clock, options: dynamicSecretOptionsFromEnv(process.env),
  });
  const deleteDynamicSecretsIn = dynamicSecrets.secrets.removeAllIn;
  const projects = projectServiceFactory({ store: stores.projects, identities: stores.identities, access, keys, audit, deleteDynamicSecretsIn, clock });
  const cas = caServiceFactory({
    store: stores.pki, access, keys, crls: crlRowsFactory({ clock, publicUrl }), audit, clock, publicUrl, regenerateCrl: (caId) => crls.regenerate(caId),
  });
  const crls = crlServiceFactory({ store: stores.pki, cas, access, clock });
  const ocsp = ocspServiceFactory({ store: stores.pki, cas, clock });
  const policies = policyServiceFactory({ store: stores.pki, access, audit, clock });
  const profiles = profileServiceFactory({ store: stores.pki, access, audit, clock, publicUrl });
  // External ACME CAs (issue 9): profiles on them issue asynchronously; the worker (started in start.ts) orders.
  const externalStore = externalCaStore(db);
  const externalCas = externalCaServiceFactory({ store: externalStore, pki: stores.pki, access, keys, audit, clock });
  const externalOrders = externalOrderWorkerFactory({ store: externalStore, pki: stores.pki, keys, clock, options: workerOptionsFromEnv(process.env) });
  const certificates = certificateServiceFactory({ store: stores.pki, access, keys, cas, policies, profiles, crls, audit, clock, externals: externalCas });
  const scopes = scopeFactory({ access, folders: secretStores.folders });
  const secretChanges = secretChangeFeedFactory({ scopes, relay: changeRelay });
  const secrets = secretServiceFactory({ scopes, access, store: secretStores.secrets, folders: secretStores.folders, environments: stores.projects, keys, audit, clock, changes: secretChanges });
  const folders = folderServiceFactory({ scopes, access, folders: secretStores.folders, audit, deleteDynamicSecretsIn, clock });
  const secretImports = importServiceFactory({ scopes, projects, environments: stores.projects, folders: secretStores.folders, audit, clock });
  const tags = tagServiceFactory({ access, store: secretStores.secrets, audit, clock });
  // Workload identity (issue 7): one shared attach/login service, one verifier per method.
  const workloadAuth = workloadAuthServiceFactory({ store: workloadStore, identityStore: stores.identities, identities, tokens, audit, root, clock });
  const workloadKinds = { kubernetes: kubernetesAuthKind(), aws: awsAuthKind(), gcp: gcpAuthKind({ clock }), azure: azureAuthKind({ clock }) };
  const serviceKeys = serviceKeyServiceFactory({
    workload: workloadAuth, store: workloadStore, identityStore: stores.identities, identities, projects: stores.projects, pki: stores.pki, certificates, audit, clock, publicUrl,
  });
  const instanceTokens = instanceTokenServiceFactory({ store: workloadStore, identityStore: stores.identities, serviceKeys, workload: workloadAuth, audit, clock });
  const tlsCert = tlsCertServiceFactory({ workload: workloadAuth, store: workloadStore, identityStore: stores.identities, projects: stores.projects, pki: stores.pki, serviceKeys, clock });
  // ACME and EST enrollment (issue 8): both issue through certificates.issueForProfile.
  const enrollment = enrollmentStore(db);
  const acme = acmeModule({ store: enrollment, pki: stores.pki, profiles, certificates, access, keys, audit, clock, publicUrl, options: acmeOptionsFromEnv(process.env) });
  const est = estServiceFactory({ store: enrollment, pki: stores.pki, cas, certificates, audit, clock });
  const kmsKeys = kmsKeyServiceFactory({ store: kmsKeyStore(db), access, keys, audit, clock });
  return {
    clock, publicUrl, root, audit, tokens, identities, universalAuth, bootstrap, access, keys, projects,
    cas, crls, ocsp, policies, profiles, certificates, acme, est, externalCas, externalOrders,
    dynamicSecrets, kmsKeys,
    secrets, folders, secretImports, tags, secretChanges,
    workloadAuth, workloadKinds, serviceKeys, instanceTokens, tlsCert,
  };
};
export type Services = ReturnType<typeof createServices>;
