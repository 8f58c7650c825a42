/**
 * The cmqd SDK: the wire types of the native v1 API, a typed client on `fetch` (Deno, Node ≥ 20,
 * browsers), its error type, and the request signing it uses (`signRequest`, `bearer`) for
 * callers that build requests themselves.
 *
 * @example
 * ```ts
 * import { CmqdClient, CmqdError } from "./sdk/mod.ts";
 *
 * const client = new CmqdClient({
 *   baseUrl: "http://127.0.0.1:8080",
 *   credentials: { secretId: "AKIDworker", secretKey: "…" }, // signs every request
 * });
 * await client.createQueue("orders");
 * await client.sendMessages("orders", [{ body: "hello", dedupId: "order-1" }]);
 * ```
 *
 * @module
 */
export * from "./protocol.ts";
export {
  type CallOptions,
  CmqdClient,
  type CmqdClientOptions,
  type Credentials,
  retryDefaults,
  type RetryOptions,
} from "./client.ts";
export { type ClientErrorCode, CmqdError, type CmqdErrorOptions } from "./errors.ts";
export {
  bearer,
  signingScheme,
  signRequest,
  type SignRequestOptions,
  stringToSign,
  type StringToSignParts,
} from "./signing.ts";
