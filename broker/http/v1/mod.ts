/**
 * The native v1 door: its routes and zod schemas (the source of `/openapi.json`), and its error
 * mapping (domain error code → HTTP status and JSON body). Sibling doors (`http/cmq_v2/`,
 * `http/sqs/`) translate the same service calls into other wire formats.
 *
 * @module
 */
export { createV1Routes, v1RouteDefinitions, type V1RouteOptions } from "./routes.ts";
export { createV1TopicRoutes, v1TopicRouteDefinitions } from "./topic_routes.ts";
export {
  type AccessRule,
  type AccessRuleName,
  everyQueue,
  listingRule,
  permissionText,
  topicRule,
  v1AccessRules,
} from "./access.ts";
export { ClusterInfoSchema, ErrorBodySchema, NameSchema } from "./schemas.ts";
export { installQueryChecks } from "./query_check.ts";
export { jsonAnswerBody } from "./json_answer.ts";
export {
  errorResponses,
  type ErrorResponsesOptions,
  json,
  jsonBody,
  middlewareStatuses,
  type RouteScope,
} from "./openapi_responses.ts";
export {
  createErrorHandler,
  createNotFoundHandler,
  type DoorEnv,
  errorBody,
  type ErrorLogger,
  errorStatus,
  respondWithError,
  validationHook,
} from "./errors.ts";
export { hotRoutePaths } from "./hot_routes.ts";
export {
  plainDeleteRequest,
  plainPublishRequest,
  plainQueueName,
  plainReceiveRequest,
  plainSendRequest,
} from "./hot_validators.ts";
