/**
 * The typed errors of the auth room. They carry no HTTP status: each door maps them (the native
 * door answers 401 `Unauthenticated`, 403 `AccessDenied`, 503 + `Retry-After` for
 * `NonceCacheFull`; the CMQ door answers 4100). No message ever contains a secret key.
 *
 * @module
 */

/**
 * Why a request was refused.
 * - `Unauthenticated`: no credentials, unknown secretId, wrong key or signature, stale
 *   timestamp, replayed nonce.
 * - `AccessDenied`: the caller is known but its key lacks the permission.
 * - `NonceCacheFull`: the replay cache is at its bound, so a signed request can't be checked
 *   for replay right now; retryable (see `NonceCache`).
 */
export type AuthErrorCode = "Unauthenticated" | "AccessDenied" | "NonceCacheFull";

/** Options of an `AuthError`. */
export interface AuthErrorOptions {
  /** Seconds a client should wait before retrying; set only for retryable codes. */
  retryAfterSeconds?: number;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * A refused request. The message says precisely what was wrong (for the caller and the log)
 * and never echoes a secret key.
 *
 * @example
 * ```ts
 * try {
 *   verifyV1Authorization(request, { keyRing, nowMs: Date.now(), nonceCache });
 * } catch (error) {
 *   if (error instanceof AuthError) console.log(error.code, error.message);
 * }
 * ```
 */
export class AuthError extends Error {
  /** What kind of refusal this is; the doors map it to their status codes. */
  readonly code: AuthErrorCode;
  /** Seconds to wait before retrying, for `NonceCacheFull`. */
  readonly retryAfterSeconds?: number;

  /** A refusal of kind `code`; `message` must not contain a secret. */
  constructor(code: AuthErrorCode, message: string, options: AuthErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "AuthError";
    this.code = code;
    if (options.retryAfterSeconds !== undefined) {
      this.retryAfterSeconds = options.retryAfterSeconds;
    }
  }

  /** True when the same request may succeed if sent again later. */
  get retryable(): boolean {
    return this.code === "NonceCacheFull";
  }
}

/**
 * A credentials file that can't be used. The message starts with the offending place
 * (`keys[2].allow[0]: unknown action 'write' for kind queue ...`), prefixed with the file's
 * path when it comes from `FileKeyRing`.
 *
 * @example
 * ```ts
 * try {
 *   parseCredentials('{"keys": 1}');
 * } catch (error) {
 *   if (error instanceof CredentialsError) console.log(error.message); // keys: expected an array
 * }
 * ```
 */
export class CredentialsError extends Error {
  /** A refusal of the file; `message` starts with the place and never shows a secret key. */
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "CredentialsError";
  }
}
