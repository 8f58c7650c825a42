/**
 * The push worker's HTTP client: the SDK's `Http1Transport` (HTTP/1.1 on kept-alive raw
 * connections, pooled per origin, `https:` verified) with the bounds a push needs. A push's work
 * is many small requests to few endpoints, where `fetch` costs several times more per request
 * than writing the request bytes on a kept-alive connection (measured: about 5,000 against
 * 15,000–20,000 requests/s to a local sink on a 2-core machine).
 *
 * What a push adds to the transport:
 * - `POST` only. The status is all the worker needs: the body is read (up to `bodyBytesMax`, so
 *   the connection can carry the next push) and dropped; a longer one ends the connection, and
 *   so does one still unread `bodyWaitMs` after the status arrived (the status counts: an
 *   endpoint that answers 2xx and never ends its body took the message, and must not get it
 *   again and again until the request's timeout).
 * - Never follows redirects: a `3xx` is not a `2xx`, so it is a failed push (the subscription's
 *   URL is the contract).
 * - A push that fails on a reused connection before any byte of its answer arrived is sent again
 *   once on a new connection (the server may have closed the idle one as we wrote); a push is
 *   at-least-once, so a rare repeat is allowed.
 * - Every new connection is opened by `PushDestinations` (`destinations.ts`): to a checked
 *   address, never to this node's own API or a denied network.
 * - A connection idle for `idleTimeoutMs` (4 s) is closed, sooner when the endpoint's
 *   `keep-alive: timeout=N` says it closes them itself (the transport's rule); the node closes
 *   them all when it stops leading (`close()`, which leaves the client usable).
 *
 * @module
 */
import { Http1Transport } from "../../sdk/mod.ts";
import { PushDestinations } from "./destinations.ts";
import type { PushFetch } from "./push_worker.ts";

/** The client's bounds, with their units. */
export interface HttpClientLimits {
  /** Bytes of a status line and headers. */
  headerBytesMax: number;
  /** Bytes of a response body read (and dropped) to keep the connection; longer ones close it. */
  bodyBytesMax: number;
  /** Idle connections kept, all origins together. */
  idleConnectionsMax: number;
  /** Milliseconds a body may take after its status line and headers. */
  bodyWaitMs: number;
  /**
   * Milliseconds a pooled connection stays idle before it is closed (less when the endpoint's
   * `keep-alive: timeout=N` says so: N s less 1 s).
   */
  idleTimeoutMs: number;
}

/** The defaults. */
export const httpClientLimitsDefault: HttpClientLimits = {
  headerBytesMax: 16 * 1024,
  bodyBytesMax: 64 * 1024,
  idleConnectionsMax: 1024,
  bodyWaitMs: 2_000,
  idleTimeoutMs: 4_000,
};

/**
 * Bytes each connection reads at once: a push's answer is a status line and a few headers, and up
 * to about a thousand connections each keep a buffer (it grows only for a long answer).
 */
const readBufferBytes = 4 * 1024;

/**
 * The push worker's HTTP client.
 *
 * @example
 * ```ts
 * const client = new PushHttpClient({}, new PushDestinations({ listener }));
 * const worker = new PushWorker({ source, fetch: client.fetch, clock, timers });
 * // ... at shutdown:
 * client.close();
 * ```
 */
export class PushHttpClient {
  readonly #makeTransport: () => Http1Transport;
  readonly #destinations: PushDestinations;
  #transport: Http1Transport;
  /**
   * The members the pooled connections were checked against (`membersKey`); read from the first
   * push on (the node builds this client before its member list can be read).
   */
  #membersKey: string | undefined;

  constructor(
    limits: Partial<HttpClientLimits> = {},
    destinations: PushDestinations = new PushDestinations(),
  ) {
    this.#makeTransport = () =>
      new Http1Transport({
        ...httpClientLimitsDefault,
        ...limits,
        readBufferBytes,
        resendOnStale: true,
        connectTcp: destinations.connect,
      });
    this.#destinations = destinations;
    this.#transport = this.#makeTransport();
  }

  /** Sends one POST; resolves with the status (the body is never handed out). */
  readonly fetch: PushFetch = async (url, init) => {
    if (init.method !== "POST") throw new TypeError(`only POST is sent, not ${init.method}`);
    // The members changed: a pooled connection may now reach one's API. New connections from
    // here on (each checked again); the old transport's close when their pushes end.
    const membersKey = this.#destinations.membersKey();
    if (membersKey !== this.#membersKey) {
      if (this.#membersKey !== undefined) {
        this.#transport.close();
        this.#transport = this.#makeTransport();
      }
      this.#membersKey = membersKey;
    }
    const transport = this.#transport;
    try {
      // `onHead` (the worker's) goes to the transport: told when the status arrived.
      const answer = await transport.request({ url, ...init });
      return { status: answer.status, body: null };
    } finally {
      if (transport !== this.#transport) transport.close();
    }
  };

  /** Closes the idle connections (requests in flight finish on theirs). */
  close(): void {
    this.#transport.close();
  }
}
