import type { AuditService } from "../audit/audit-service.js";
import type { Clock } from "../clock.js";
import type { ProjectAccess } from "../projects/access.js";
import type { ProjectKeys } from "../projects/project-keys.js";
import type { CertificateService } from "../pki/certificate-service.js";
import type { ProfileService } from "../pki/profile-service.js";
import type { EnrollmentStore } from "../../store/enrollment.js";
import type { PkiStore } from "../../store/pki.js";
import { accountServiceFactory } from "./accounts.js";
import { ariServiceFactory } from "./ari.js";
import { challengeServiceFactory } from "./challenges.js";
import { directoryOf } from "./directory.js";
import { eabServiceFactory } from "./eab.js";
import { finalizeServiceFactory } from "./finalize.js";
import { nonceServiceFactory } from "./nonces.js";
import type { AcmeOptions } from "./options.js";
import { orderServiceFactory } from "./orders.js";
import { rateLimiterFactory } from "./rate-limit.js";
import { acmeRequestsFactory } from "./request.js";
import { revokeServiceFactory } from "./revoke.js";
import type { Validator } from "./validate.js";

type Deps = {
  store: EnrollmentStore;
  pki: Pick<PkiStore, "getProfile" | "getCertificate" | "getCertificateBySerial">;
  profiles: Pick<ProfileService, "load">;
  certificates: Pick<CertificateService, "issueForProfile" | "revokeForEnrollment">;
  access: Pick<ProjectAccess, "requireProject">;
  keys: Pick<ProjectKeys, "encrypt" | "decrypt">;
  audit: Pick<AuditService, "record" | "recordAs">;
  clock: Clock;
  publicUrl: () => string;
  options: AcmeOptions;
  validators?: Readonly<Record<string, Validator>>;
  log?: (msg: string, err?: unknown) => void;
};

/** Wires the ACME server (RFC 8555) from its dependencies: called once, by the server's composition root. */
export const acmeModule = ({ store, pki, profiles, certificates, access, keys, audit, clock, publicUrl, options, validators, log }: Deps) => {
  const nonces = nonceServiceFactory({ store, clock });
  const limits = rateLimiterFactory({ clock });
  const requests = acmeRequestsFactory({ pki, store, nonces, publicUrl });
  const eab = eabServiceFactory({ store, profiles, access, keys, audit, clock, publicUrl });
  const ari = ariServiceFactory({ pki, store, clock });
  const orders = orderServiceFactory({ store, requests, ari, limits, options, clock, resumeStale: (cs) => challenges.resumeStale(cs) });
  const challenges = challengeServiceFactory({ store, requests, orders, options, clock, validators, log });
  return {
    nonces, requests, eab, ari, orders, challenges,
    directory: directoryOf,
    accounts: accountServiceFactory({ store, requests, eab, limits, options, audit, clock }),
    finalize: finalizeServiceFactory({ store, pki, requests, orders, certificates, audit, clock }),
    revocation: revokeServiceFactory({ store, pki, requests, certificates, audit, clock }),
    /** Background validations end with the server. */
    stop: () => challenges.stop(),
  };
};
export type AcmeModule = ReturnType<typeof acmeModule>;
