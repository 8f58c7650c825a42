/**
 * Any node accepts any request (the API contract): a follower forwards API requests to the leader's client
 * URL and relays the answer; with no leader known it answers 503 `NoLeader` with `Retry-After`.
 * Every answer names the leader in `x-cmqd-leader` so clients can go straight there next time.
 *
 * A forward in flight when this node learns of a new leader is answered at once with a retryable
 * 503 `NoLeader` naming the new one: the old leader may be frozen (SIGSTOP, a stalled disk) and
 * would hold the request until the client gives up. The client retries (safely with `dedupId`).
 * Such an answer, and one for a leader that stopped answering mid-request, says
 * `outcomeUnknown: true` for a request with a body that was sent: the leader may have carried it
 * out (one abandoned before it was sent, during the admission check, does not).
 * Bounded: a forwarded body is read up to `requestBytesMax` even without a `content-length`
 * (past it: 413 `RequestTooLarge`), or up to the bound of the admission check that read it
 * (the CMQ and SQS doors' own, answered in their shapes), and at most `forwardsInFlightMax`
 * forwards run at once (past it: 503 `NotReady`), so followers' memory does not follow their
 * clients; those the admission check found of one access key at most `forwardsKeyShare` of them
 * (past it that key's are answered the same), so one key's long polls, each relayed for as long
 * as it waits, can't take every place from the other keys.
 *
 * A node removed from its cluster (it knows no leader, and none will talk to it) answers every
 * API request 503 `NodeRemoved` with why, after the admission check. Operations endpoints
 * (`/healthz`, `/readyz`, `/metrics`, `/v1/cluster`, the docs) are always answered by the node
 * itself: they describe this node.
 *
 * @module
 */
import { isConnectFailure } from "../../sdk/mod.ts";
import { BodyBudget, BodyReadError, type Metrics } from "../http/mod.ts";
import { forwardedForHeader, forwardedProofHeader, type ForwardProof } from "./forward_proof.ts";
import { hopByHopNames } from "./hop_by_hop.ts";
import type { HeldRequests } from "../service/mod.ts";

/** What the forwarder needs to know about the group, at the moment of each request. */
export interface LeaderView {
  /** True when this node may serve writes itself. */
  isLeader(): boolean;
  /** The leader's client base URL, or null while unknown (an election is running). */
  leaderUrl(): string | null;
  /** Subscribes to changes of the known leader (so forwards to the old one can be answered). */
  onLeaderChange?(listener: () => void): void;
  /** Why this node is no longer a member (it was removed), or null: then nothing is relayed. */
  removed?(): string | null;
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
   * here; `local` (a path no door of the leader serves either) is answered by `local`, unread
   * and unrelayed; otherwise the body bytes it read, if any, are what is sent on (whatever their
   * length: the check bounded them), and `keyId` names the access key it verified (absent
   * without credentials). Default: admit all.
   */
  admit?: (
    request: Request,
    info: ConnectionInfo,
  ) => Promise<
    | { refusal: Response }
    | {
      refusal?: undefined;
      local?: boolean;
      body: Uint8Array<ArrayBuffer> | null;
      keyId?: string;
    }
  >;
  /** Bytes of a request body the forwarder buffers at most (the API's own limit applies too). */
  requestBytesMax: number;
  /**
   * The node's budget of request bodies being read at once, which the bodies the forwarder reads
   * itself are read through too (the admission check's through the guard's, the same one);
   * default a new one with the defaults.
   */
  bodies?: BodyBudget;
  /** Forwards running at once; past it a follower answers 503 `NotReady`. 1024. */
  forwardsInFlightMax?: number;
  /**
   * Share of `forwardsInFlightMax` the relayed requests of one access key (the admission's
   * `keyId`) may hold, in (0, 1]; past it that key's next one is answered 503 `NotReady` too,
   * while other keys' are still relayed. 0.8.
   */
  forwardsKeyShare?: number;
  /**
   * With the cluster key: as a follower, each forward names and proves its client's connection;
   * as the leader, a forward whose proof verifies counts its body against that connection's
   * share of the budget, not the follower's (`forward_proof.ts`). Without it, neither.
   */
  proof?: ForwardProof;
  /**
   * The bound on requests held across a freeze: as a follower, one held longer before it is
   * forwarded is answered 503 `NotReady` (`held`), not sent. (As the leader, the service's send
   * and publish paths check the process's bound before they propose: `heldRefusal`.)
   */
  held?: HeldRequests;
  /** The fetch used to reach the leader (tests inject one). */
  fetch?: typeof fetch;
  /**
   * Where a follower counts its forwards: `cmqd_forwarded_requests_total` by outcome,
   * `cmqd_forwards_in_flight` and `cmqd_forward_duration_seconds` (of those the leader answered).
   */
  metrics?: Metrics;
}

/**
 * How a request this node did not serve as leader ended: `answered` (relayed; the leader's answer,
 * whatever its status), `refused` (by the admission check, in its door's shape), `local` (a path no
 * door serves, answered here), `too_large`, `busy` (too many in flight), `no_leader`, `removed`,
 * `leader_changed` (abandoned for a new leader), `leader_unreachable`, `client_gone`, `stalled`
 * (its body stopped arriving; `busy` also counts a body the node's budget could not hold), `held`
 * (held too long before it could be sent, by a freeze of this node: not sent).
 */
type Outcome =
  | "answered"
  | "refused"
  | "local"
  | "too_large"
  | "busy"
  | "no_leader"
  | "removed"
  | "leader_changed"
  | "leader_unreachable"
  | "client_gone"
  | "stalled"
  | "held";

/** A forward's answer and how it ended. */
interface Forwarded {
  response: Response;
  outcome: Outcome;
}

/** Counts forwards into `metrics` (nothing without it). */
function forwardCounters(metrics: Metrics | undefined, inFlight: () => number) {
  if (metrics === undefined) return { count: () => {}, answered: () => {} };
  const running = metrics.gauge("cmqd_forwards_in_flight", "Forwards to the leader running now.");
  metrics.onCollect(() => running.set(inFlight()));
  const outcomes = metrics.counter(
    "cmqd_forwarded_requests_total",
    "API requests this node, not the leader, received and relayed to the leader (or answered itself, as the outcome says: refused, local, too_large, busy, no_leader, removed, leader_changed, leader_unreachable, client_gone, stalled, held); answered means the leader answered, whatever its status.",
  );
  const duration = metrics.histogram(
    "cmqd_forward_duration_seconds",
    "Time from a forwarded request's arrival to the leader's answer's headers, on this node.",
  );
  return {
    count: (outcome: Outcome) => outcomes.inc({ outcome }),
    answered: (seconds: number) => duration.observe(seconds),
  };
}

/** Why a forward was abandoned (the reason of its abort signal). */
class LeaderChanged extends Error {}

/** Marks a request that already crossed one node, so two confused nodes never ping-pong it. */
export const forwardedHeader = "x-cmqd-forwarded";
/**
 * The `Host` the client sent to the follower, on a forwarded request: the relay reaches the
 * leader under the leader's own, and what the client signed (SQS's SigV4 and CMQ's signature
 * cover the host) and the queue URLs it is answered must be the node it asked. Taken only with
 * `forwardedHeader`; it grants nothing a client could not do by sending that `Host` itself.
 */
export const forwardedHostHeader = "x-cmqd-forwarded-host";
/** Names the leader's client URL on every answer. */
export const leaderHeader = "x-cmqd-leader";

const localPaths = /^\/(healthz|readyz|metrics|openapi\.json|docs|v1\/cluster)$/;

/**
 * Headers about the client's connection to this node besides the hop-by-hop ones (`expect`,
 * `proxy-authorization`: the follower read the whole body, re-frames it and is no proxy of the
 * client's): a forward carries none of them, nor any header its `connection` names. Host and
 * framing are the member fetch's own.
 */
const requestLegHeaders = ["proxy-authorization", "expect", "host", "content-length"];

/** The client's end-to-end headers, which the leader gets. */
function endToEndHeaders(request: Request): Headers {
  const headers = new Headers(request.headers);
  const drop = hopByHopNames(request.headers.get("connection"), requestLegHeaders);
  for (const name of drop) headers.delete(name);
  return headers;
}

function errorResponse(
  status: number,
  code: string,
  message: string,
  leaderUrl: string | null = null,
  outcomeUnknown = false,
): Response {
  const requestId = crypto.randomUUID();
  const error = { code, message, requestId, ...(outcomeUnknown ? { outcomeUnknown } : {}) };
  return new Response(JSON.stringify({ error }), {
    status,
    headers: {
      "content-type": "application/json",
      "x-request-id": requestId,
      // Asking a removed node again does not help: NodeRemoved gets no Retry-After.
      ...(status === 503 && code !== "NodeRemoved" ? { "retry-after": "1" } : {}),
      ...(leaderUrl === null ? {} : { [leaderHeader]: leaderUrl }),
    },
  });
}

/**
 * A body the forwarder could not read (`BodyBudget.read`), answered as the leader would: over
 * the bound 413, the budget full 503 `NotReady` (`busy`), stalled 408 (`stalled`). Null for a
 * body that failed to arrive: the client went away (`client_gone`, below).
 */
function bodyRefusal(error: BodyReadError, leaderUrl: string): Forwarded | null {
  switch (error.reason) {
    case "too_large":
      return {
        response: errorResponse(413, "RequestTooLarge", error.message, leaderUrl),
        outcome: "too_large",
      };
    case "busy":
      return {
        response: errorResponse(503, "NotReady", error.message, leaderUrl),
        outcome: "busy",
      };
    case "stalled":
      return {
        response: errorResponse(408, "RequestTimeout", error.message, leaderUrl),
        outcome: "stalled",
      };
    case "unreadable":
      return null;
  }
}

/**
 * An error's message with its cause's, unless the message already says it: `fetch` says only
 * "fetch failed" and keeps the reason (an untrusted certificate — a node without `--tls-ca` — a
 * refused connection) in `cause`; the member fetch's errors name theirs.
 */
function reasonOf(error: unknown): string {
  const message = (error as Error).message;
  const cause = (error as Error).cause;
  if (!(cause instanceof Error) || message.includes(cause.message)) return message;
  return `${message} (${cause.message})`;
}

/** A forwarded request as its client sent it to the follower: under the `Host` it used. */
function asSent(request: Request): Request {
  const host = request.headers.get(forwardedHostHeader);
  if (host === null || !request.headers.has(forwardedHeader)) return request;
  const headers = new Headers(request.headers);
  headers.set("host", host);
  headers.delete(forwardedHostHeader);
  headers.delete(forwardedForHeader);
  headers.delete(forwardedProofHeader);
  return new Request(request, { headers });
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
  const inFlightMax = options.forwardsInFlightMax ?? 1024;
  const keyShare = options.forwardsKeyShare ?? 0.8;
  if (!(keyShare > 0 && keyShare <= 1)) {
    throw new RangeError(`forwardsKeyShare must be in (0, 1], got ${keyShare}`);
  }
  const perKeyMax = Math.max(1, Math.floor(inFlightMax * keyShare));
  /** Forwards in flight (admission included): the leader each is for, and how to abandon it. */
  const inFlight = new Map<AbortController, string | null>();
  /** Admitted forwards being relayed, by key (keys with none are not listed). */
  const relayedByKey = new Map<string, number>();
  options.view.onLeaderChange?.(() => {
    const current = options.view.leaderUrl();
    // Only a known new leader is worth answering with: while an election runs the old leader
    // may still answer, and the client could not go anywhere better anyway.
    if (current === null) return;
    for (const [controller, target] of inFlight) {
      if (target !== current) controller.abort(new LeaderChanged());
    }
  });
  const counters = forwardCounters(options.metrics, () => inFlight.size);
  const bodies = options.bodies ?? new BodyBudget();
  const relay = async (
    request: Request,
    leaderUrl: string,
    admitted: Uint8Array<ArrayBuffer> | null,
    controller: AbortController,
    arrival: number,
  ): Promise<Forwarded> => {
    const url = new URL(request.url);
    const headers = endToEndHeaders(request);
    headers.set(forwardedHeader, "1");
    headers.set(forwardedHostHeader, request.headers.get("host") ?? url.host);
    // Only this node's own claim reaches the leader (it takes none it can't verify anyway).
    headers.delete(forwardedForHeader);
    headers.delete(forwardedProofHeader);
    const client = options.proof === undefined ? null : bodies.connectionOf(request);
    if (client !== null) {
      options.proof!.claim(headers, request.method, url.pathname + url.search, client);
    }
    let body: Uint8Array<ArrayBuffer> | undefined;
    let sending = false;
    try {
      if (request.method !== "GET" && request.method !== "HEAD") {
        // The admission check may have read the body already (to verify a signature).
        try {
          body = admitted ?? await bodies.read(request, options.requestBytesMax);
        } catch (error) {
          const refused = error instanceof BodyReadError ? bodyRefusal(error, leaderUrl) : null;
          if (refused === null) throw error;
          return refused;
        }
      }
      // The leader changed during the admission check or the body's read: nothing is sent.
      controller.signal.throwIfAborted();
      // Held across a freeze of this node: its client gave up and may have sent it elsewhere.
      const held = options.held?.refusal(arrival) ?? null;
      if (held !== null) {
        const response = errorResponse(503, "NotReady", held.message, leaderUrl);
        return { response, outcome: "held" };
      }
      // A client that went away (while this node was frozen, say) gets nothing sent for it.
      if (request.signal.aborted) throw request.signal.reason;
      sending = true;
      const response = await doFetch(leaderUrl + url.pathname + url.search, {
        method: request.method,
        headers,
        body,
        signal: AbortSignal.any([request.signal, controller.signal]),
      });
      return { response: withLeader(response, leaderUrl), outcome: "answered" };
    } catch (error) {
      if (controller.signal.reason instanceof LeaderChanged) {
        const next = options.view.leaderUrl();
        const message = `leader changed${next === null ? "" : ` to ${next}`} while forwarding; ` +
          "retry (safe with dedupId)";
        // The leader may have carried the request out before it lost the leadership.
        const response = errorResponse(
          503,
          "NoLeader",
          message,
          next,
          sending && body !== undefined,
        );
        return { response, outcome: "leader_changed" };
      }
      if (request.signal.aborted) {
        return {
          response: errorResponse(503, "NoLeader", "client went away"),
          outcome: "client_gone",
        };
      }
      // Unless the connection was never made, the leader may have carried the request out.
      const reached = body !== undefined && !isConnectFailure(error);
      const message = `leader unreachable: ${reasonOf(error)}`;
      const response = errorResponse(503, "NoLeader", message, null, reached);
      return { response, outcome: "leader_unreachable" };
    }
  };
  const forward = async (
    request: Request,
    info: ConnectionInfo,
    leaderUrl: string | null,
    controller: AbortController,
    arrival: number,
  ): Promise<Forwarded> => {
    // A client this node would refuse is not relayed either.
    const admission = await options.admit?.(request, info);
    if (admission?.refusal !== undefined) {
      return { response: withLeader(admission.refusal, leaderUrl), outcome: "refused" };
    }
    if (admission?.local === true) {
      const response = withLeader(await options.local(request, info), leaderUrl);
      return { response, outcome: "local" };
    }
    const removed = options.view.removed?.() ?? null;
    if (removed !== null) {
      return { response: errorResponse(503, "NodeRemoved", removed), outcome: "removed" };
    }
    if (leaderUrl === null || request.headers.has(forwardedHeader)) {
      const message = "no leader is known yet; retry shortly";
      return { response: errorResponse(503, "NoLeader", message), outcome: "no_leader" };
    }
    const admitted = admission?.body ?? null;
    const length = Number(request.headers.get("content-length") ?? "0");
    // A body the admission check read was bounded by it (by its door's own bound).
    if (admitted === null && length > options.requestBytesMax) {
      // The leader would refuse it too; answer here without reading the body.
      return { response: await options.local(request, info), outcome: "too_large" };
    }
    const keyId = admission?.keyId;
    if (keyId === undefined) return await relay(request, leaderUrl, admitted, controller, arrival);
    // One key (a runaway worker pool's long polls, a stolen key) can't take every place.
    const held = relayedByKey.get(keyId) ?? 0;
    if (held >= perKeyMax) {
      const message = `key '${keyId}' already has ${held} requests in flight to the leader, ` +
        "its share of forwardsInFlightMax";
      return { response: errorResponse(503, "NotReady", message, leaderUrl), outcome: "busy" };
    }
    relayedByKey.set(keyId, held + 1);
    try {
      return await relay(request, leaderUrl, admitted, controller, arrival);
    } finally {
      const left = relayedByKey.get(keyId)! - 1;
      if (left === 0) relayedByKey.delete(keyId);
      else relayedByKey.set(keyId, left);
    }
  };
  return async (request, info) => {
    // Bodies read here (admission, relay, the cluster door's) count against their connection.
    bodies.noteConnection(request, info);
    const arrival = options.held?.arrival() ?? performance.now();
    const leaderUrl = options.view.leaderUrl();
    // The leader serves everything itself: only a follower needs the path (a URL parse).
    if (options.view.isLeader() || localPaths.test(new URL(request.url).pathname)) {
      const sent = asSent(request);
      // A forward's body counts against its client's connection when a member proves it.
      const client = request.headers.has(forwardedHeader)
        ? options.proof?.verified(request) ?? null
        : null;
      if (client !== null) bodies.noteVouchedConnection(sent, client);
      else if (sent !== request) bodies.carryConnection(request, sent);
      return withLeader(await options.local(sent, info), leaderUrl);
    }
    // Counted from before the admission check, which may read a body: the bound is on memory.
    if (inFlight.size >= inFlightMax) {
      counters.count("busy");
      return errorResponse(503, "NotReady", "too many requests in flight to the leader", leaderUrl);
    }
    const controller = new AbortController();
    inFlight.set(controller, leaderUrl);
    const started = performance.now();
    try {
      const { response, outcome } = await forward(request, info, leaderUrl, controller, arrival);
      counters.count(outcome);
      if (outcome === "answered") counters.answered((performance.now() - started) / 1000);
      return response;
    } finally {
      inFlight.delete(controller);
    }
  };
}
