/**
 * The cmqd SDK: the wire types of the native v1 API, a typed client (Deno, Node ≥ 20, browsers)
 * and its error type, the helpers built on it (a batching `Producer` and a `Consumer` that runs
 * handlers with lock renewal, retries and piggybacked deletes), and the request signing the
 * client uses (`signRequest`, `bearer`) for callers that build requests themselves.
 *
 * @example
 * ```ts
 * import { CmqdClient, Consumer, Producer } from "./sdk/mod.ts";
 *
 * const client = new CmqdClient({
 *   baseUrl: "http://127.0.0.1:8080",
 *   credentials: { secretId: "AKIDworker", secretKey: "…" }, // signs every request
 * });
 * await client.createQueue("orders");
 * const producer = new Producer(client, "orders", { autoDedupId: true });
 * await producer.send("hello");
 * await producer.close();
 * const consumer = new Consumer(client, "orders", {
 *   concurrency: 8,
 *   handleMessage: (message) => console.log(message.body),
 * });
 * consumer.start();
 * await consumer.stop();
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
  type ListOptions,
} from "./client.ts";
export {
  Backoff,
  type BackoffBounds,
  backoffMs,
  exponentialRetryDelaySeconds,
  retryDefaults,
  type RetryDelayBounds,
  retryDelayDefaults,
  type RetryOptions,
  sleep,
} from "./retry.ts";
export {
  defaultTransport,
  type DefaultTransportOptions,
  FetchTransport,
  type HttpRequest,
  type HttpResponse,
  type HttpTransport,
  isConnectFailure,
  isNetworkFailure,
} from "./transport.ts";
export {
  type Http1Request,
  type Http1Response,
  Http1Transport,
  type Http1TransportOptions,
  type NetConn,
} from "./http1.ts";
export {
  type ClientErrorCode,
  CmqdError,
  type CmqdErrorOptions,
  type ErrorCode,
  TransportError,
} from "./errors.ts";
export {
  Producer,
  type ProducerClient,
  type ProducerOptions,
  type ProducerStats,
  type SendOptions,
} from "./producer.ts";
export {
  Consumer,
  type ConsumerClient,
  type ConsumerOptions,
  type ConsumerStats,
  type HandlerContext,
  type MessageHandler,
} from "./consumer.ts";
export type { Delivery } from "./consumer_iterator.ts";
export {
  bearer,
  signingScheme,
  signRequest,
  type SignRequestOptions,
  stringToSign,
  type StringToSignParts,
} from "./signing.ts";
