/**
 * The client port's HTTP server, kept serving. `Deno.serve` stops for good when accepting a
 * connection fails — `EMFILE` once the process's file descriptors are used up, which anyone who
 * can reach the port causes by opening idle connections, no credentials needed — and rejects its
 * `finished` promise: left alone, that rejection ended the process. Here the server is started
 * again on the same port after a pause (the connections it already had keep being served), until
 * it listens and accepts again, so the node stays a member and serves once descriptors are free.
 *
 * @module
 */

/** Options of `serveClients`. */
export interface ClientServerOptions {
  hostname: string;
  /** The port (0 picks one; a restart listens on the one picked). */
  port: number;
  /** The certificate and key in PEM, or null for plain HTTP. */
  tls: { cert: string; key: string } | null;
  /** Stops serving (a graceful shutdown); no restart after it. */
  signal: AbortSignal;
  handler: Deno.ServeHandler<Deno.NetAddr>;
  /** Where a stop and a restart are told (one line each). */
  report: (line: string) => void;
  /** The pause before each attempt to serve again (default 1,000 ms). */
  retryMs?: number;
}

/** The client port's server: its address, and `finished` once stopped by `signal`. */
export interface ClientServer {
  readonly addr: Deno.NetAddr;
  /** Resolves once `signal` stopped the server serving then (never rejects). */
  readonly finished: Promise<void>;
  /**
   * Resolves once no request is in flight (each counts until its answer was sent or could not
   * be), or after `maxMs`. From its call on, a new request is answered `503 NotReady` (with
   * `Retry-After`; nothing of it is carried out) instead of reaching the handler: a keep-alive
   * client's next write would otherwise be accepted and then cut by the abort, unanswered.
   * Aborting `signal` closes every connection at once and resets what is still open on it,
   * HTTP/1.1 and HTTP/2 alike: a graceful stop first answers what waits, then drains, then
   * aborts. Once nothing is in flight the server is shut down (its answers written out, its
   * connections closed; not before: `Deno.HttpServer.shutdown` resets HTTP/2 streams still open).
   */
  drain(maxMs: number): Promise<void>;
}

/**
 * Serves `options.handler` on the client port and serves it again whenever the server stops by
 * itself. The first listen throws as `Deno.serve` does (a port in use, a certificate Deno
 * refuses): the caller decides; later failures to listen are retried.
 */
export function serveClients(options: ClientServerOptions): ClientServer {
  const retryMs = options.retryMs ?? 1000;
  const { signal } = options;
  // Set when the server stopped by itself; the first request served again ends the outage.
  let outage = false;
  let inFlight = 0;
  /** Called once nothing is in flight. */
  let idle: (() => void)[] = [];
  const settled = () => {
    inFlight--;
    if (inFlight > 0 || idle.length === 0) return;
    const waiting = idle;
    idle = [];
    for (const resolve of waiting) resolve();
  };
  const handler: Deno.ServeHandler<Deno.NetAddr> = (request, info) => {
    if (outage) {
      outage = false;
      options.report(`client port ${addr.port}: serving again`);
    }
    inFlight++;
    // Settles once the answer was sent, or could not be (rejects then): never left pending.
    info.completed.then(settled, settled);
    // Counted too: the drain waits until the refusal was sent.
    if (draining) return shuttingDown();
    return options.handler(request, info);
  };
  /** Set once a drain began: requests are refused from then on. */
  let draining = false;
  // The server serving now; null while an outage lasts.
  let current: Deno.HttpServer<Deno.NetAddr> | null = null;
  const drain = (maxMs: number) =>
    new Promise<void>((resolve) => {
      draining = true;
      const timer = setTimeout(done, maxMs);
      // `completed` says the answer left the handler, not that it reached the client: aborting
      // then drops what is not yet written. Once nothing is in flight (no HTTP/2 stream open,
      // which `shutdown` would reset), the server's own shutdown writes it out and closes the
      // connections.
      const closeGracefully = () => {
        if (current === null) return done();
        current.shutdown().then(done, done);
      };
      if (inFlight === 0) closeGracefully();
      else idle.push(closeGracefully);
      function done() {
        clearTimeout(timer);
        resolve();
      }
    });
  const start = (port: number) => {
    // Deno.serve's own signal, aborted with `signal` only while the server is open: aborting it
    // once `shutdown` has closed the server throws (BadResource) and ends the process.
    const serving = new AbortController();
    const abort = () => serving.abort();
    signal.addEventListener("abort", abort, { once: true });
    const server = Deno.serve({
      hostname: options.hostname,
      port,
      signal: serving.signal,
      onListen: () => {}, // the URL is printed once the node is ready
      // With a certificate Deno offers h2 and http/1.1 by ALPN.
      ...(options.tls ?? {}),
    }, handler);
    const closed = () => signal.removeEventListener("abort", abort);
    server.finished.then(closed, closed);
    return server;
  };
  const first = start(options.port);
  const addr = first.addr;
  current = first;
  const stopped = (what: string) => {
    // One line per outage, not one per attempt while it lasts.
    if (!outage) options.report(`client port ${addr.port}: ${what}; serving it again once it can`);
    outage = true;
  };
  const keepServing = async () => {
    for (;;) {
      if (current !== null) {
        try {
          await current.finished;
          if (signal.aborted || draining) return;
          stopped("the server stopped");
        } catch (error) {
          if (signal.aborted || draining) return;
          stopped(`stopped accepting connections (${(error as Error).message})`);
        }
      }
      current = null;
      await pause(retryMs, signal);
      if (signal.aborted || draining) return;
      try {
        current = start(addr.port);
      } catch (error) {
        current = null;
        stopped(`cannot listen (${(error as Error).message})`);
      }
    }
  };
  return { addr, finished: keepServing(), drain };
}

/**
 * The answer to a request that comes while the port drains: nothing of it is carried out, and a
 * client retries it (on another node). An HTTP/1.1 connection is closed after it (Deno leaves the
 * header out over HTTP/2), so a keep-alive client stops sending on a connection about to be cut.
 */
function shuttingDown(): Response {
  return notReady("the node is shutting down; nothing was done: retry (another node)", {
    connection: "close",
  });
}

/**
 * The answer to a request that comes before the node serves (its log opening, its join under
 * way): nothing of it is carried out, and a client retries it; `/healthz` answers 200 `starting`. Named by a request id like every
 * answer of the API (it had none: an empty `requestId` and no `x-request-id`).
 */
export function startingAnswer(request: Request): Response {
  // Alive, not ready: a liveness probe that saw 503 here would restart a node in a long join
  // or recovery, which then starts over. `/readyz` says when it serves.
  // HEAD too: the served `/healthz` answers it (as GET, without the body), and a probe by HEAD
  // that got 503 here would restart the node all the same.
  const method = request.method;
  if ((method === "GET" || method === "HEAD") && new URL(request.url).pathname === "/healthz") {
    const requestId = crypto.randomUUID();
    return Response.json({ status: "starting" }, { headers: { "x-request-id": requestId } });
  }
  return notReady("the node is starting; nothing was done: retry", {});
}

function notReady(message: string, headers: Record<string, string>): Response {
  const requestId = crypto.randomUUID();
  return Response.json({ error: { code: "NotReady", message, requestId } }, {
    status: 503,
    headers: { "retry-after": "1", ...headers, "x-request-id": requestId },
  });
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
