/**
 * The topics section of the native v1 door (README, "Topics"): each route validates its input
 * with the schemas of `topic_schemas.ts`, calls one `TopicService` method and answers its result.
 * No logic of its own beyond that translation; errors are thrown to the one mapper.
 *
 * @module
 */
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import type { TopicService } from "../../service/mod.ts";
import type { SubscriptionAttributesInput } from "../../../sdk/protocol.ts";
import { type DoorEnv, validationHook } from "./errors.ts";
import { errorResponses, json, jsonBody } from "./openapi_responses.ts";
import {
  ListQuerySchema,
  PublishRequestSchema,
  PublishResponseSchema,
  SubscriptionAttributesInputSchema,
  SubscriptionListSchema,
  SubscriptionParamsSchema,
  SubscriptionSchema,
  TopicAttributesInputSchema,
  TopicListSchema,
  TopicParamsSchema,
  TopicSchema,
} from "./topic_schemas.ts";

const errors = errorResponses({
  404: "TopicNotFound, SubscriptionNotFound",
  409: "TopicAlreadyExists, SubscriptionAlreadyExists (with other attributes)",
  429: "TopicLimitExceeded (creates: topicsMax reached)",
});

const tags = ["topics"];
const subscriptionTags = ["subscriptions"];
const topicPath = "/v1/topics/{topic}";
const subscriptionPath = "/v1/topics/{topic}/subscriptions/{subscription}";

const createTopic = createRoute({
  method: "put",
  path: topicPath,
  operationId: "createTopic",
  tags,
  summary: "Create a topic (idempotent with the same attributes)",
  request: { params: TopicParamsSchema, body: jsonBody(TopicAttributesInputSchema, false) },
  responses: {
    201: json(TopicSchema, "Created"),
    200: json(TopicSchema, "Exists already with the same attributes"),
    ...errors(400, 409, 415, 429),
  },
});

const listTopics = createRoute({
  method: "get",
  path: "/v1/topics",
  operationId: "listTopics",
  tags,
  summary: "List topics by name",
  request: { query: ListQuerySchema },
  responses: { 200: json(TopicListSchema, "A page of topics"), ...errors(400) },
});

const getTopic = createRoute({
  method: "get",
  path: topicPath,
  operationId: "getTopic",
  tags,
  summary: "Attributes and counts of a topic",
  request: { params: TopicParamsSchema },
  responses: { 200: json(TopicSchema, "The topic"), ...errors(400, 404) },
});

const updateTopic = createRoute({
  method: "patch",
  path: topicPath,
  operationId: "updateTopic",
  tags,
  summary: "Change maxMessageBytes or retentionSeconds",
  request: { params: TopicParamsSchema, body: jsonBody(TopicAttributesInputSchema, true) },
  responses: { 200: json(TopicSchema, "The updated topic"), ...errors(400, 404, 415) },
});

const deleteTopic = createRoute({
  method: "delete",
  path: topicPath,
  operationId: "deleteTopic",
  tags,
  summary: "Delete a topic, its subscriptions and their pending pushes",
  request: { params: TopicParamsSchema },
  responses: { 204: { description: "Deleted" }, ...errors(400, 404) },
});

const publish = createRoute({
  method: "post",
  path: `${topicPath}/messages`,
  operationId: "publish",
  tags,
  summary: "Publish a batch; every matching queue gets its copy in the same write",
  request: { params: TopicParamsSchema, body: jsonBody(PublishRequestSchema, true) },
  responses: {
    200: json(PublishResponseSchema, "Ids, fan-out counts and refusals in request order"),
    ...errors(400, 404, 413, 415, 507),
  },
});

const subscribe = createRoute({
  method: "put",
  path: subscriptionPath,
  operationId: "subscribe",
  tags: subscriptionTags,
  summary: "Subscribe a queue or a URL (idempotent with the same attributes)",
  request: {
    params: SubscriptionParamsSchema,
    body: jsonBody(SubscriptionAttributesInputSchema, true),
  },
  responses: {
    201: json(SubscriptionSchema, "Created"),
    200: json(SubscriptionSchema, "Exists already with the same attributes"),
    ...errors(400, 404, 409, 415),
  },
});

const listSubscriptions = createRoute({
  method: "get",
  path: `${topicPath}/subscriptions`,
  operationId: "listSubscriptions",
  tags: subscriptionTags,
  summary: "List the subscriptions of a topic by name",
  request: { params: TopicParamsSchema, query: ListQuerySchema },
  responses: { 200: json(SubscriptionListSchema, "A page of subscriptions"), ...errors(400, 404) },
});

const getSubscription = createRoute({
  method: "get",
  path: subscriptionPath,
  operationId: "getSubscription",
  tags: subscriptionTags,
  summary: "A subscription with its counts; URL ones with pending pushes, last error, next attempt",
  request: { params: SubscriptionParamsSchema },
  responses: { 200: json(SubscriptionSchema, "The subscription"), ...errors(400, 404) },
});

const updateSubscription = createRoute({
  method: "patch",
  path: subscriptionPath,
  operationId: "updateSubscription",
  tags: subscriptionTags,
  summary: "Change filters, retry policy or format",
  request: {
    params: SubscriptionParamsSchema,
    body: jsonBody(SubscriptionAttributesInputSchema, true),
  },
  responses: {
    200: json(SubscriptionSchema, "The updated subscription"),
    ...errors(400, 404, 415),
  },
});

const unsubscribe = createRoute({
  method: "delete",
  path: subscriptionPath,
  operationId: "unsubscribe",
  tags: subscriptionTags,
  summary: "Remove a subscription and its pending pushes",
  request: { params: SubscriptionParamsSchema },
  responses: { 204: { description: "Deleted" }, ...errors(400, 404) },
});

/** Every route of this file, for the docs page and the 405 answer. */
export const v1TopicRouteDefinitions = [
  createTopic,
  listTopics,
  getTopic,
  updateTopic,
  deleteTopic,
  publish,
  subscribe,
  listSubscriptions,
  getSubscription,
  updateSubscription,
  unsubscribe,
] as const;

/**
 * The `/v1/topics` routes over `service`.
 *
 * @example
 * ```ts
 * app.route("/", createV1TopicRoutes(topics));
 * ```
 */
export function createV1TopicRoutes(service: TopicService): OpenAPIHono<DoorEnv> {
  const app = new OpenAPIHono<DoorEnv>({ defaultHook: validationHook });
  addTopicRoutes(app, service);
  addSubscriptionRoutes(app, service);
  return app;
}

function addTopicRoutes(app: OpenAPIHono<DoorEnv>, service: TopicService): void {
  app.openapi(createTopic, async (c) => {
    const result = await service.createTopic(c.req.valid("param").topic, c.req.valid("json"));
    return c.json(result.topic, result.created ? 201 : 200);
  });
  app.openapi(listTopics, async (c) => c.json(await service.listTopics(c.req.valid("query")), 200));
  app.openapi(
    getTopic,
    async (c) => c.json(await service.getTopic(c.req.valid("param").topic), 200),
  );
  app.openapi(updateTopic, async (c) => {
    const topic = await service.updateTopic(c.req.valid("param").topic, c.req.valid("json"));
    return c.json(topic, 200);
  });
  app.openapi(deleteTopic, async (c) => {
    await service.deleteTopic(c.req.valid("param").topic);
    return c.body(null, 204);
  });
  app.openapi(publish, async (c) => {
    const { messages } = c.req.valid("json");
    return c.json(await service.publish(c.req.valid("param").topic, messages), 200);
  });
}

/**
 * The schema checks the endpoint's fields but can't say "exactly one of queue and url" in a
 * way zod reports well; the service checks that (and everything else) and names the field.
 */
function asInput(body: { endpoint?: { queue?: string; url?: string } }) {
  return body as SubscriptionAttributesInput;
}

function addSubscriptionRoutes(app: OpenAPIHono<DoorEnv>, service: TopicService): void {
  app.openapi(subscribe, async (c) => {
    const { topic, subscription } = c.req.valid("param");
    const result = await service.subscribe(topic, subscription, asInput(c.req.valid("json")));
    return c.json(result.subscription, result.created ? 201 : 200);
  });
  app.openapi(listSubscriptions, async (c) => {
    const list = await service.listSubscriptions(c.req.valid("param").topic, c.req.valid("query"));
    return c.json(list, 200);
  });
  app.openapi(getSubscription, async (c) => {
    const { topic, subscription } = c.req.valid("param");
    return c.json(await service.getSubscription(topic, subscription), 200);
  });
  app.openapi(updateSubscription, async (c) => {
    const { topic, subscription } = c.req.valid("param");
    const updated = await service.updateSubscription(
      topic,
      subscription,
      asInput(c.req.valid("json")),
      c.get("mayWriteQueue"),
    );
    return c.json(updated, 200);
  });
  app.openapi(unsubscribe, async (c) => {
    const { topic, subscription } = c.req.valid("param");
    await service.unsubscribe(topic, subscription);
    return c.body(null, 204);
  });
}
