/**
 * The CMQ and SQS doors served in front of hono. Both answer every request themselves (their own
 * signatures, limits and error shapes), so of hono's chain they need only what its outer
 * middleware does for every request: protected mode, the request id, the leader hint and the
 * HTTP metrics. Going through hono's router and middleware cost about 40 µs of CPU per request,
 * a fifth of what a CMQ batch send or consume costs the broker.
 *
 * Served here: any request but HEAD whose path is exactly `/v2/index.php` or, as the PHP SDK
 * sends a GET, `/v2/index.php/v2/index.php` (with or without a query), `POST /` with an `X-Amz-Target: AmazonSQS.*` header, and SQS query-protocol requests
 * (`isSqsRequest`: a form POST at `/` or a queue URL's path, a GET naming an `Action`). A client
 * that protected mode refuses is handed to hono, which refuses it as before.
 * `door_direct_test.ts` holds both paths to the same answers and metrics.
 *
 * @module
 */
import type { NodeStatus } from "../service/mod.ts";
import type { AccessGuard } from "./access_guard.ts";
import { cmqDoorPath } from "./cmq_v2/mod.ts";
import type { FetchHandler } from "./direct.ts";
import { answerHeaders, requestIdOf, type RequestRecorder } from "./request_context.ts";
import { isSqsRequest, type SqsAnswers, sqsContentType } from "./sqs/mod.ts";

/** The metric labels of the two doors, the same on the hono path (see `app.ts`). */
export const doorRoutes = { cmq: cmqDoorPath, sqs: "/" } as const;

/** Options of `createDoorDirect`. */
export interface DoorDirectOptions {
  status: NodeStatus;
  access: AccessGuard;
  /** The app's HTTP metrics (shared with hono's request-context middleware). */
  recorder: RequestRecorder;
  /** The CMQ door's answer body (`createCmqAnswers`). */
  cmq: (request: Request, requestId: string) => Promise<Record<string, unknown>>;
  /** The SQS door (`createSqsAnswers`). */
  sqs: SqsAnswers;
  /** Serves every request that is not for a door (the v1 direct path, then hono). */
  next: FetchHandler;
  /** Hono's own `fetch`: answers a door request protected mode refuses, as it always did. */
  fallback: FetchHandler;
}

/**
 * A `fetch` that serves the CMQ and SQS doors and hands everything else to `options.next`.
 *
 * @example
 * ```ts
 * app.fetch = createDoorDirect({ status, access, recorder, cmq, sqs, next, fallback: honoFetch });
 * ```
 */
export function createDoorDirect(options: DoorDirectOptions): FetchHandler {
  const { next } = options;
  const cmq = (request: Request) => cmqAnswer(options, request);
  const sqs = (request: Request) => {
    const requestId = requestIdOf(request);
    return options.sqs(
      request,
      requestId,
      answerHeaders(sqsContentType, requestId, options.status),
    );
  };
  return function doorDirect(request, info) {
    const url = request.url;
    const pathStart = url.indexOf("/", url.indexOf("://") + 3);
    if (pathStart === -1) return next(request, info);
    // HEAD stays with hono, which answers it as a GET without the body.
    if (url.startsWith(cmqDoorPath, pathStart) && request.method !== "HEAD") {
      let end = pathStart + cmqDoorPath.length;
      // The PHP SDK's GET path, `cmqPhpGetPath`, is the door's path twice.
      if (url.startsWith(cmqDoorPath, end)) end += cmqDoorPath.length;
      const after = url.charCodeAt(end);
      // The path must end there: a query may follow (`?`), nothing else (`/`, `.`, `%`…).
      if (Number.isNaN(after) || after === questionMark) {
        return serveDoor(options, request, info, doorRoutes.cmq, cmq);
      }
    } else if (maybeSqsPath(url.charCodeAt(pathStart + 1)) && isSqsRequest(request)) {
      return serveDoor(options, request, info, doorRoutes.sqs, sqs);
    }
    return next(request, info);
  };
}

const questionMark = "?".charCodeAt(0);
const digit0 = "0".charCodeAt(0);
const digit9 = "9".charCodeAt(0);

/**
 * Whether the character after the path's first `/` can start an SQS door path (`/`, `/?…` or a
 * queue URL's `/<account id>/…`): a v1 request (`/v1/…`) is passed on without `isSqsRequest`.
 */
function maybeSqsPath(code: number): boolean {
  return Number.isNaN(code) || code === questionMark || (code >= digit0 && code <= digit9);
}

/** Protected mode, the door's answer, the metrics; hono answers a client protected mode refuses. */
async function serveDoor(
  options: DoorDirectOptions,
  request: Request,
  info: unknown,
  route: string,
  answer: (request: Request) => Promise<Response>,
): Promise<Response> {
  const started = performance.now();
  try {
    options.access.admitClient(info);
  } catch {
    return options.fallback(request, info);
  }
  const response = await answer(request);
  options.recorder.record(route, request.method, response.status, started);
  return response;
}

/** The CMQ answer with the headers hono's request-context middleware puts on it. */
async function cmqAnswer(options: DoorDirectOptions, request: Request): Promise<Response> {
  const requestId = requestIdOf(request);
  const headers = answerHeaders("application/json", requestId, options.status);
  const body = await options.cmq(request, requestId);
  return new Response(JSON.stringify(body), { headers });
}
