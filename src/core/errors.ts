/**
 * Typed errors a caller can act on. The HTTP layer maps them to status codes in one place
 * (src/server/errors.ts); `wireName` is what goes out as `error`, since bundling may rename classes.
 * A message names the field and the id, never a secret value.
 */
export class KmsError extends Error {
  readonly wireName: string = "InternalServerError";
  constructor(message: string, readonly details?: unknown, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
export class BadRequestError extends KmsError { override readonly wireName: string = "BadRequest"; }
export class UnauthorizedError extends KmsError { override readonly wireName = "UnauthorizedError"; }
export class ForbiddenError extends KmsError { override readonly wireName: string = "PermissionDenied"; }
export class NotFoundError extends KmsError { override readonly wireName = "NotFound"; }
export class ValidationError extends KmsError { override readonly wireName = "ValidationFailure"; }
export class RateLimitError extends KmsError {
  override readonly wireName = "RateLimitExceeded";
  constructor(message: string, readonly retryAfterSeconds: number) { super(message); }
}
/** A request that conflicts with a certificate policy: 400, listing every violated rule in `details`. */
export class PolicyViolationError extends BadRequestError { override readonly wireName = "PolicyViolationError"; }
/** A CA we forward to (an external ACME CA) failed or refused: 502, with what it said. */
export class UpstreamError extends KmsError { override readonly wireName = "BadGateway"; }
/** Stored data cannot be decrypted with the configured root key. */
export class EncryptionKeyMismatchError extends KmsError { override readonly wireName = "EncryptionKeyMismatch"; }
