/**
 * A real HTTP/2 client for tests: `node:http2` sessions (h2c with prior knowledge on plain TCP,
 * h2 by ALPN over TLS) behind a `fetch`-shaped function, so the SDK, the CMQ test client and the
 * SigV4 form helper run unchanged over many streams of ONE connection. A request's body is
 * written in DATA frames as its stream yields them (no `content-length` unless the caller sets
 * one); aborting the request's signal resets its stream (RST_STREAM CANCEL), as a client that
 * gives up does.
 *
 * Test-only.
 *
 * @module
 */
import http2 from "node:http2";

/** One HTTP/2 connection and a `fetch` over its streams. */
export interface Http2Connection {
  session: http2.ClientHttp2Session;
  /** Sends a request as a new stream of `session` (its URL's origin must be the session's). */
  fetch: typeof fetch;
  /** Streams the session opened so far (each `fetch` opens one). */
  streamsOpened(): number;
  /** Closes the session (streams in flight are left to finish, as `session.close` does). */
  close(): Promise<void>;
}

/** Headers HTTP/2 forbids (connection-specific) or carries as pseudo-headers instead. */
const notSent = new Set(["host", "connection", "keep-alive", "transfer-encoding", "upgrade"]);

/**
 * Opens an HTTP/2 connection to `origin` (`http://` = h2c with prior knowledge, `https://` = TLS
 * offering h2 by ALPN, trusting `ca`), and resolves once it is connected.
 */
export async function connectHttp2(origin: string, ca?: string): Promise<Http2Connection> {
  const session = http2.connect(origin, ca === undefined ? {} : { ca });
  // Connected, and the server's SETTINGS (its stream limit) arrived.
  await Promise.all([
    new Promise<void>((resolve, reject) => {
      session.once("connect", () => resolve());
      session.once("error", reject);
    }),
    new Promise<void>((resolve) => session.once("remoteSettings", () => resolve())),
  ]);
  // An error after connecting surfaces on the streams in flight; keep it from being unhandled.
  session.on("error", () => {});
  let opened = 0;
  const fetchOverSession = async (
    input: RequestInfo | URL,
    init?: RequestInit,
  ): Promise<Response> => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const headers: Record<string, string> = {
      ":method": request.method,
      ":path": url.pathname + url.search,
      ":authority": url.host,
      ":scheme": url.protocol.replace(":", ""),
    };
    for (const [name, value] of request.headers) {
      if (!notSent.has(name)) headers[name] = value;
    }
    const hasBody = request.body !== null;
    const stream = session.request(headers, { endStream: !hasBody });
    opened++;
    const signal = request.signal;
    const reset = () => {
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
    };
    if (signal.aborted) reset();
    signal.addEventListener("abort", reset, { once: true });
    stream.on("close", () => signal.removeEventListener("abort", reset));
    if (hasBody) void pumpBody(request.body!, stream);
    const head = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      stream.once("response", resolve);
      stream.once("error", reject);
      stream.once("close", () => reject(signal.reason ?? new Error("stream closed unanswered")));
    });
    const status = Number(head[":status"]);
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(head)) {
      if (name.startsWith(":") || value === undefined) continue;
      for (const each of Array.isArray(value) ? value : [value]) {
        responseHeaders.append(name, String(each));
      }
    }
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        stream.on("data", (chunk: Uint8Array) => controller.enqueue(new Uint8Array(chunk)));
        stream.once("end", () => controller.close());
        stream.once("error", (error) => controller.error(error));
        stream.once("close", () => {
          try {
            controller.error(signal.reason ?? new Error("stream reset before its end"));
          } catch { /* already closed */ }
        });
      },
      cancel: reset,
    });
    const nullBody = status === 204 || status === 304 || request.method === "HEAD";
    if (nullBody) await body.cancel();
    return new Response(nullBody ? null : body, { status, headers: responseHeaders });
  };
  return {
    session,
    fetch: fetchOverSession as typeof fetch,
    streamsOpened: () => opened,
    close: () =>
      new Promise<void>((resolve) => {
        // A session the server already ended calls no callback.
        if (session.closed || session.destroyed) resolve();
        else session.close(() => resolve());
      }),
  };
}

/** Writes `body` to `stream` chunk by chunk (DATA frames) and ends it. */
async function pumpBody(
  body: ReadableStream<Uint8Array>,
  stream: http2.ClientHttp2Stream,
): Promise<void> {
  try {
    for await (const chunk of body) {
      if (stream.closed) return;
      if (!stream.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            stream.off("drain", done);
            stream.off("close", done);
            resolve();
          };
          stream.on("drain", done);
          stream.on("close", done);
        });
      }
    }
    if (!stream.closed) stream.end();
  } catch {
    if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
  }
}
