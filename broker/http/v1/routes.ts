/**
 * The queues section of the native v1 door (`the API contract`, "Queues"): each route validates its
 * input with the schemas of `schemas.ts`, calls one `QueueService` method and answers its
 * result. No logic of its own beyond that translation; errors are thrown to the one mapper.
 *
 * @module
 */
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import type { QueueService } from "../../service/mod.ts";
import type { RewindRequest } from "../../../sdk/protocol.ts";
import { type DoorEnv, validationHook } from "./errors.ts";
import { errorResponses, json, jsonBody } from "./openapi_responses.ts";
import { addHotRoutes, receiveOptionsOf } from "./hot_routes.ts";
import { carriesLargeBodies, jsonAnswerStream } from "./json_answer.ts";
import {
  ChangeVisibilityRequestSchema,
  ChangeVisibilityResponseSchema,
  DeleteMessagesRequestSchema,
  DeleteMessagesResponseSchema,
  ListQueuesQuerySchema,
  PurgeRequestSchema,
  PurgeResponseSchema,
  QueueAttributesInputSchema,
  QueueListSchema,
  QueueParamsSchema,
  QueueSchema,
  ReceiveMessagesRequestSchema,
  ReceiveMessagesResponseSchema,
  RedriveRequestSchema,
  RedriveResponseSchema,
  RewindRequestSchema,
  RewindResponseSchema,
  SendMessagesRequestSchema,
  SendMessagesResponseSchema,
} from "./schemas.ts";

const errors = errorResponses({
  404: "QueueNotFound",
  409: "QueueAlreadyExists (with other attributes)",
  429:
    "BacklogFull (sends), QueueLimitExceeded (creates: queuesMax reached), TopicLimitExceeded (topic creates: topicsMax reached)",
});

const tags = ["queues"];
const messageTags = ["messages"];

const createQueue = createRoute({
  method: "put",
  path: "/v1/queues/{queue}",
  operationId: "createQueue",
  tags,
  summary: "Create a queue (idempotent with the same attributes)",
  request: { params: QueueParamsSchema, body: jsonBody(QueueAttributesInputSchema, false) },
  responses: {
    201: json(QueueSchema, "Created"),
    200: json(QueueSchema, "Exists already with the same attributes"),
    ...errors(400, 409, 415, 429),
  },
});

const listQueues = createRoute({
  method: "get",
  path: "/v1/queues",
  operationId: "listQueues",
  tags,
  summary: "List queues by name",
  request: { query: ListQueuesQuerySchema },
  responses: { 200: json(QueueListSchema, "A page of queues"), ...errors(400) },
});

const getQueue = createRoute({
  method: "get",
  path: "/v1/queues/{queue}",
  operationId: "getQueue",
  tags,
  summary: "Attributes and live counts of a queue",
  request: { params: QueueParamsSchema },
  responses: { 200: json(QueueSchema, "The queue"), ...errors(400, 404) },
});

const updateQueue = createRoute({
  method: "patch",
  path: "/v1/queues/{queue}",
  operationId: "updateQueue",
  tags,
  summary: "Change mutable attributes",
  request: { params: QueueParamsSchema, body: jsonBody(QueueAttributesInputSchema, true) },
  responses: { 200: json(QueueSchema, "The updated queue"), ...errors(400, 404, 415) },
});

const deleteQueue = createRoute({
  method: "delete",
  path: "/v1/queues/{queue}",
  operationId: "deleteQueue",
  tags,
  summary: "Delete a queue and its messages",
  request: { params: QueueParamsSchema },
  responses: { 204: { description: "Deleted" }, ...errors(400, 404) },
});

const sendMessages = createRoute({
  method: "post",
  path: "/v1/queues/{queue}/messages",
  operationId: "sendMessages",
  tags: messageTags,
  summary: "Send a batch of messages",
  request: { params: QueueParamsSchema, body: jsonBody(SendMessagesRequestSchema, true) },
  responses: {
    200: json(SendMessagesResponseSchema, "Ids and sequences in request order"),
    ...errors(400, 404, 413, 415, 429, 507),
  },
});

const receiveMessages = createRoute({
  method: "post",
  path: "/v1/queues/{queue}/messages/receive",
  operationId: "receiveMessages",
  tags: messageTags,
  summary: "Receive (and lock) messages, long-polling up to waitSeconds",
  request: { params: QueueParamsSchema, body: jsonBody(ReceiveMessagesRequestSchema, false) },
  responses: {
    200: json(ReceiveMessagesResponseSchema, "Locked messages; empty when none arrived"),
    ...errors(400, 404, 413, 415),
  },
});

const deleteMessages = createRoute({
  method: "post",
  path: "/v1/queues/{queue}/messages/delete",
  operationId: "deleteMessages",
  tags: messageTags,
  summary: "Delete received messages by receipt handle",
  request: { params: QueueParamsSchema, body: jsonBody(DeleteMessagesRequestSchema, true) },
  responses: {
    200: json(DeleteMessagesResponseSchema, "Count deleted and per-handle failures"),
    ...errors(400, 404, 413, 415),
  },
});

const changeVisibility = createRoute({
  method: "post",
  path: "/v1/queues/{queue}/messages/visibility",
  operationId: "changeVisibility",
  tags: messageTags,
  summary: "Extend or release the locks of received messages",
  request: { params: QueueParamsSchema, body: jsonBody(ChangeVisibilityRequestSchema, true) },
  responses: {
    200: json(ChangeVisibilityResponseSchema, "New visibleAt per handle and failures"),
    ...errors(400, 404, 413, 415),
  },
});

const rewind = createRoute({
  method: "post",
  path: "/v1/queues/{queue}/rewind",
  operationId: "rewind",
  tags,
  summary: "Move the read position back to a time or sequence",
  request: { params: QueueParamsSchema, body: jsonBody(RewindRequestSchema, true) },
  responses: {
    200: json(RewindResponseSchema, "Where delivery restarts"),
    ...errors(400, 404, 415),
  },
});

const purge = createRoute({
  method: "post",
  path: "/v1/queues/{queue}/purge",
  operationId: "purge",
  tags,
  summary: "Delete every message of a queue",
  request: { params: QueueParamsSchema, body: jsonBody(PurgeRequestSchema, false) },
  responses: {
    200: json(PurgeResponseSchema, "How many were deleted"),
    ...errors(400, 404, 415),
  },
});

const redrive = createRoute({
  method: "post",
  path: "/v1/queues/{queue}/redrive",
  operationId: "redrive",
  tags,
  summary: "Move messages from a dead-letter queue back",
  request: { params: QueueParamsSchema, body: jsonBody(RedriveRequestSchema, false) },
  responses: { 200: json(RedriveResponseSchema, "How many moved"), ...errors(400, 404, 415) },
});

/** Every route of this file, for the docs page and the 405 answer. */
export const v1RouteDefinitions = [
  createQueue,
  listQueues,
  getQueue,
  updateQueue,
  deleteQueue,
  sendMessages,
  receiveMessages,
  deleteMessages,
  changeVisibility,
  rewind,
  purge,
  redrive,
] as const;

/** Options of `createV1Routes`. */
export interface V1RouteOptions {
  /**
   * Serve plainly valid sends, receives and deletes through the fast path of `hot_routes.ts`
   * (default true). False leaves every request to the zod routes: the reference the fast
   * path's equivalence test compares against.
   */
  hotRoutes?: boolean;
}

/**
 * The `/v1/queues` routes over `service`.
 *
 * @example
 * ```ts
 * app.route("/", createV1Routes(service));
 * ```
 */
export function createV1Routes(
  service: QueueService,
  options: V1RouteOptions = {},
): OpenAPIHono<DoorEnv> {
  const app = new OpenAPIHono<DoorEnv>({ defaultHook: validationHook });
  // Before the routes' own registrations: the router runs handlers in that order.
  if (options.hotRoutes ?? true) addHotRoutes(app, service);
  addQueueRoutes(app, service);
  addMessageRoutes(app, service);
  addOperationRoutes(app, service);
  return app;
}

function addQueueRoutes(app: OpenAPIHono<DoorEnv>, service: QueueService): void {
  app.openapi(createQueue, async (c) => {
    const result = await service.createQueue(c.req.valid("param").queue, c.req.valid("json"));
    return c.json(result.queue, result.created ? 201 : 200);
  });
  app.openapi(listQueues, async (c) => c.json(await service.listQueues(c.req.valid("query")), 200));
  app.openapi(
    getQueue,
    async (c) => c.json(await service.getQueue(c.req.valid("param").queue), 200),
  );
  app.openapi(updateQueue, async (c) => {
    const queue = await service.updateQueue(c.req.valid("param").queue, c.req.valid("json"));
    return c.json(queue, 200);
  });
  app.openapi(deleteQueue, async (c) => {
    await service.deleteQueue(c.req.valid("param").queue);
    return c.body(null, 204);
  });
}

function addMessageRoutes(app: OpenAPIHono<DoorEnv>, service: QueueService): void {
  app.openapi(sendMessages, async (c) => {
    const { messages } = c.req.valid("json");
    return c.json(await service.sendMessages(c.req.valid("param").queue, messages), 200);
  });
  app.openapi(receiveMessages, async (c) => {
    const queue = c.req.valid("param").queue;
    // The signal aborts the long poll when the client goes away.
    const result = await service.receiveMessages(
      queue,
      c.req.valid("json"),
      c.get("longPollAborts") ?? c.req.raw,
      receiveOptionsOf(c),
    );
    if (carriesLargeBodies(result)) {
      // Written as the client reads it, not built whole (see `json_answer.ts`).
      return c.body(jsonAnswerStream(result), 200, { "content-type": "application/json" }) as never;
    }
    return c.json(result, 200);
  });
  app.openapi(deleteMessages, async (c) => {
    const { receiptHandles } = c.req.valid("json");
    return c.json(await service.deleteMessages(c.req.valid("param").queue, receiptHandles), 200);
  });
  app.openapi(changeVisibility, async (c) => {
    const { entries } = c.req.valid("json");
    return c.json(await service.changeVisibility(c.req.valid("param").queue, entries), 200);
  });
}

function addOperationRoutes(app: OpenAPIHono<DoorEnv>, service: QueueService): void {
  app.openapi(rewind, async (c) => {
    const body = c.req.valid("json");
    // The schema guarantees exactly one of the two.
    const request: RewindRequest = body.timestamp !== undefined
      ? { timestamp: body.timestamp }
      : { sequence: body.sequence as number };
    return c.json(await service.rewind(c.req.valid("param").queue, request), 200);
  });
  app.openapi(purge, async (c) => c.json(await service.purge(c.req.valid("param").queue), 200));
  app.openapi(redrive, async (c) => {
    return c.json(await service.redrive(c.req.valid("param").queue, c.req.valid("json")), 200);
  });
}
