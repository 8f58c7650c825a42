/**
 * Shared fixtures of the v1 access tests (`access_guard_test.ts`, `access_guard_signing_test.ts`):
 * a door over a recording service, keys, one request per route and signing helpers.
 *
 * @module
 */
import type { BodyBudget } from "../service/mod.ts";
import { FileKeyRing, NonceCache } from "../auth/mod.ts";
import type { QueueService, TopicService } from "../service/mod.ts";
import type { ClusterInfo, JoinRequest } from "../../sdk/protocol.ts";
import { signRequest } from "../../sdk/signing.ts";
import { AccessGuard } from "./access_guard.ts";
import { createApp } from "./app.ts";
import { Metrics } from "./metrics.ts";
import { FakeStatus, recordingService } from "./testing/mod.ts";
export const nowMs = 1_700_000_000_000;

/** A status that also runs membership changes, recording them. */
class MembershipStatus extends FakeStatus {
  readonly joined: JoinRequest[] = [];
  readonly removed: string[] = [];
  join(request: JoinRequest): Promise<ClusterInfo> {
    this.joined.push(request);
    return Promise.resolve(this.cluster());
  }
  removeNode(id: string): Promise<void> {
    this.removed.push(id);
    return Promise.resolve();
  }
}

export const answers: Partial<Record<keyof QueueService | keyof TopicService, unknown>> = {
  createQueue: { queue: { name: "orders" }, created: true },
  listQueues: { total: 0, queues: [] },
  createTopic: { topic: { name: "orders" }, created: true },
  subscribe: { subscription: { name: "audit" }, created: true },
};

export type Keys = Record<string, string[]>;

export function secretOf(secretId: string): string {
  return `${secretId}-secret`;
}

export async function keyRingOf(keys: Keys): Promise<FileKeyRing> {
  const text = JSON.stringify({
    keys: Object.entries(keys).map(([secretId, allow]) => ({
      secretId,
      secretKey: secretOf(secretId),
      allow,
    })),
  });
  return await FileKeyRing.load("credentials.json", () => Promise.resolve(text));
}

export interface DoorOptions {
  keys?: Keys;
  loopbackOnly?: boolean;
  nonceCache?: NonceCache;
  requestBytesMax?: number;
  /** The budget of request bodies being read at once (a manual one in the budget's tests). */
  bodies?: BodyBudget;
}

export async function door(options: DoorOptions = {}) {
  // One recorder serves queues and topics, so `calls` lists what every route ran.
  const { service, calls } = recordingService(
    answers as Partial<Record<keyof QueueService, unknown>>,
  );
  const status = new MembershipStatus();
  const logged: string[] = [];
  const keyRing = options.keys === undefined ? null : await keyRingOf(options.keys);
  const access = new AccessGuard({
    keyRing,
    loopbackOnly: options.loopbackOnly ?? false,
    nonceCache: options.nonceCache,
    nowMs: () => nowMs,
    bodies: options.bodies,
  });
  const app = createApp({
    service,
    topics: service as unknown as TopicService,
    status,
    metrics: new Metrics(),
    access,
    requestBytesMax: options.requestBytesMax,
    logError: (message) => logged.push(message),
  });
  return { app, calls, status, logged, access };
}

/** One concrete request per v1 route, with the permission the README's "Security" section says it needs. */
export interface RouteCase {
  method: string;
  path: string;
  body?: unknown;
  permission: string;
  /** Permissions the body needs besides `permission` (send on a queue it writes into). */
  alsoNeeds?: string[];
}

export const routeCases: RouteCase[] = [
  { method: "PUT", path: "/v1/queues/orders", body: {}, permission: "queue:orders:manage" },
  { method: "GET", path: "/v1/queues?prefix=ord&limit=5", permission: "queue:ord*:read" },
  { method: "GET", path: "/v1/queues/orders", permission: "queue:orders:read" },
  {
    method: "PATCH",
    path: "/v1/queues/orders",
    body: { maxBacklog: 5 },
    permission: "queue:orders:manage",
  },
  { method: "DELETE", path: "/v1/queues/orders", permission: "queue:orders:manage" },
  {
    method: "POST",
    path: "/v1/queues/orders/messages",
    body: { messages: [{ body: "x" }] },
    permission: "queue:orders:send",
  },
  {
    method: "POST",
    path: "/v1/queues/orders/messages/receive",
    body: { maxMessages: 2 },
    permission: "queue:orders:receive",
  },
  {
    method: "POST",
    path: "/v1/queues/orders/messages/delete",
    body: { receiptHandles: ["h"] },
    permission: "queue:orders:receive",
  },
  {
    method: "POST",
    path: "/v1/queues/orders/messages/visibility",
    body: { entries: [{ receiptHandle: "h", visibilityTimeoutSeconds: 5 }] },
    permission: "queue:orders:receive",
  },
  {
    method: "POST",
    path: "/v1/queues/orders/rewind",
    body: { timestamp: 1 },
    permission: "queue:orders:manage",
  },
  { method: "POST", path: "/v1/queues/orders/purge", permission: "queue:orders:manage" },
  {
    method: "POST",
    path: "/v1/queues/orders/redrive",
    // Without a destination a redrive writes into any queue (access_guard_test checks that).
    body: { destination: "other" },
    permission: "queue:orders:manage",
    alsoNeeds: ["queue:other:send"],
  },
  { method: "PUT", path: "/v1/topics/orders", body: {}, permission: "topic:orders:manage" },
  { method: "GET", path: "/v1/topics?prefix=ord", permission: "topic:ord*:read" },
  { method: "GET", path: "/v1/topics/orders", permission: "topic:orders:read" },
  {
    method: "PATCH",
    path: "/v1/topics/orders",
    body: { retentionSeconds: 600 },
    permission: "topic:orders:manage",
  },
  { method: "DELETE", path: "/v1/topics/orders", permission: "topic:orders:manage" },
  {
    method: "POST",
    path: "/v1/topics/orders/messages",
    body: { messages: [{ body: "x" }] },
    permission: "topic:orders:publish",
  },
  {
    // A URL endpoint writes into no queue: the topic's permission is enough.
    method: "PUT",
    path: "/v1/topics/orders/subscriptions/audit",
    body: { endpoint: { url: "https://example.com/hook" } },
    permission: "topic:orders:manage",
  },
  { method: "GET", path: "/v1/topics/orders/subscriptions", permission: "topic:orders:read" },
  { method: "GET", path: "/v1/topics/orders/subscriptions/audit", permission: "topic:orders:read" },
  {
    method: "PATCH",
    path: "/v1/topics/orders/subscriptions/audit",
    body: { filterTags: ["paid"] },
    permission: "topic:orders:manage",
  },
  {
    method: "DELETE",
    path: "/v1/topics/orders/subscriptions/audit",
    permission: "topic:orders:manage",
  },
  { method: "GET", path: "/v1/cluster", permission: "cluster:read" },
  {
    method: "POST",
    path: "/v1/cluster/nodes",
    body: { id: "n2", peerAddress: "10.0.0.2:9877", clientUrl: "http://10.0.0.2:9876" },
    permission: "cluster:manage",
  },
  { method: "DELETE", path: "/v1/cluster/nodes/n2", permission: "cluster:manage" },
];

export const allActions: Record<string, string[]> = {
  queue: ["send", "receive", "manage", "read"],
  topic: ["publish", "manage", "read"],
};

/**
 * Every permission but the needed one: all actions on `orders` and on `other`, topics and the
 * cluster — except that the needed kind and action is granted only on the queue `other`.
 */
export function everythingBut(permission: string): string[] {
  const [kind, , action] = permission.split(":");
  const neededAction = kind === "cluster" ? permission.split(":")[1] : action;
  const granted: string[] = [];
  for (const [each, actions] of Object.entries(allActions)) {
    for (const eachAction of actions) {
      for (const name of ["orders", "other"]) {
        if (each === kind && eachAction === neededAction && name !== "other") continue;
        granted.push(`${each}:${name}:${eachAction}`);
      }
    }
  }
  for (const clusterAction of ["manage", "read"]) {
    if (kind !== "cluster" || clusterAction !== neededAction) {
      granted.push(`cluster:${clusterAction}`);
    }
  }
  return granted;
}

export function bodyText(routeCase: RouteCase): string | undefined {
  return routeCase.body === undefined ? undefined : JSON.stringify(routeCase.body);
}

export function init(routeCase: RouteCase, authorization?: string): RequestInit {
  const headers: Record<string, string> = {};
  const body = bodyText(routeCase);
  if (body !== undefined) headers["content-type"] = "application/json";
  if (authorization !== undefined) headers.authorization = authorization;
  return { method: routeCase.method, headers, body };
}

export interface SignOptions {
  secretKey?: string;
  atMs?: number;
  nonce?: string;
}

export async function signedFor(routeCase: RouteCase, secretId: string, options: SignOptions = {}) {
  const url = new URL(`http://localhost${routeCase.path}`);
  return await signRequest({
    method: routeCase.method,
    path: url.pathname,
    query: url.search,
    body: bodyText(routeCase),
    secretId,
    secretKey: options.secretKey ?? secretOf(secretId),
    nowMs: options.atMs ?? nowMs,
    nonce: options.nonce,
  });
}

export async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  return (await response.json()).error;
}

export function label(routeCase: RouteCase): string {
  return `${routeCase.method} ${routeCase.path}`;
}
