/**
 * The cmqd SDK: the wire types of the native v1 API, a typed client on `fetch` (Deno, Node ≥ 20,
 * browsers) and its error type.
 *
 * @example
 * ```ts
 * import { CmqdClient, CmqdError } from "./sdk/mod.ts";
 *
 * const client = new CmqdClient({ baseUrl: "http://127.0.0.1:8080" });
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
  type ListOptions,
  retryDefaults,
  type RetryOptions,
} from "./client.ts";
export { type ClientErrorCode, CmqdError, type CmqdErrorOptions } from "./errors.ts";
