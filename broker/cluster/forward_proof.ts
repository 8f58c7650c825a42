/**
 * Which client connection a forwarded request came from, proven with the cluster key, so that
 * the leader counts its body against that client's share of the body budget (`BodyBudget`)
 * rather than against the follower's connection: over TLS a follower's `fetch` may carry every
 * forward of all its clients on one HTTP/2 connection, whose share (a quarter of the leader's
 * budget) all of them would then have to fit in. Counted per client, each gets the share it
 * would get sending to the leader itself, so a follower carrying many clients is not throttled,
 * while one client (a slow one's bodies, many large ones) still holds at most its own share.
 *
 * A follower that holds the cluster key names the client connection (`host:port`, as its own
 * budget counts it) in `x-cmqd-forwarded-for` and proves it in `x-cmqd-forwarded-proof`:
 *
 * ```
 * x-cmqd-forwarded-proof: Node=<id>, Timestamp=<unix s>, Signature=<base64 HMAC-SHA256(k, S)>
 * k = HMAC-SHA256(cluster key, "cmqd/forwarded-for/v1\0")
 * S = METHOD + "\n" + path and query + "\n" + Node + "\n" + Timestamp + "\n" + forwarded-for
 * ```
 *
 * The key is derived apart from the joins' and the peer handshake's, so none stands in for
 * another. The leader takes the claim only with a proof that verifies, whose Timestamp is within
 * 300 s of its clock; without one (a client's own headers, a follower without the key, another
 * cluster's) the body counts against the connection it came on, as any other. The proof covers
 * no body (the share is taken before the body is read) and no nonce: a proof replayed within its
 * window by someone who saw it (only without TLS) counts the replayer's body against the client
 * it names — one connection's share, what anyone gets by opening a connection; it never grants
 * more, and the request's own credentials are checked as always.
 *
 * @module
 */
import { createHmac, timingSafeEqual } from "node:crypto";

/** The client connection a forward came from, on the follower (`host:port`). */
export const forwardedForHeader = "x-cmqd-forwarded-for";
/** The follower's proof of `forwardedForHeader`. */
export const forwardedProofHeader = "x-cmqd-forwarded-proof";

/** Largest difference between the follower's clock and the leader's. */
const skewSecondsMax = 300;
/** Longest client connection name taken (an IPv6 address with a zone and a port fits). */
const claimLengthMax = 128;
const proofPattern =
  /^Node=([A-Za-z][A-Za-z0-9_-]{0,63}), Timestamp=(\d{1,12}), Signature=([A-Za-z0-9+/=]{1,100})$/;

/**
 * Signs (as a follower) and verifies (as the leader) the client connection of forwards.
 *
 * @example
 * ```ts
 * const proof = new ForwardProof(clusterKey, "n2");
 * proof.claim(headers, "POST", "/v1/queues/a/messages", "10.0.0.7:51000"); // follower
 * const client = proof.verified(request); // leader: "n2 10.0.0.7:51000", or null
 * ```
 */
export class ForwardProof {
  readonly #key: Uint8Array;
  readonly #nodeId: string;
  readonly #now: () => number;

  constructor(clusterKey: Uint8Array, nodeId: string, options: { now?: () => number } = {}) {
    this.#key = createHmac("sha256", clusterKey).update("cmqd/forwarded-for/v1\0").digest();
    this.#nodeId = nodeId;
    this.#now = options.now ?? Date.now;
  }

  /** Sets on `headers` the claim that the forward of `method path` came from `client`. */
  claim(headers: Headers, method: string, path: string, client: string): void {
    const timestamp = String(Math.floor(this.#now() / 1000));
    const signature = this.#sign(method, path, this.#nodeId, timestamp, client);
    headers.set(forwardedForHeader, client);
    headers.set(
      forwardedProofHeader,
      `Node=${this.#nodeId}, Timestamp=${timestamp}, Signature=${
        btoa(String.fromCharCode(...signature))
      }`,
    );
  }

  /**
   * The client connection `request` claims, named by the node that proved it (`<node>
   * <host:port>`: no direct connection's name has a space), or null when it claims none or its
   * proof does not verify.
   */
  verified(request: Request): string | null {
    const client = request.headers.get(forwardedForHeader);
    const proof = request.headers.get(forwardedProofHeader);
    if (client === null || proof === null || client.length > claimLengthMax) return null;
    const match = proofPattern.exec(proof);
    if (match === null) return null;
    const [, node, timestamp, signatureText] = match;
    if (Math.abs(this.#now() / 1000 - Number(timestamp)) > skewSecondsMax) return null;
    const url = new URL(request.url);
    const expected = this.#sign(request.method, url.pathname + url.search, node, timestamp, client);
    let given: Uint8Array;
    try {
      given = Uint8Array.from(atob(signatureText), (char) => char.charCodeAt(0));
    } catch {
      return null; // not base64
    }
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    return `${node} ${client}`;
  }

  #sign(method: string, path: string, node: string, timestamp: string, client: string): Uint8Array {
    const text = [method.toUpperCase(), path, node, timestamp, client].join("\n");
    return createHmac("sha256", this.#key).update(text).digest();
  }
}
