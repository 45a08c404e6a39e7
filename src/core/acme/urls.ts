/**
 * Resource URLs of one profile's ACME server. The directory lives at
 * `/api/v1/cert-manager/acme/profiles/:profileId/directory` (the path Infisical uses), every other resource
 * below the same prefix. URLs are absolute and built on the server's public URL, because a JWS carries the
 * URL it was sent to and we compare it exactly (RFC 8555 6.4).
 */
export const ACME_PREFIX = "/api/v1/cert-manager/acme/profiles";

export const acmePaths = {
  directory: "/directory",
  newNonce: "/new-nonce",
  newAccount: "/new-account",
  newOrder: "/new-order",
  revokeCert: "/revoke-cert",
  keyChange: "/key-change",
  renewalInfo: "/renewal-info",
  account: "/accounts/:id",
  accountOrders: "/accounts/:id/orders",
  order: "/orders/:id",
  finalize: "/orders/:id/finalize",
  authorization: "/authorizations/:id",
  challenge: "/challenges/:id",
  certificate: "/certificates/:id",
} as const;

export const acmeUrls = (base: string, profileId: string) => {
  const root = `${base}${ACME_PREFIX}/${profileId}`;
  const at = (path: string, id = "") => root + path.replace(":id", id);
  return {
    root,
    directory: at(acmePaths.directory),
    newNonce: at(acmePaths.newNonce),
    newAccount: at(acmePaths.newAccount),
    newOrder: at(acmePaths.newOrder),
    revokeCert: at(acmePaths.revokeCert),
    keyChange: at(acmePaths.keyChange),
    renewalInfo: at(acmePaths.renewalInfo),
    account: (id: string) => at(acmePaths.account, id),
    accountOrders: (id: string) => at(acmePaths.accountOrders, id),
    order: (id: string) => at(acmePaths.order, id),
    finalize: (id: string) => at(acmePaths.finalize, id),
    authorization: (id: string) => at(acmePaths.authorization, id),
    challenge: (id: string) => at(acmePaths.challenge, id),
    certificate: (id: string) => at(acmePaths.certificate, id),
  };
};
export type AcmeUrls = ReturnType<typeof acmeUrls>;

/** The account id in a `kid` URL of this profile, or undefined when the URL is not one of ours. */
export const accountIdFromKid = (urls: AcmeUrls, kid: string): string | undefined => {
  const prefix = urls.account("");
  if (!kid.startsWith(prefix)) return undefined;
  const id = kid.slice(prefix.length);
  return /^[0-9a-f-]{36}$/i.test(id) ? id : undefined;
};
