/** The directory object (RFC 8555 7.1.1) of one profile, with RFC 9773's renewalInfo. */
import type { AcmeContext } from "./request.js";

export const directoryOf = (ctx: AcmeContext) => ({
  newNonce: ctx.urls.newNonce,
  newAccount: ctx.urls.newAccount,
  newOrder: ctx.urls.newOrder,
  revokeCert: ctx.urls.revokeCert,
  keyChange: ctx.urls.keyChange,
  renewalInfo: ctx.urls.renewalInfo,
  meta: {
    // No terms of service: the administrator who issued the EAB credential already agreed with the client.
    externalAccountRequired: !ctx.config.skipEabBinding,
    website: ctx.urls.root.replace(/\/api\/v1\/.*$/, ""),
  },
});
