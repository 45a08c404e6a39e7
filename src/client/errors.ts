/**
 * Errors from the KMS HTTP client. Callers branch with `instanceof`; the retry loop reads only
 * `retryable` and `retryAfterMs` (src/agent/retry.ts), so it needs no import from here.
 * Messages carry the route and the server's `message`, never a token or a secret.
 */

export interface ApiErrorInit {
  method: string;
  path: string;
  status: number;
  /** The server's `error` field (api.md 0.4), e.g. "NotFound". */
  wireName?: string;
  /** The server's `message` field; for 422 the zod issue array, stringified. */
  serverMessage: string;
  reqId?: string;
  details?: unknown;
  retryAfterMs?: number;
}

export class KmsApiError extends Error {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly wireName?: string;
  readonly serverMessage: string;
  readonly reqId?: string;
  readonly details?: unknown;
  readonly retryAfterMs?: number;
  readonly retryable: boolean;
  constructor(init: ApiErrorInit) {
    super(`${init.method} ${init.path}: HTTP ${init.status}${init.wireName ? ` ${init.wireName}` : ""}: ${init.serverMessage}`);
    this.name = new.target.name;
    this.method = init.method;
    this.path = init.path;
    this.status = init.status;
    this.wireName = init.wireName;
    this.serverMessage = init.serverMessage;
    this.reqId = init.reqId;
    this.details = init.details;
    this.retryAfterMs = init.retryAfterMs;
    this.retryable = init.status === 429 || init.status >= 500;
  }
}
export class KmsBadRequestError extends KmsApiError {}
export class KmsUnauthorizedError extends KmsApiError {}
export class KmsForbiddenError extends KmsApiError {}
export class KmsNotFoundError extends KmsApiError {}
export class KmsValidationError extends KmsApiError {}
export class KmsRateLimitError extends KmsApiError {}
export class KmsServerError extends KmsApiError {}

export const apiErrorFor = (init: ApiErrorInit): KmsApiError => {
  switch (true) {
    case init.status === 400: return new KmsBadRequestError(init);
    case init.status === 401: return new KmsUnauthorizedError(init);
    case init.status === 403: return new KmsForbiddenError(init);
    case init.status === 404: return new KmsNotFoundError(init);
    case init.status === 422: return new KmsValidationError(init);
    case init.status === 429: return new KmsRateLimitError(init);
    case init.status >= 500: return new KmsServerError(init);
    default: return new KmsApiError(init);
  }
};

/** The server could not be reached or the connection broke: always worth retrying. */
export class KmsNetworkError extends Error {
  readonly retryable = true;
  constructor(readonly method: string, readonly path: string, cause: unknown) {
    const code = (cause as { code?: string })?.code;
    const why = (cause as Error)?.message ?? String(cause);
    super(`${method} ${path}: cannot reach the KMS (${code ? `${code}: ` : ""}${why})`, { cause });
    this.name = new.target.name;
  }
}

/** A 2xx answer whose body is not what api.md promises. Not retried: the server would say it again. */
export class KmsResponseError extends Error {
  readonly retryable = false;
  constructor(readonly method: string, readonly path: string, problem: string) {
    super(`${method} ${path}: unexpected response: ${problem}`);
    this.name = new.target.name;
  }
}
