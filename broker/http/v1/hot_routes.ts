/**
 * The fast path of the three routes that carry nearly all traffic: send, receive and delete.
 * Each is a handler registered on its route's method and path *before* the route's zod
 * validators and handler (`routes.ts`). When the request is plainly valid — `content-type:
 * application/json` exactly, a valid queue name, a body the hand-written recognizers of
 * `hot_validators.ts` accept — it calls the service and answers; otherwise it steps aside
 * (`next()`) and the zod route runs as if this handler did not exist. Errors therefore always
 * come from zod's path, and the middleware (metrics, credentials, access rules, body limits)
 * runs in front of both alike: the router matched the same route, so nothing outside sees a
 * difference but the time.
 *
 * @module
 */
import type { Context, Handler } from "hono";
import type { QueueService, ReceiveOptions } from "../../service/mod.ts";
import type { DoorEnv } from "./errors.ts";
import { carriesLargeBodies, jsonAnswerStream } from "./json_answer.ts";
import {
  plainDeleteRequest,
  plainQueueName,
  plainReceiveRequest,
  plainSendRequest,
} from "./hot_validators.ts";

/** The paths of the hot routes, in hono's syntax. */
export const hotRoutePaths = {
  send: "/v1/queues/:queue/messages",
  receive: "/v1/queues/:queue/messages/receive",
  delete: "/v1/queues/:queue/messages/delete",
} as const;

/**
 * Registers the fast handlers of send, receive and delete on `app`; call before the routes'
 * own registrations so that they run first.
 *
 * @example
 * ```ts
 * const app = new OpenAPIHono<DoorEnv>();
 * addHotRoutes(app, service);
 * app.openapi(sendMessages, handler); // runs when the fast handler steps aside
 * ```
 */
export function addHotRoutes(
  app: { post(path: string, handler: Handler<DoorEnv>): unknown },
  service: QueueService,
): void {
  app.post(
    hotRoutePaths.send,
    hotHandler(plainSendRequest, (queue, request) => service.sendMessages(queue, request.messages)),
  );
  app.post(
    hotRoutePaths.receive,
    // The signal aborts the long poll when the client goes away.
    hotHandler(
      plainReceiveRequest,
      (queue, request, c) =>
        service.receiveMessages(
          queue,
          request,
          c.get("longPollAborts") ?? c.req.raw,
          receiveOptionsOf(c),
        ),
    ),
  );
  app.post(
    hotRoutePaths.delete,
    hotHandler(
      plainDeleteRequest,
      (queue, request) => service.deleteMessages(queue, request.receiptHandles),
    ),
  );
}

/** A receive's options: the caller's key, whose long polls hold at most a share of a node's. */
export function receiveOptionsOf(c: Context<DoorEnv>): ReceiveOptions {
  return { keyId: c.get("accessKey")?.secretId };
}

/** The only media type the fast path takes; every other one is left to the zod route's gate. */
const plainJsonType = "application/json";

function hotHandler<T>(
  recognize: (body: unknown) => T | null,
  call: (queue: string, request: T, c: Context<DoorEnv>) => Promise<unknown>,
): Handler<DoorEnv> {
  return async function hotRoute(c, next) {
    const body = plainJsonBody(c);
    const queue = plainQueueName(c.req.param("queue"));
    const request = body === undefined || queue === null ? null : recognize(body);
    if (request === null || queue === null) return await next();
    const result = await call(queue, request, c);
    if (carriesLargeBodies(result)) {
      // Written as the client reads it, not built whole (see `json_answer.ts`).
      return c.body(jsonAnswerStream(result), 200, { "content-type": "application/json" });
    }
    return c.json(result, 200);
  };
}

/** The parsed body of a plain JSON request, or undefined for anything else. */
function plainJsonBody(c: Context<DoorEnv>): unknown {
  if (c.req.raw.headers.get("content-type") !== plainJsonType) return undefined;
  // Set by the JSON body reader for every non-empty body.
  const text = c.get("bodyText");
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
