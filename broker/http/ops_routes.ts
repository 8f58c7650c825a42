/**
 * Operations endpoints (`the API contract`, "Operations"): liveness, readiness, Prometheus metrics and
 * the cluster view. `/openapi.json` and `/docs` are added by `app.ts`, which owns the whole
 * document.
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { BrokerError, type NodeStatus } from "../service/mod.ts";
import { type Metrics, metricsContentType } from "./metrics.ts";
import {
  ClusterInfoSchema,
  type DoorEnv,
  errorResponses,
  json,
  jsonBody,
  NameSchema,
  validationHook,
} from "./v1/mod.ts";

/** Seconds a client should wait before asking `/readyz` again. */
const notReadyRetryAfterSeconds = 1;

const tags = ["operations"];

const StatusSchema = z.object({ status: z.string() }).openapi("Status");

// The open endpoints: protected mode, the declared-length limit and the client port (503
// `NotReady` before the node serves, but `/healthz`: 200 `starting`, and while it shuts down)
// stand in front of them (`middlewareStatuses`).
const stopping = "the node is shutting down (retry after Retry-After)";
const healthErrors = errorResponses(
  { 503: `NotReady: storage failed, the process is ending; or ${stopping}` },
  { scope: "open" },
);
const readyErrors = errorResponses(
  {
    503: "NotReady: the node knows no leader, or has not heard from its leader within two " +
      "election timeouts, is handing its leadership over (it refuses writes meanwhile), is " +
      "starting (recovery or a join not finished), is shutting down, " +
      "or storage failed (retry after Retry-After); " +
      "NodeRemoved: the node was removed from its cluster",
  },
  { scope: "open" },
);
const openErrors = errorResponses({}, { scope: "open" });
/**
 * `/v1/cluster` is answered by the node itself (never forwarded) from its own view, so its 503
 * is the credentials check's (a full replay cache of signed requests) or the client port's.
 */
const clusterErrors = errorResponses({
  503: "NotReady: the replay cache of signed requests is full, or the node is starting or " +
    "shutting down (retry after Retry-After)",
});
const membershipErrors = errorResponses({
  400: "InvalidParameter: a bad node id or address, or the last voter",
  404: "NotFound: not a member",
});

/** The operations endpoints outside `/v1` need no credentials. */
const open: { security: [] } = { security: [] };

const healthz = createRoute({
  method: "get",
  path: "/healthz",
  operationId: "health",
  tags,
  ...open,
  summary: "Liveness: the process answers and its storage works",
  responses: { 200: json(StatusSchema, "Alive"), ...healthErrors(503) },
});

const readyz = createRoute({
  method: "get",
  path: "/readyz",
  operationId: "ready",
  tags,
  ...open,
  summary: "Readiness: recovery finished, the node serves writes",
  responses: { 200: json(StatusSchema, "Ready"), ...readyErrors(503) },
});

const metricsRoute = createRoute({
  method: "get",
  path: "/metrics",
  operationId: "metrics",
  tags,
  ...open,
  summary: "Prometheus metrics (text format 0.0.4)",
  responses: {
    200: { description: "Metrics", content: { "text/plain": { schema: z.string() } } },
    ...openErrors(),
  },
});

const cluster = createRoute({
  method: "get",
  path: "/v1/cluster",
  operationId: "cluster",
  tags,
  summary: "Nodes, roles, leader and commit indexes (needs cluster:read)",
  responses: {
    200: json(ClusterInfoSchema, "The cluster as this node sees it"),
    ...clusterErrors(),
  },
});

const JoinRequestSchema = z.object({
  id: NameSchema,
  peerAddress: z.string().max(300).openapi({ example: "10.0.0.4:9877" }),
  clientUrl: z.string().max(300).openapi({ example: "http://10.0.0.4:9876" }),
  emptyDataDir: z.boolean().optional().openapi({
    description: "The joining node started on a data directory without a log: it is refused " +
      "under the id of a current voter (that voter's disk was replaced; remove it first).",
  }),
}).strict().openapi("JoinRequest");

const joinNode = createRoute({
  method: "post",
  path: "/v1/cluster/nodes",
  operationId: "joinNode",
  tags,
  summary: "Add a node: record its address, add it as learner, wait for catch-up, promote " +
    "(needs cluster:manage)",
  request: { body: jsonBody(JoinRequestSchema, true) },
  responses: {
    200: json(ClusterInfoSchema, "The node is a voter; the new cluster view"),
    ...membershipErrors(400, 415),
  },
});

const removeNode = createRoute({
  method: "delete",
  path: "/v1/cluster/nodes/{id}",
  operationId: "removeNode",
  tags,
  summary: "Remove a node from the group (needs cluster:manage)",
  request: {
    params: z.object({ id: NameSchema.openapi({ param: { name: "id", in: "path" } }) }),
  },
  responses: { 204: { description: "Removed" }, ...membershipErrors(400, 404) },
});

/** Options of `createOpsRoutes`. */
export interface OpsRoutesOptions {
  status: NodeStatus;
  metrics: Metrics;
}

/** The v1 routes this file serves (the door's query check reads their shapes). */
export const opsRouteDefinitions = [cluster, joinNode, removeNode];

/**
 * The operations routes.
 *
 * @example
 * ```ts
 * app.route("/", createOpsRoutes({ status, metrics }));
 * ```
 */
export function createOpsRoutes(options: OpsRoutesOptions): OpenAPIHono<DoorEnv> {
  const { status, metrics } = options;
  const app = new OpenAPIHono<DoorEnv>({ defaultHook: validationHook });
  // `/readyz` answers every NotReady with `Retry-After` (README, "Health probes"), a failed
  // node's too: the restarted process answers it again.
  const failed = (retryAfterSeconds?: number) => {
    const failure = status.failure?.() ?? null;
    if (failure !== null) {
      throw new BrokerError("NotReady", `the node failed: ${failure}`, { retryAfterSeconds });
    }
  };
  app.openapi(healthz, (c) => {
    failed();
    return c.json({ status: "ok" }, 200);
  });
  app.openapi(readyz, (c) => {
    failed(notReadyRetryAfterSeconds);
    const removed = status.removal?.() ?? null;
    if (removed !== null) throw new BrokerError("NodeRemoved", removed);
    if (!status.ready()) {
      const why = status.notReadyReason?.() ?? "the node is not ready to serve writes yet";
      throw new BrokerError("NotReady", why, {
        retryAfterSeconds: notReadyRetryAfterSeconds,
      });
    }
    return c.json({ status: "ready" }, 200);
  });
  app.openapi(metricsRoute, (c) => {
    const nodeText = status.metricsText();
    const text = nodeText === "" || nodeText.endsWith("\n") ? nodeText : `${nodeText}\n`;
    return c.text(metrics.text() + text, 200, { "content-type": metricsContentType });
  });
  app.openapi(cluster, (c) => c.json(status.cluster(), 200));
  app.openapi(joinNode, async (c) => {
    if (status.join === undefined) throw new BrokerError("NotFound", "membership is not available");
    return c.json(await status.join(c.req.valid("json")), 200);
  });
  app.openapi(removeNode, async (c) => {
    if (status.removeNode === undefined) {
      throw new BrokerError("NotFound", "membership is not available");
    }
    await status.removeNode(c.req.valid("param").id);
    return c.body(null, 204);
  });
  return app;
}
