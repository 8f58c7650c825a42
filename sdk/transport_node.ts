/**
 * An `HttpTransport` on `node:http` / `node:https` with keep-alive agents: what the client uses
 * in Node, where the global `fetch` (undici) is several times slower for small requests (measured
 * on Node 20). It runs in Deno too (its Node compatibility layer), which is how it is tested.
 *
 * @module
 */
import * as http from "node:http";
import * as https from "node:https";
import { TransportError } from "./errors.ts";
import { bodyBytesMaxOf, bodyTooLarge } from "./response_body.ts";
import type { HttpRequest, HttpResponse, HttpTransport } from "./transport.ts";

/** Options of a `NodeHttpTransport`. */
export interface NodeHttpTransportOptions {
  /**
   * Open connections per host at most (requests beyond wait for one). Default: no limit, as the
   * Deno transport: a long poll holds its connection for its whole wait, so a cap shared with
   * the polls would hold deletes and lock renewals behind them (a lock could run out).
   */
  socketsPerHostMax?: number;
  /** Idle connections kept per host. Default 16. */
  idleSocketsPerHostMax?: number;
  /**
   * CA certificates (PEM) trusted for `https:` nodes. They replace Node's bundled roots (the
   * agent's `ca`), unlike `Http1Transport`'s, which Deno adds to its default roots.
   */
  caCertificates?: string[];
  /**
   * Milliseconds a pooled connection may stay idle; then it is closed. Default 4,000, as the Deno
   * transport. An answer with `keep-alive: timeout=N` lowers it for its connection to N s less 1 s
   * (`timeout=1` or `0`: not kept); that is Node's agent, which heeds the hint only under a
   * timeout of its own. A connection in use is not timed by it (a long poll waits on).
   */
  idleTimeoutMs?: number;
  /**
   * Bytes of a response body; a longer one (announced by its `content-length`, or once that many
   * arrived) ends the connection, `text()` rejects (a `TransportError`, as `Http1Transport`'s).
   * Default 256 MiB, as the Deno transport.
   */
  bodyBytesMax?: number;
}

const encoder = new TextEncoder();

/**
 * `node:http` keep-alive transport.
 *
 * @example
 * ```ts
 * import { NodeHttpTransport } from "./sdk/transport_node.ts";
 * const transport = new NodeHttpTransport({ socketsPerHostMax: 128 });
 * const client = new CmqdClient({ baseUrl: "http://127.0.0.1:8080", transport });
 * // …
 * client.close();
 * ```
 */
export class NodeHttpTransport implements HttpTransport {
  /**
   * A request and its body's `text()` settle once the signal aborts, in every phase: before the
   * request is sent, while its head is awaited, after the head (before `text()`), while the body
   * streams.
   */
  readonly settlesOnAbort = true;
  readonly #httpAgent: http.Agent;
  readonly #httpsAgent: https.Agent;
  readonly #bodyBytesMax: number;

  /**
   * Throws `RangeError` when `idleTimeoutMs` is not a positive finite number, or `bodyBytesMax`
   * not a positive number.
   */
  constructor(options: NodeHttpTransportOptions = {}) {
    const idleTimeoutMs = options.idleTimeoutMs ?? 4000;
    if (!(idleTimeoutMs > 0 && idleTimeoutMs < Infinity)) {
      throw new RangeError(`idleTimeoutMs must be a positive number of ms, not ${idleTimeoutMs}`);
    }
    const agentOptions = {
      keepAlive: true,
      // The agent sets it on a socket it keeps (lowered by a keep-alive hint) and closes a free
      // socket when it fires; on a socket in use it only emits 'timeout', which nothing heeds.
      timeout: idleTimeoutMs,
      maxSockets: options.socketsPerHostMax ?? Infinity,
      maxFreeSockets: options.idleSocketsPerHostMax ?? 16,
    };
    this.#httpAgent = new http.Agent(agentOptions);
    this.#httpsAgent = new https.Agent({ ...agentOptions, ca: options.caCertificates });
    this.#bodyBytesMax = bodyBytesMaxOf(options.bodyBytesMax);
  }

  request(request: HttpRequest): Promise<HttpResponse> {
    const url = new URL(request.url);
    const secure = url.protocol === "https:";
    const body = request.body === undefined ? undefined : encoder.encode(request.body);
    const headers: Record<string, string> = { ...request.headers };
    if (body !== undefined) headers["content-length"] = String(body.byteLength);
    const bodyBytesMax = this.#bodyBytesMax;
    return new Promise((resolve, reject) => {
      const options = { method: request.method, headers };
      const onAnswer = (incoming: http.IncomingMessage) => {
        // A server may answer (a 413 from the content-length) before it read a long body, then
        // stop reading: once the answer is read through, the rest of the request is not sent,
        // and its socket (never reusable: the server did not read the request) is closed. Else
        // it stays open, writing, and holds the process, until the server closes it.
        incoming.once("end", () => {
          if (!outgoing.writableFinished) outgoing.destroy();
        });
        request.onHead?.();
        resolve(answerOf(incoming, request.signal, bodyBytesMax));
      };
      const outgoing = secure
        ? https.request(url, { ...options, agent: this.#httpsAgent }, onAnswer)
        : http.request(url, { ...options, agent: this.#httpAgent }, onAnswer);
      const onAbort = () => outgoing.destroy(abortError(request.signal));
      request.signal.addEventListener("abort", onAbort, { once: true });
      outgoing.on("error", (error) => {
        request.signal.removeEventListener("abort", onAbort);
        reject(networkFailure(error, request.signal));
      });
      outgoing.on("close", () => request.signal.removeEventListener("abort", onAbort));
      if (request.signal.aborted) onAbort();
      else outgoing.end(body);
    });
  }

  /** Closes pooled connections (idle keep-alive sockets never hold a Node process open). */
  close(): void {
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }
}

function answerOf(
  incoming: http.IncomingMessage,
  signal: AbortSignal,
  bodyBytesMax: number,
): HttpResponse {
  // The body may be cut (an abort destroys the request, and its socket with it) before `text()`
  // is called: the failure is kept for it, and no 'error' goes unheard meanwhile.
  const cut: { error: Error | undefined } = { error: undefined };
  const onCut = (error?: Error) => cut.error ??= error ?? new Error("the response was cut off");
  incoming.on("error", onCut);
  incoming.once("aborted", () => onCut());
  return {
    status: incoming.statusCode ?? 0,
    header(name) {
      const value = incoming.headers[name.toLowerCase()];
      if (value === undefined) return null;
      return Array.isArray(value) ? value.join(", ") : value;
    },
    text: () => readText(incoming, signal, cut, bodyBytesMax),
  };
}

/**
 * The body as text. Settles once `signal` aborts, whenever that happens: before `text()` (the
 * answer may already be destroyed then, and would emit nothing more), or while it streams. A body
 * over `bytesMax` is not kept: the answer (and its connection) is destroyed, and it rejects.
 */
function readText(
  incoming: http.IncomingMessage,
  signal: AbortSignal,
  cut: { error: Error | undefined },
  bytesMax: number,
): Promise<string> {
  if (signal.aborted) return Promise.reject(abortError(signal));
  if (cut.error !== undefined) return Promise.reject(networkFailure(cut.error, signal));
  if (incoming.destroyed && !incoming.complete) {
    return Promise.reject(networkFailure(new Error("the response was cut off"), signal));
  }
  if (Number(incoming.headers["content-length"]) > bytesMax) {
    incoming.destroy();
    return Promise.reject(bodyTooLarge(bytesMax));
  }
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    let done = false;
    const onAbort = () => incoming.destroy(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      signal.removeEventListener("abort", onAbort);
      if (error !== undefined) reject(networkFailure(error, signal));
      else resolve(decode(chunks));
    };
    incoming.on("data", (chunk: Uint8Array) => {
      bytes += chunk.byteLength;
      if (bytes <= bytesMax) return void chunks.push(chunk);
      chunks.length = 0;
      finish(bodyTooLarge(bytesMax));
      incoming.destroy();
    });
    incoming.on("end", () => finish());
    incoming.on("error", (error) => finish(error));
    incoming.on("aborted", () => finish(new Error("the response was cut off")));
    // Destroyed without an error (or with one already heard): 'close' comes, 'end' never will.
    incoming.on("close", () => {
      if (incoming.complete) return;
      finish(
        signal.aborted ? abortError(signal) : cut.error ?? new Error("the response was cut off"),
      );
    });
  });
}

function decode(chunks: Uint8Array[]): string {
  if (chunks.length === 1) return new TextDecoder().decode(chunks[0]);
  const bytes = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/**
 * An error of `node:http` (a socket's, a parser's, a TLS handshake's) as a `TransportError`: they
 * all mean the request got no whole answer. The abort's own error stays as it is, and so does a
 * `TransportError` of the transport's own (a body over its bound).
 */
function networkFailure(error: Error, signal: AbortSignal): Error {
  if (signal.aborted || error instanceof TransportError) return error;
  return new TransportError(error.message, { cause: error });
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error("the request was aborted");
}
