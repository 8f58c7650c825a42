/**
 * HTTP push delivery for URL subscriptions: a worker that runs on the leader only, POSTs each
 * pending push (JSON or simplified body, `x-cmq-*` headers), and reports every outcome as a
 * replicated PushResults command, so the retry state survives restarts and failovers. The
 * pending set, attempt counts and schedules are engine state read through the service's
 * `PushSource`; the worker keeps only what is in flight. `PushHttpClient` is the HTTP/1.1 client
 * it uses in production (any `fetch`-like function can stand in for it); `PushDestinations` decides
 * where it may connect (`--push-deny-networks`, and never this node's own API).
 *
 * @module
 */
export { type PushLimits, pushLimitsDefault } from "./push_limits.ts";
export {
  type PushFetch,
  type PushTimers,
  PushWorker,
  type PushWorkerOptions,
  type PushWorkerStats,
} from "./push_worker.ts";
export { type PushRequest, pushRequest, pushUserAgent } from "./push_request.ts";
export { type HttpClientLimits, httpClientLimitsDefault, PushHttpClient } from "./http_client.ts";
export {
  type ApiListener,
  PushDestinations,
  type PushDestinationsOptions,
  PushRefused,
} from "./destinations.ts";
export { type Network, networkKeywords, parseNetworks } from "./networks.ts";
