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
   * be), or after `maxMs`. Aborting `signal` closes every connection at once and resets what
   * is still open on it, HTTP/1.1 and HTTP/2 alike: a graceful stop first answers what waits,
   * then drains, then aborts.
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
    return options.handler(request, info);
  };
  const drain = (maxMs: number) =>
    new Promise<void>((resolve) => {
      if (inFlight === 0) return resolve();
      const timer = setTimeout(done, maxMs);
      idle.push(done);
      function done() {
        clearTimeout(timer);
        resolve();
      }
    });
  const start = (port: number) =>
    Deno.serve({
      hostname: options.hostname,
      port,
      signal,
      onListen: () => {}, // the URL is printed once the node is ready
      // With a certificate Deno offers h2 and http/1.1 by ALPN.
      ...(options.tls ?? {}),
    }, handler);
  const first = start(options.port);
  const addr = first.addr;
  const stopped = (what: string) => {
    // One line per outage, not one per attempt while it lasts.
    if (!outage) options.report(`client port ${addr.port}: ${what}; serving it again once it can`);
    outage = true;
  };
  const keepServing = async () => {
    let server: Deno.HttpServer<Deno.NetAddr> | null = first;
    for (;;) {
      if (server !== null) {
        try {
          await server.finished;
          if (signal.aborted) return;
          stopped("the server stopped");
        } catch (error) {
          if (signal.aborted) return;
          stopped(`stopped accepting connections (${(error as Error).message})`);
        }
      }
      await pause(retryMs, signal);
      if (signal.aborted) return;
      try {
        server = start(addr.port);
      } catch (error) {
        server = null;
        stopped(`cannot listen (${(error as Error).message})`);
      }
    }
  };
  return { addr, finished: keepServing(), drain };
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
