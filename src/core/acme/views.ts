/** The JSON objects of RFC 8555 7.1 as clients receive them, built from stored rows. */
import type { AcmeAccountTable, AcmeAuthorizationTable, AcmeChallengeTable, AcmeOrderTable } from "../../store/schema.js";
import type { AcmeUrls } from "./urls.js";
import type { Identifier, ProblemDocument } from "./problem.js";

export const accountView = (urls: AcmeUrls, a: AcmeAccountTable) => ({
  status: a.status,
  contact: JSON.parse(a.contact) as string[],
  orders: urls.accountOrders(a.id),
  createdAt: a.created_at,
});

export const challengeView = (urls: AcmeUrls, c: AcmeChallengeTable) => ({
  type: c.type,
  url: urls.challenge(c.id),
  status: c.status,
  token: c.token,
  ...(c.validated && { validated: c.validated }),
  ...(c.error && { error: JSON.parse(c.error) as ProblemDocument }),
});

/** RFC 8555 7.1.4: a valid authorization lists only the challenge that validated it. */
export const authorizationView = (urls: AcmeUrls, a: AcmeAuthorizationTable, challenges: AcmeChallengeTable[], status: string) => ({
  identifier: { type: a.identifier_type, value: a.identifier_value },
  status,
  expires: a.expires,
  challenges: (status === "valid" ? challenges.filter((c) => c.status === "valid") : challenges).map((c) => challengeView(urls, c)),
  ...(a.wildcard ? { wildcard: true } : {}),
});

export const orderView = (urls: AcmeUrls, o: AcmeOrderTable, authzIds: string[]) => ({
  status: o.status,
  expires: o.expires,
  identifiers: JSON.parse(o.identifiers) as Identifier[],
  ...(o.not_before && { notBefore: o.not_before }),
  ...(o.not_after && { notAfter: o.not_after }),
  ...(o.error && { error: JSON.parse(o.error) as ProblemDocument }),
  authorizations: authzIds.map((id) => urls.authorization(id)),
  finalize: urls.finalize(o.id),
  ...(o.certificate_id && o.status === "valid" && { certificate: urls.certificate(o.certificate_id) }),
  ...(o.replaces && { replaces: o.replaces }),
});
