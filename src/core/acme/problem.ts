/**
 * ACME problem documents (RFC 8555 6.7, RFC 7807). ACME clients read `type` to decide what to do (certbot
 * and lego retry `badNonce` once with the fresh nonce; everything else is shown to the user with `detail`),
 * so every failure in the ACME code is an AcmeProblem with the right type; the route renders it as
 * `application/problem+json`.
 */
export const ACME_ERROR = "urn:ietf:params:acme:error:";

/** The RFC 8555 6.7 types we send (plus RFC 9773's alreadyReplaced), each with its usual HTTP status. */
export const PROBLEM_STATUS = {
  accountDoesNotExist: 400, alreadyRevoked: 400, alreadyReplaced: 409, badCSR: 400, badNonce: 400, badPublicKey: 400,
  badRevocationReason: 400, badSignatureAlgorithm: 400, caa: 403, compound: 403, connection: 400, dns: 400,
  externalAccountRequired: 400, incorrectResponse: 403, invalidContact: 400, malformed: 400, orderNotReady: 403,
  rateLimited: 429, rejectedIdentifier: 400, serverInternal: 500, tls: 400, unauthorized: 403, unsupportedContact: 400,
  unsupportedIdentifier: 400, userActionRequired: 403,
} as const;
export type ProblemType = keyof typeof PROBLEM_STATUS;

export interface Identifier { type: string; value: string }

export interface ProblemDocument {
  type: string;
  detail: string;
  status: number;
  subproblems?: ProblemDocument[];
  identifier?: Identifier;
  /** badSignatureAlgorithm lists what we accept (RFC 8555 6.2). */
  algorithms?: string[];
}

export class AcmeProblem extends Error {
  readonly status: number;
  constructor(
    readonly type: ProblemType,
    readonly detail: string,
    readonly extra: { status?: number; subproblems?: ProblemDocument[]; identifier?: Identifier; algorithms?: string[]; retryAfterSeconds?: number; location?: string } = {},
  ) {
    super(detail);
    this.name = "AcmeProblem";
    this.status = extra.status ?? PROBLEM_STATUS[type];
  }

  toDocument(): ProblemDocument {
    return {
      type: ACME_ERROR + this.type, detail: this.detail, status: this.status,
      ...(this.extra.subproblems && { subproblems: this.extra.subproblems }),
      ...(this.extra.identifier && { identifier: this.extra.identifier }),
      ...(this.extra.algorithms && { algorithms: this.extra.algorithms }),
    };
  }
}

export const problem = (type: ProblemType, detail: string, extra?: AcmeProblem["extra"]) => new AcmeProblem(type, detail, extra);

/** A stored problem (order or challenge error) as the document clients get. */
export const documentOf = (type: ProblemType, detail: string, extra: Omit<ProblemDocument, "type" | "detail" | "status"> = {}): ProblemDocument =>
  ({ type: ACME_ERROR + type, detail, status: PROBLEM_STATUS[type], ...extra });
