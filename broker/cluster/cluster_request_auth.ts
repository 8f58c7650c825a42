/**
 * How a joining node proves the cluster key to the member it asks. `main.ts --join` needs two
 * HTTP requests — `GET /v1/cluster` (the group's bootstrap voters) and `POST /v1/cluster/nodes`
 * (record me, add me, promote me) — and signs both:
 *
 * ```
 * Authorization: CMQD-CLUSTER-HMAC-SHA256 Node=<id>, Timestamp=<unix s>, Nonce=<16–64 of
 *                [A-Za-z0-9_-]>, Signature=<base64 HMAC-SHA256(requestKey, S)>
 * requestKey = HMAC-SHA256(cluster key, "cmqd/cluster-request/v1\0")
 * S = "CMQD-CLUSTER-HMAC-SHA256\n" + METHOD + "\n" + path and query + "\n" + Node + "\n" +
 *     Timestamp + "\n" + Nonce + "\n" + lowercase hex SHA-256 of the body
 * ```
 *
 * A timestamp more than 300 s from the member's clock, or a (Node, Nonce) pair already used
 * with the same Timestamp, is refused (the replay cache keeps a pair while its Timestamp is
 * accepted: see `NonceCache`); a join must name the node that signed it. Why HTTP and not the peer link:
 * the joiner knows only a member's client URL, the member that answers may be a follower that
 * forwards the join to the leader (the signature covers method, path and body, so it survives
 * the relay unchanged), and the peer link carries Raft messages one way only. The request key
 * is derived apart from the peer handshake's, so neither can stand in for the other.
 *
 * `ClusterRequestDoor` answers these two requests itself when they carry this scheme, before
 * the app and its client credentials: a joining node holds the cluster key, not an access key.
 *
 * @module
 */

import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { ClusterInfo, JoinRequest } from "../../sdk/protocol.ts";
import { NonceCache } from "../auth/mod.ts";
import { BrokerError } from "../engine/mod.ts";
import {
  BodyBudget,
  bodyReadBrokerError,
  BodyReadError,
  errorBody,
  errorStatus,
} from "../http/mod.ts";

/** The `Authorization` scheme of cluster-key-signed requests. */
export const clusterRequestScheme = "CMQD-CLUSTER-HMAC-SHA256";
/** Largest difference between the signer's clock and the verifier's. */
export const clusterRequestSkewSecondsMax = 300;
/** Body bytes a signed request may carry (a join request is a few hundred). */
const clusterRequestBodyBytesMax = 16 * 1024;

const noncePattern = /^[A-Za-z0-9_-]{16,64}$/;
const nodeIdPattern = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const headerPattern = new RegExp(
  `^${clusterRequestScheme} Node=([^,\\s]+), Timestamp=(\\d{1,12}), Nonce=([^,\\s]+), ` +
    "Signature=([A-Za-z0-9+/=]{1,100})$",
);

/** The parts of a request a signature covers. */
export interface SignedRequestParts {
  /** `GET`, `POST`, … (case-insensitive). */
  method: string;
  /** Path and query, as sent (`/v1/cluster/nodes`). */
  path: string;
  /** The body bytes exactly as sent (empty for a GET). */
  body: Uint8Array;
}

function requestKey(clusterKey: Uint8Array): Uint8Array {
  return createHmac("sha256", clusterKey).update("cmqd/cluster-request/v1\0").digest();
}

function signature(
  clusterKey: Uint8Array,
  parts: SignedRequestParts,
  fields: { node: string; timestamp: string; nonce: string },
): Uint8Array {
  const bodyHash = createHash("sha256").update(parts.body).digest("hex");
  const text = [
    clusterRequestScheme,
    parts.method.toUpperCase(),
    parts.path,
    fields.node,
    fields.timestamp,
    fields.nonce,
    bodyHash,
  ].join("\n");
  return createHmac("sha256", requestKey(clusterKey)).update(text).digest();
}

/**
 * The `Authorization` value for a request `nodeId` sends with the cluster key.
 *
 * @example
 * ```ts
 * const body = new TextEncoder().encode(JSON.stringify(join));
 * const authorization = signClusterRequest(key, "n4", {
 *   method: "POST", path: "/v1/cluster/nodes", body,
 * });
 * await fetch(`${member}/v1/cluster/nodes`, { method: "POST", body, headers: { authorization } });
 * ```
 */
export function signClusterRequest(
  clusterKey: Uint8Array,
  nodeId: string,
  parts: SignedRequestParts,
  options: { nowMs?: number; nonce?: string } = {},
): string {
  const timestamp = String(Math.floor((options.nowMs ?? Date.now()) / 1000));
  const nonce = options.nonce ?? crypto.randomUUID().replaceAll("-", "");
  const mac = signature(clusterKey, parts, { node: nodeId, timestamp, nonce });
  return `${clusterRequestScheme} Node=${nodeId}, Timestamp=${timestamp}, Nonce=${nonce}, ` +
    `Signature=${btoa(String.fromCharCode(...mac))}`;
}

/**
 * Checks a signed request; returns the node that signed it, or throws `BrokerError`
 * `Unauthenticated` saying what is wrong. A good signature's nonce is remembered.
 */
export function verifyClusterRequest(
  clusterKey: Uint8Array,
  authorization: string,
  parts: SignedRequestParts,
  context: { nowMs: number; nonces: NonceCache },
): string {
  const match = headerPattern.exec(authorization);
  if (match === null) throw unauthorized(`malformed ${clusterRequestScheme} authorization`);
  const [, node, timestamp, nonce, signatureText] = match;
  if (!nodeIdPattern.test(node)) throw unauthorized("Node is not a node id");
  if (!noncePattern.test(nonce)) throw unauthorized("Nonce must be 16–64 of [A-Za-z0-9_-]");
  const skewSeconds = Math.abs(context.nowMs / 1000 - Number(timestamp));
  if (skewSeconds > clusterRequestSkewSecondsMax) {
    throw unauthorized(`Timestamp is ${Math.round(skewSeconds)} s from this node's clock`);
  }
  let given: Uint8Array;
  try {
    given = Uint8Array.from(atob(signatureText), (char) => char.charCodeAt(0));
  } catch {
    throw unauthorized("Signature is not base64");
  }
  const expected = signature(clusterKey, parts, { node, timestamp, nonce });
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw unauthorized("the signature does not match this cluster's key");
  }
  const verdict = context.nonces.remember(node, nonce, Number(timestamp), context.nowMs);
  if (verdict === "replayed") throw unauthorized("this Nonce was used already");
  if (verdict === "outOfWindow") {
    // Only after this node's clock stepped back: the pair may be forgotten, so never take it.
    throw unauthorized("Timestamp is outside the replay window; sign again");
  }
  if (verdict === "full" || verdict === "shareFull") {
    throw new BrokerError("NotReady", "too many recent signed requests; retry", {
      retryAfterSeconds: 1,
    });
  }
  return node;
}

function unauthorized(message: string): BrokerError {
  return new BrokerError("Unauthenticated", `cluster request refused: ${message}`);
}

/** What the door serves. */
export interface ClusterRequestHandlers {
  cluster(): ClusterInfo;
  join(request: JoinRequest): Promise<ClusterInfo>;
}

/**
 * Serves `GET /v1/cluster` and `POST /v1/cluster/nodes` signed with the cluster key, before the
 * app and its client credentials; every other request goes to `next` untouched.
 *
 * @example
 * ```ts
 * const door = new ClusterRequestDoor(key, { cluster: () => info(), join: (r) => membership.join(r) });
 * const handler = (request: Request) => door.handle(request, (r) => app.fetch(r));
 * ```
 */
export class ClusterRequestDoor {
  readonly #clusterKey: Uint8Array;
  readonly #handlers: ClusterRequestHandlers;
  readonly #nonces = new NonceCache({
    noncesMax: 10_000,
    timestampSkewMs: clusterRequestSkewSecondsMax * 1000,
  });
  readonly #now: () => number;
  readonly #bodies: BodyBudget;

  /** `bodies`: the node's budget of bodies being read at once (default: the door's own). */
  constructor(
    clusterKey: Uint8Array,
    handlers: ClusterRequestHandlers,
    options: { now?: () => number; bodies?: BodyBudget } = {},
  ) {
    this.#clusterKey = clusterKey;
    this.#handlers = handlers;
    this.#now = options.now ?? Date.now;
    this.#bodies = options.bodies ?? new BodyBudget();
  }

  /** Whether `request` claims this scheme (it is then this door's to answer or refuse). */
  static claims(request: Request): boolean {
    return (request.headers.get("authorization") ?? "").startsWith(clusterRequestScheme + " ");
  }

  /** Answers a cluster-signed request; passes any other to `next`. */
  async handle(
    request: Request,
    next: (request: Request) => Promise<Response>,
  ): Promise<Response> {
    if (!ClusterRequestDoor.claims(request)) return await next(request);
    try {
      const { node, body } = await this.#verify(request);
      if (request.method === "GET") return json(200, this.#handlers.cluster());
      return json(200, await this.#handlers.join(parseJoin(body, node)));
    } catch (error) {
      if (!(error instanceof BrokerError)) throw error;
      return errorResponse(error);
    }
  }

  /**
   * On a follower, before a cluster-signed join is relayed to the leader: a bad signature is
   * refused here (the leader checks again); a good one is sent on with the body read for it.
   * Its nonce is remembered here too, unlike a `/v1` request's, and that refuses no honest join:
   * a request meets each node's door once at most (a forward is not forwarded again, and one
   * whose leader changes is answered 503, never run here), and the joining node signs each attempt
   * anew (`joinCluster`), so its retry on this node, leader by then, carries a fresh nonce.
   */
  async admitForwarding(
    request: Request,
  ): Promise<{ refusal: Response } | { body: Uint8Array<ArrayBuffer> }> {
    try {
      return { body: (await this.#verify(request)).body };
    } catch (error) {
      if (!(error instanceof BrokerError)) throw error;
      return { refusal: errorResponse(error) };
    }
  }

  async #verify(request: Request): Promise<{ node: string; body: Uint8Array<ArrayBuffer> }> {
    const url = new URL(request.url);
    const route = `${request.method} ${url.pathname}`;
    if (route !== "GET /v1/cluster" && route !== "POST /v1/cluster/nodes") {
      throw unauthorized(`the cluster key signs joins only, not ${route}`);
    }
    const body = await this.#readBody(request);
    const parts = { method: request.method, path: url.pathname + url.search, body };
    const authorization = request.headers.get("authorization") ?? "";
    const node = verifyClusterRequest(this.#clusterKey, authorization, parts, {
      nowMs: this.#now(),
      nonces: this.#nonces,
    });
    return { node, body };
  }

  /**
   * The body, read within the node's budget like every door's: a stranger claims the scheme
   * without the key, so its body is bounded (refused past the bound, the rest unread), counted
   * against the budget and its connection's share while it is read, and abandoned when it stalls.
   */
  async #readBody(request: Request): Promise<Uint8Array<ArrayBuffer>> {
    try {
      return await this.#bodies.read(request, clusterRequestBodyBytesMax);
    } catch (error) {
      throw error instanceof BodyReadError ? bodyReadBrokerError(error) : error;
    }
  }
}

function parseJoin(body: Uint8Array, signer: string): JoinRequest {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new BrokerError("MalformedRequest", "the join request is not JSON");
  }
  const join = value as JoinRequest;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new BrokerError("MalformedRequest", "the join request is not a JSON object");
  }
  const unknown = Object.keys(value).find((key) =>
    !["id", "peerAddress", "clientUrl", "emptyDataDir"].includes(key)
  );
  if (unknown !== undefined) {
    throw new BrokerError("InvalidParameter", `unknown field '${unknown}'`, { field: unknown });
  }
  if (join.id !== signer) {
    throw new BrokerError("InvalidParameter", `a join signed by ${signer} must ask for ${signer}`, {
      field: "id",
    });
  }
  const { id, peerAddress, clientUrl, emptyDataDir } = join;
  if (emptyDataDir === undefined) return { id, peerAddress, clientUrl };
  if (typeof emptyDataDir !== "boolean") {
    throw new BrokerError("InvalidParameter", "must be a boolean", { field: "emptyDataDir" });
  }
  return { id, peerAddress, clientUrl, emptyDataDir };
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function errorResponse(error: BrokerError): Response {
  const requestId = crypto.randomUUID();
  const response = json(
    errorStatus[error.code],
    errorBody(error.code, error.message, {
      requestId,
      field: error.field,
    }),
  );
  response.headers.set("x-request-id", requestId);
  if (error.retryAfterSeconds !== undefined) {
    response.headers.set("retry-after", String(error.retryAfterSeconds));
  }
  return response;
}
