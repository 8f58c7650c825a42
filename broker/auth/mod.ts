/**
 * Authentication and authorization for every door: the credentials file and its key ring, the
 * native v1 `Authorization` check with its replay cache, and the typed refusals. This room
 * imports nothing from the rest of the broker.
 *
 * @example
 * ```ts
 * import { FileKeyRing, NonceCache, verifyV1Authorization } from "./auth/mod.ts";
 *
 * const keyRing = await FileKeyRing.load("/etc/cmqd/credentials.json");
 * const nonceCache = new NonceCache();
 * const key = verifyV1Authorization(v1Request, { keyRing, nowMs: Date.now(), nonceCache });
 * if (!keyRing.allows(key, "queue", "images", "receive")) {
 *   // answer 403 AccessDenied
 * }
 * ```
 *
 * @module
 */
export type { AccessKey, Action, KeyRing, ResourceKind } from "./types.ts";
export {
  AuthError,
  type AuthErrorCode,
  type AuthErrorOptions,
  CredentialsError,
} from "./errors.ts";
export { credentialsLimits, parseCredentials } from "./credentials.ts";
export { FileKeyRing, type ReadTextFile } from "./file_key_ring.ts";
export { actionsByKind, allowsEveryNameWithPrefix } from "./permissions.ts";
export { isLoopbackAddress } from "./loopback.ts";
export { othersMayDo, readSmallTextFile, secretFileWarning } from "./small_file.ts";
export { keyStillAllows, untilKeysChange } from "./revocation.ts";
export {
  clockStepBackMsDefault,
  NonceCache,
  type NonceCacheOptions,
  noncesMaxDefault,
  type NonceVerdict,
  secretIdShareDefault,
  timestampSkewMsDefault,
} from "./nonce_cache.ts";
export {
  canonicalQuery,
  checkV1Replay,
  checkV1SignedHeader,
  isSignedAuthorization,
  nonceCharsMax,
  signedScheme,
  stringToSign,
  type StringToSignParts,
  timestampSkewSecondsMax,
  type V1AuthContext,
  type V1Request,
  verifyV1Authorization,
} from "./v1_auth.ts";
