/**
 * Who may call which v1 route (README, "Security"): one rule per route, naming the permission a
 * caller's key needs — the kind, where the resource's name is, and the action.
 *
 * Adding a route means adding its rule to `v1AccessRules` (one line): the guard installs a check
 * for every rule on the same method and path as the route, so the name it checks is the one the
 * handler sees (hono decodes both the same way), and a v1 route **without** a rule is answered
 * 500 and logged, never served unchecked (see `AccessGuard`). The topic routes, for example:
 *
 * ```ts
 * listingRule("topic", "/v1/topics"),
 * topicRule("PUT", "/v1/topics/{topic}", "manage"),
 * topicRule("POST", "/v1/topics/{topic}/messages", "publish"),
 * // a subscription with a {queue} endpoint enqueues into that queue: send on it too
 * topicRule("PUT", "/v1/topics/{topic}/subscriptions/{subscription}", "manage", subscriptionQueue),
 * ```
 *
 * Listing (`GET /v1/queues?prefix=p`) is allowed when one permission grants `read` on every name
 * starting with `p` (`queue:*:read`, or `queue:orders-*:read` with `prefix=orders-`): a list
 * never shows a name the key can't read, and its pages and `total` stay those of the service
 * (filtering pages after the fact would make `offset` and `total` lie).
 *
 * Some bodies write into other queues: a redrive's `destination`, the `deadLetter.queue` of a
 * queue's attributes (its dead letters will be sent there), and the `endpoint.queue` of a
 * subscription (every matching publish enqueues a copy there). The key needs `send` on each of
 * those too, so that managing one queue never grants writing into another. A change of a
 * subscription's filter needs `send` on its endpoint queue the same way (subscribing with that
 * filter did); the body does not name that queue, so the service checks it against the state.
 *
 * @module
 */
import type { Action, ResourceKind } from "../../auth/mod.ts";

/** Where a rule finds the name of the resource it guards. */
export type AccessRuleName =
  /** A path parameter, e.g. `{queue}`. */
  | { readonly param: string }
  /** A listing: every name starting with this query parameter's value (absent = ""). */
  | { readonly listingPrefixQuery: string }
  /** The cluster: the permission has no name. */
  | null;

/** What a rule's `queuesWrittenByBody` answers for a request that writes into any queue. */
export const everyQueue = "every queue";

/** The permission one route needs. */
export interface AccessRule {
  readonly method: "GET" | "PUT" | "PATCH" | "POST" | "DELETE";
  /** The route's path as in the OpenAPI document (`/v1/queues/{queue}`). */
  readonly path: string;
  readonly kind: ResourceKind;
  readonly action: Action;
  readonly name: AccessRuleName;
  /**
   * Queues the request body (undefined when none) writes into: the key needs `send` on each.
   * `everyQueue` when the request writes into queues it does not name (a redrive back to its
   * messages' origins), which needs `send` on every queue.
   */
  readonly queuesWrittenByBody?: (body: unknown) => string[] | typeof everyQueue;
  /**
   * The request may write into a queue that only the state names (a subscription's filter
   * change, into its endpoint queue): the guard gives the handler `mayWriteQueue`, which the
   * service asks once it has read the state.
   */
  readonly queuesWrittenByState?: true;
}

type Method = AccessRule["method"];

function queueRule(
  method: Method,
  path: string,
  action: Action,
  queuesWrittenByBody?: AccessRule["queuesWrittenByBody"],
): AccessRule {
  return { method, path, kind: "queue", action, name: { param: "queue" }, queuesWrittenByBody };
}

/** A route on one topic, named by the `{topic}` path parameter. */
export function topicRule(
  method: Method,
  path: string,
  action: Action,
  queuesWrittenByBody?: AccessRule["queuesWrittenByBody"],
): AccessRule {
  return { method, path, kind: "topic", action, name: { param: "topic" }, queuesWrittenByBody };
}

/** A `GET` listing of `kind` names, filtered by the `prefix` query parameter: needs `read`. */
export function listingRule(kind: ResourceKind, path: string, query = "prefix"): AccessRule {
  return { method: "GET", path, kind, action: "read", name: { listingPrefixQuery: query } };
}

function clusterRule(method: Method, path: string, action: Action): AccessRule {
  return { method, path, kind: "cluster", action, name: null };
}

/** `body.field` when the body is an object and the field a string. */
function stringField(body: unknown, field: string): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const value = (body as Record<string, unknown>)[field];
  return typeof value === "string" ? value : undefined;
}

/** The dead-letter queue a queue's attributes name (create and update). */
function deadLetterQueue(body: unknown): string[] {
  const policy = typeof body === "object" && body !== null
    ? (body as Record<string, unknown>).deadLetter
    : undefined;
  const queue = stringField(policy, "queue");
  return queue === undefined ? [] : [queue];
}

/** The queue a subscription's `{queue}` endpoint names (subscribe and update). */
function subscriptionQueue(body: unknown): string[] {
  const endpoint = typeof body === "object" && body !== null
    ? (body as Record<string, unknown>).endpoint
    : undefined;
  const queue = stringField(endpoint, "queue");
  return queue === undefined ? [] : [queue];
}

/**
 * A redrive writes into its `destination`, or without one into each message's origin queue:
 * whichever queues sent the dead letters, which the request does not name.
 */
function redriveDestination(body: unknown): string[] | typeof everyQueue {
  const destination = stringField(body, "destination");
  return destination === undefined ? everyQueue : [destination];
}

/** The rules of every v1 route. */
export const v1AccessRules: readonly AccessRule[] = [
  listingRule("queue", "/v1/queues"),
  queueRule("PUT", "/v1/queues/{queue}", "manage", deadLetterQueue),
  queueRule("GET", "/v1/queues/{queue}", "read"),
  queueRule("PATCH", "/v1/queues/{queue}", "manage", deadLetterQueue),
  queueRule("DELETE", "/v1/queues/{queue}", "manage"),
  queueRule("POST", "/v1/queues/{queue}/messages", "send"),
  queueRule("POST", "/v1/queues/{queue}/messages/receive", "receive"),
  queueRule("POST", "/v1/queues/{queue}/messages/delete", "receive"),
  queueRule("POST", "/v1/queues/{queue}/messages/visibility", "receive"),
  queueRule("POST", "/v1/queues/{queue}/rewind", "manage"),
  queueRule("POST", "/v1/queues/{queue}/purge", "manage"),
  queueRule("POST", "/v1/queues/{queue}/redrive", "manage", redriveDestination),
  listingRule("topic", "/v1/topics"),
  topicRule("PUT", "/v1/topics/{topic}", "manage"),
  topicRule("GET", "/v1/topics/{topic}", "read"),
  topicRule("PATCH", "/v1/topics/{topic}", "manage"),
  topicRule("DELETE", "/v1/topics/{topic}", "manage"),
  topicRule("POST", "/v1/topics/{topic}/messages", "publish"),
  topicRule("GET", "/v1/topics/{topic}/subscriptions", "read"),
  topicRule("PUT", "/v1/topics/{topic}/subscriptions/{subscription}", "manage", subscriptionQueue),
  topicRule("GET", "/v1/topics/{topic}/subscriptions/{subscription}", "read"),
  // Its filter decides what goes into its endpoint queue: send on that queue too (see the rule).
  {
    ...topicRule(
      "PATCH",
      "/v1/topics/{topic}/subscriptions/{subscription}",
      "manage",
      subscriptionQueue,
    ),
    queuesWrittenByState: true,
  },
  topicRule("DELETE", "/v1/topics/{topic}/subscriptions/{subscription}", "manage"),
  clusterRule("GET", "/v1/cluster", "read"),
  clusterRule("POST", "/v1/cluster/nodes", "manage"),
  clusterRule("DELETE", "/v1/cluster/nodes/{id}", "manage"),
];

/** The permission as the credentials file spells it, for messages: `queue:orders:send`. */
export function permissionText(kind: ResourceKind, name: string, action: Action): string {
  return kind === "cluster" ? `cluster:${action}` : `${kind}:${name}:${action}`;
}
