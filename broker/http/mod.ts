/**
 * The HTTP face of a node: the hono app with its middleware (request ids, metrics, body limits),
 * the operations routes (`/healthz`, `/readyz`, `/metrics`, `/v1/cluster`, `/openapi.json`,
 * `/docs`) and one sub-room per door. It calls the service and nothing below it.
 *
 * @module
 */
export { apiVersion, type App, type AppOptions, createApp, requestSlackBytes } from "./app.ts";
export { type CounterChild, Metrics, metricsContentType } from "./metrics.ts";
export { errorBody, errorStatus } from "./v1/mod.ts";
export { AccessGuard, type AccessGuardOptions, type Admission } from "./access_guard.ts";
export { asBrokerError as bodyReadBrokerError } from "./body.ts";
export {
  BodyBudget,
  type BodyBudgetOptions,
  BodyReadError,
  defaultBodyBudgetBytes,
  defaultBodyStallMs,
} from "../service/mod.ts";
