/**
 * Any node accepts any request (the API contract): a follower forwards API requests to the leader's client
 * URL and relays the answer; with no leader known it answers 503 `NoLeader` with `Retry-After`.
 * Every answer names the leader in `x-cmqd-leader` so clients can go straight there next time.
 *
 * Operations endpoints (`/healthz`, `/readyz`, `/metrics`, `/v1/cluster`, the docs) are always
 * answered by the node itself: they describe this node.
 *
 * @module
 */

/** What the forwarder needs to know about the group, at the moment of each request. */
export interface LeaderView {
  /** True when this node may serve writes itself. */
  isLeader(): boolean;
  /** The leader's client base URL, or null while unknown (an election is running). */
  leaderUrl(): string | null;
}

/** The connection a request came in on, as `Deno.serve` tells it (absent in-process). */
export type ConnectionInfo = Deno.ServeHandlerInfo | undefined;

/** Options of `forwardingHandler`. */
export interface ForwardingOptions {
  view: LeaderView;
  /** The local handler (the hono app's `fetch`); it gets the connection info as hono's env. */
  local: (request: Request, info: ConnectionInfo) => Response | Promise<Response>;
  /**
   * Checked before a request is relayed (protected mode, credentials): a refusal is answered
   * here; otherwise the body bytes it read, if any, are what is sent on. Default: admit all.
   */
  admit?: (
    request: Request,
    info: ConnectionInfo,
  ) => Promise<
    { refusal: Response } | { refusal?: undefined; body: Uint8Array<ArrayBuffer> | null }
  >;
  /** Bytes of a request body the forwarder buffers at most (the API's own limit applies too). */
  requestBytesMax: number;
  /** The fetch used to reach the leader (tests inject one). */
  fetch?: typeof fetch;
}

/** Marks a request that already crossed one node, so two confused nodes never ping-pong it. */
export const forwardedHeader = "x-cmqd-forwarded";
/** Names the leader's client URL on every answer. */
export const leaderHeader = "x-cmqd-leader";

const localPaths = /^\/(healthz|readyz|metrics|openapi\.json|docs|v1\/cluster)$/;

function errorResponse(status: number, code: string, message: string): Response {
  const requestId = crypto.randomUUID();
  return new Response(JSON.stringify({ error: { code, message, requestId } }), {
    status,
    headers: {
      "content-type": "application/json",
      "x-request-id": requestId,
      ...(status === 503 ? { "retry-after": "1" } : {}),
    },
  });
}

function withLeader(response: Response, leaderUrl: string | null): Response {
  if (leaderUrl === null || response.headers.has(leaderHeader)) return response;
  try {
    response.headers.set(leaderHeader, leaderUrl);
    return response;
  } catch {
    // Headers of a fetched response are immutable: copy them.
    const headers = new Headers(response.headers);
    headers.set(leaderHeader, leaderUrl);
    return new Response(response.body, { status: response.status, headers });
  }
}

/**
 * Wraps the local handler: serve here when this node leads (or for operations endpoints),
 * else relay to the leader.
 *
 * @example
 * ```ts
 * Deno.serve(forwardingHandler({ view, local: app.fetch, requestBytesMax: 4 << 20 }));
 * ```
 */
export function forwardingHandler(
  options: ForwardingOptions,
): (request: Request, info?: ConnectionInfo) => Promise<Response> {
  const doFetch = options.fetch ?? fetch;
  return async (request, info) => {
    const path = new URL(request.url).pathname;
    const leaderUrl = options.view.leaderUrl();
    if (options.view.isLeader() || localPaths.test(path)) {
      return withLeader(await options.local(request, info), leaderUrl);
    }
    // A client this node would refuse is not relayed either.
    const admission = await options.admit?.(request, info);
    if (admission?.refusal !== undefined) return withLeader(admission.refusal, leaderUrl);
    if (leaderUrl === null || request.headers.has(forwardedHeader)) {
      return errorResponse(503, "NoLeader", "no leader is known yet; retry shortly");
    }
    const length = Number(request.headers.get("content-length") ?? "0");
    if (length > options.requestBytesMax) {
      // The leader would refuse it too; answer here without reading the body.
      return options.local(request, info);
    }
    const url = new URL(request.url);
    const target = leaderUrl + url.pathname + url.search;
    const headers = new Headers(request.headers);
    headers.set(forwardedHeader, "1");
    headers.delete("host");
    try {
      const body = request.method === "GET" || request.method === "HEAD"
        ? undefined
        : admission?.body ?? await request.arrayBuffer();
      const response = await doFetch(target, {
        method: request.method,
        headers,
        body,
        signal: request.signal,
      });
      return withLeader(response, leaderUrl);
    } catch (error) {
      if (request.signal.aborted) return errorResponse(503, "NoLeader", "client went away");
      return errorResponse(503, "NoLeader", `leader unreachable: ${(error as Error).message}`);
    }
  };
}
