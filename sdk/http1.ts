/**
 * `Http1Transport`: an HTTP/1.1 client on Deno's own TCP and TLS connections, kept alive and
 * pooled per origin. It is the client's default transport in Deno (`defaultTransport()`), and the
 * broker's push worker sends with it. The reason is cost: a small request written on a kept-alive
 * connection takes about half the CPU of the same request through `fetch` (measured on a 2-core
 * machine: 132–163 µs against 268–346 µs per sequential request), and a queue client is mostly
 * small requests to few nodes.
 *
 * What it does:
 * - Any method. The request line, `host`, the caller's headers (`host`, `content-length`,
 *   `connection` and `transfer-encoding` from the caller are dropped: the transport frames the
 *   request), `content-length` when there is a body (and for `POST`, `PUT` and `PATCH` without
 *   one), then the body: one write.
 * - Reads the answer while the request is written, so a server that answers before it read a long
 *   body and stops reading is heard at once; then the rest of the request is not sent and the
 *   connection is not reused.
 * - Reads the status line and headers (at most `headerBytesMax`; lines end with CRLF or a bare
 *   LF), skips `1xx` answers, calls the request's `onHead`, then reads the whole body:
 *   `content-length`, `chunked` (trailers dropped) or delimited by the close. Differing or
 *   unreadable `content-length` values fail the request at once (`http1_reader.ts` has the rules).
 *   A body over `bodyBytesMax`, or cut off, ends the connection; the status and headers still
 *   arrive and `text()` rejects. With `bodyWaitMs`, a body not read whole that long after its head
 *   is cut off the same way (for callers that need only the status).
 * - Reuses a connection when the answer allows it (HTTP/1.1, no `connection: close`, a delimited
 *   body, nothing after it). While a connection is idle a read stays pending on it, so a server's
 *   close is seen before the connection is taken again, as `fetch` does; the pending read does not
 *   keep the process alive.
 * - Closes a connection idle for `idleTimeoutMs` (4 s), or for less when its answer said
 *   `keep-alive: timeout=N`: N s less a second, at least half a second (servers close idle
 *   connections themselves, Node's after 5 s, nginx's after 75 s, and a request written as they do
 *   is lost; undici closes after 4 s alike). One timer serves the pool, armed for the earliest
 *   expiry; it does not keep the process alive, and `close()` clears it. A connection found past
 *   its time when taken (the timer late on a busy loop) is closed, not used.
 * - A failed connect is reported as `tcp connect error: …`, which `isConnectFailure` reads as
 *   "never sent". Any later failure may have reached the server, and is not sent again (unless
 *   `resendOnStale`, for callers whose requests may repeat).
 * - The request's signal aborts it by closing its connection.
 * - Not done: redirects (a `3xx` is an answer), proxies, compression, HTTP/2. `defaultTransport()`
 *   leaves the choice to `fetch` when a proxy variable is set; pass a `FetchTransport` for the rest.
 *
 * It reaches Deno's API through a few locally declared types, so the npm build (checked against
 * Node's types) compiles it; it is only constructed in Deno.
 *
 * @module
 */
import {
  type Body,
  type Connection,
  type Head,
  type NetConn,
  ReadFailure,
  ResponseReader,
} from "./http1_reader.ts";
import { TransportError } from "./errors.ts";
import { bodyBytesMaxOf } from "./response_body.ts";
import type { HttpRequest, HttpResponse, HttpTransport } from "./transport.ts";

export type { NetConn } from "./http1_reader.ts";

/** Options of an `Http1Transport`. */
export interface Http1TransportOptions {
  /** Extra CA certificates (PEM) trusted for `https:` nodes, besides the runtime's roots. */
  caCertificates?: string[];
  /** Bytes of a status line and headers. Default 64 KiB. */
  headerBytesMax?: number;
  /**
   * Bytes of a response body; a longer one ends the connection, `text()` rejects (a
   * `TransportError`, as `NodeHttpTransport`'s). Default 256 MiB.
   */
  bodyBytesMax?: number;
  /** Idle connections kept, all origins together. Default 1024. */
  idleConnectionsMax?: number;
  /**
   * Milliseconds a pooled connection may stay idle; then it is closed. Default 4,000. An answer
   * with `keep-alive: timeout=N` lowers it for its connection to N s less 1 s, at least 500 ms
   * (`timeout=0`: not kept); an unreadable `timeout` is ignored.
   */
  idleTimeoutMs?: number;
  /**
   * Milliseconds a body may take once its head arrived; then the connection is closed and the
   * answer keeps its status (`text()` rejects). Default none: the request's signal bounds it.
   */
  bodyWaitMs?: number;
  /** Bytes of each connection's read buffer (it grows for a long answer). Default 16 KiB. */
  readBufferBytes?: number;
  /**
   * Send a request again, once, on a new connection when a reused one failed before any byte of
   * its answer arrived. Only for requests that may arrive twice. Default false.
   */
  resendOnStale?: boolean;
  /**
   * Opens a request's TCP connection instead of `Deno.connect` to the URL's host and port; for
   * `https:` TLS then starts on it with the URL's host name (server name and certificate check).
   * Its errors reach the caller as they are. The broker's push worker connects through it to the
   * address it checked. Default: `Deno.connect` (`Deno.connectTls` for `https:`).
   */
  connectTcp?: (hostname: string, port: number, signal: AbortSignal) => Promise<NetConn>;
}

/** A request to `Http1Transport`: an `HttpRequest` whose body may also be bytes. */
export interface Http1Request extends Omit<HttpRequest, "body"> {
  body?: string | Uint8Array;
}

/** An answer of `Http1Transport`: every header, and the body as bytes as well as text. */
export interface Http1Response extends HttpResponse {
  /** Lower-case names; a repeated header's values joined with ", ". */
  readonly headers: ReadonlyMap<string, string>;
  /** The body's bytes (rejects as `text()` does). */
  bytes(): Promise<Uint8Array<ArrayBuffer>>;
}

/** The calls of Deno's API the transport makes, typed here (see the module's note). */
interface DenoNet {
  /** Unrefs a timer where timers are numbers (Deno 2.9's and Node's have `unref()`). */
  unrefTimer?(id: number): void;
  connect(options: { hostname: string; port: number }): Promise<NetConn>;
  connectTls(options: { hostname: string; port: number; caCerts?: string[] }): Promise<NetConn>;
  startTls(conn: NetConn, options: { hostname: string; caCerts?: string[] }): Promise<NetConn>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const lineBreak = /[\r\n]/;
const methodToken = /^[A-Z]+$/;
/** Headers the transport writes itself. */
const framingHeaders = new Set(["host", "content-length", "connection", "transfer-encoding"]);
/** Methods that carry `content-length: 0` when they have no body. */
const bodyMethods = new Set(["POST", "PUT", "PATCH"]);
/** Parsed URLs kept (a client's URLs are few: a path per queue and operation). */
const parsedUrlsMax = 4096;
/** A connection's buffer grown past this is replaced by a default one when it goes idle. */
const keptBufferBytesMax = 256 * 1024;
/** Connect failures that are not about the network (reported as they are). */
const permissionErrors = new Set(["NotCapable", "PermissionDenied"]);
/** A `keep-alive` header's `timeout` parameter: whole seconds, maybe quoted. */
const keepAliveTimeout = /^\s*timeout\s*=\s*("?)(\d{1,9})\1\s*$/i;
/** Taken off a server's `keep-alive` timeout: our close must come before its own. */
const keepAliveMarginMs = 1000;
/** The shortest idle time a `keep-alive` timeout leaves a connection (when N is 1 s). */
const keepAliveIdleMsMin = 500;
/** After a sweep, the next one waits at least this long (many expiries close together). */
const sweepGapMs = 50;
/** The longest delay a timer takes (a longer one fires at once): the sweep re-arms instead. */
const timerMsMax = 2 ** 31 - 1;

/** A pooled (or poolable) connection. */
interface PooledConnection extends Connection {
  /** While idle: when it is closed unused (`performance.now()` time). */
  idleUntil: number;
}

/** A URL, parsed once: where to connect and what the request line and `host` say. */
interface Target {
  origin: string;
  hostname: string;
  port: number;
  secure: boolean;
  /** ` <path> HTTP/1.1\r\nhost: <host>\r\n`, after the method. */
  line: string;
}

/**
 * HTTP/1.1 keep-alive transport on raw connections (Deno only).
 *
 * @example
 * ```ts
 * const transport = new Http1Transport({ caCertificates: [await Deno.readTextFile("ca.pem")] });
 * const client = new CmqdClient({ baseUrl: "https://queue.internal:8443", transport });
 * // ...
 * client.close();
 * ```
 */
export class Http1Transport implements HttpTransport {
  /** Its signal closes the request's connection, which settles both (see `HttpTransport`). */
  readonly settlesOnAbort = true;
  readonly #net: DenoNet;
  readonly #caCerts: string[] | undefined;
  readonly #headerBytesMax: number;
  readonly #bodyBytesMax: number;
  readonly #idleConnectionsMax: number;
  readonly #readBufferBytes: number;
  readonly #resendOnStale: boolean;
  readonly #bodyWaitMs: number | undefined;
  readonly #connectTcp: Http1TransportOptions["connectTcp"];
  readonly #idleTimeoutMs: number;
  readonly #idle = new Map<string, PooledConnection[]>();
  readonly #targets = new Map<string, Target>();
  #idleCount = 0;
  /** The pool's one timer: closes the connections past their idle time (see `#sweep`). */
  #sweepTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the sweep timer fires (Infinity when it is not armed). */
  #sweepAt = Infinity;

  constructor(options: Http1TransportOptions = {}) {
    const net = (globalThis as unknown as { Deno?: DenoNet }).Deno;
    if (net === undefined) throw new TypeError("Http1Transport runs in Deno only");
    this.#net = net;
    this.#caCerts = options.caCertificates;
    this.#headerBytesMax = options.headerBytesMax ?? 64 * 1024;
    this.#bodyBytesMax = bodyBytesMaxOf(options.bodyBytesMax);
    this.#idleConnectionsMax = options.idleConnectionsMax ?? 1024;
    const idleTimeoutMs = options.idleTimeoutMs ?? 4000;
    if (!(idleTimeoutMs > 0 && idleTimeoutMs < Infinity)) {
      throw new RangeError(`idleTimeoutMs must be a positive number of ms, not ${idleTimeoutMs}`);
    }
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#readBufferBytes = options.readBufferBytes ?? 16 * 1024;
    this.#resendOnStale = options.resendOnStale ?? false;
    this.#bodyWaitMs = options.bodyWaitMs;
    this.#connectTcp = options.connectTcp;
  }

  async request(request: Http1Request): Promise<Http1Response> {
    const target = this.#target(request.url);
    const bytes = requestBytes(request, target);
    const { signal } = request;
    if (signal.aborted) throw abortError(signal);
    const reused = this.#take(target.origin);
    if (reused !== undefined) {
      try {
        return await this.#exchange(reused, bytes, request, signal);
      } catch (error) {
        const stale = error instanceof ReadFailure && !error.started;
        if (!this.#resendOnStale || !stale || signal.aborted) throw error;
      }
    }
    const connection: PooledConnection = {
      conn: await connect(this.#net, target, this.#caCerts, signal, this.#connectTcp),
      origin: target.origin,
      buffer: new Uint8Array(this.#readBufferBytes),
      start: 0,
      end: 0,
      idle: false,
      idleRead: undefined,
      idleUntil: 0,
    };
    return await this.#exchange(connection, bytes, request, signal);
  }

  /** Origins with idle connections pooled now (each holds one or more). */
  get idleOrigins(): number {
    return this.#idle.size;
  }

  /**
   * Closes the idle connections (requests in flight finish on theirs) and clears the idle timer.
   * The transport stays usable: a later answer's connection is pooled again.
   */
  close(): void {
    if (this.#sweepTimer !== undefined) clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
    this.#sweepAt = Infinity;
    for (const list of this.#idle.values()) {
      for (const connection of list) {
        connection.idle = false;
        closeQuietly(connection.conn);
      }
    }
    this.#idle.clear();
    this.#idleCount = 0;
  }

  #target(url: string): Target {
    let target = this.#targets.get(url);
    if (target !== undefined) return target;
    const parsed = new URL(url);
    const secure = parsed.protocol === "https:";
    if (!secure && parsed.protocol !== "http:") {
      throw new TypeError(`not an http(s) URL: ${parsed.protocol}`);
    }
    target = {
      origin: `${parsed.protocol}//${parsed.host}`,
      hostname: parsed.hostname.replace(/^\[(.*)\]$/, "$1"),
      // An explicit port 0 stays 0 (the connect fails), never the scheme's default port.
      port: parsed.port === "" ? (secure ? 443 : 80) : Number(parsed.port),
      secure,
      line: ` ${parsed.pathname}${parsed.search} HTTP/1.1\r\nhost: ${parsed.host}\r\n`,
    };
    if (this.#targets.size >= parsedUrlsMax) this.#targets.clear();
    this.#targets.set(url, target);
    return target;
  }

  #take(origin: string): PooledConnection | undefined {
    const list = this.#idle.get(origin);
    if (list === undefined) return undefined;
    const now = performance.now();
    let connection: PooledConnection | undefined;
    while ((connection = list.pop()) !== undefined) {
      this.#idleCount--;
      connection.idle = false;
      if (connection.idleUntil > now) break;
      // Past its idle time (the sweep is late): the server may be closing it as we write.
      closeQuietly(connection.conn);
    }
    // An origin's entry goes with its last idle connection: a push worker meets ever new origins
    // (subscriptions come and go), and an empty list kept per origin ever seen grew without end.
    if (list.length === 0) this.#idle.delete(origin);
    connection?.conn.ref?.();
    return connection;
  }

  /**
   * Pools a connection whose answer was read through, with a read pending to see it close, for
   * `idleMs` at most.
   */
  #keep(connection: PooledConnection, idleMs: number): void {
    const full = this.#idleCount >= this.#idleConnectionsMax;
    if (full || idleMs <= 0 || connection.start !== connection.end) {
      closeQuietly(connection.conn);
      return;
    }
    if (connection.buffer.length > keptBufferBytesMax) {
      connection.buffer = new Uint8Array(this.#readBufferBytes);
    }
    connection.start = 0;
    connection.end = 0;
    connection.idle = true;
    const read = connection.conn.read(connection.buffer);
    connection.idleRead = read;
    connection.conn.unref?.();
    // Bytes or an end while idle: the server closed it (or broke the protocol). Drop it.
    const onIdleEnd = () => {
      if (connection.idle) this.#drop(connection);
    };
    read.then(onIdleEnd, onIdleEnd);
    let list = this.#idle.get(connection.origin);
    if (list === undefined) this.#idle.set(connection.origin, list = []);
    list.push(connection);
    this.#idleCount++;
    const now = performance.now();
    connection.idleUntil = now + idleMs;
    if (connection.idleUntil < this.#sweepAt) this.#armSweep(connection.idleUntil, now);
  }

  #armSweep(at: number, now: number): void {
    if (this.#sweepTimer !== undefined) clearTimeout(this.#sweepTimer);
    this.#sweepAt = at;
    const delayMs = Math.min(timerMsMax, Math.max(0, Math.ceil(at - now)));
    const timer = setTimeout(() => this.#sweep(), delayMs);
    this.#sweepTimer = timer;
    // Idle connections never keep the process alive, nor does their timer.
    if (typeof timer === "number") this.#net.unrefTimer?.(timer);
    else (timer as { unref?: () => void }).unref?.();
  }

  /** Closes the idle connections past their time; re-arms for the earliest left. */
  #sweep(): void {
    this.#sweepTimer = undefined;
    this.#sweepAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const [origin, list] of this.#idle) {
      let kept = 0;
      for (const connection of list) {
        if (connection.idleUntil > now) {
          list[kept++] = connection;
          if (connection.idleUntil < next) next = connection.idleUntil;
          continue;
        }
        connection.idle = false;
        closeQuietly(connection.conn);
        this.#idleCount--;
      }
      list.length = kept;
      if (kept === 0) this.#idle.delete(origin);
    }
    if (next !== Infinity) this.#armSweep(Math.max(next, now + sweepGapMs), now);
  }

  #drop(connection: PooledConnection): void {
    connection.idle = false;
    closeQuietly(connection.conn);
    const list = this.#idle.get(connection.origin);
    const at = list?.indexOf(connection) ?? -1;
    if (at < 0) return;
    list!.splice(at, 1);
    if (list!.length === 0) this.#idle.delete(connection.origin);
    this.#idleCount--;
  }

  /**
   * Writes the request and reads its answer at the same time: a server may answer (a 413, or a
   * 2xx) before it has read a long body, then stop reading or close. Waiting for the write to end
   * first would wait on a full socket buffer until the signal. A whole answer that arrives before
   * the request was written through is the answer: the write is given up (the connection closed,
   * never reused).
   */
  async #exchange(
    connection: PooledConnection,
    bytes: Uint8Array,
    { method, onHead }: Http1Request,
    signal: AbortSignal,
  ): Promise<Http1Response> {
    // Aborted since the connection was made (a listener added now would never fire).
    if (signal.aborted) {
      closeQuietly(connection.conn);
      throw abortError(signal);
    }
    const onAbort = () => closeQuietly(connection.conn);
    signal.addEventListener("abort", onAbort, { once: true });
    let reusable = false;
    let idleMs = this.#idleTimeoutMs;
    let written = false;
    let writeError: unknown;
    const writing = writeAll(connection.conn, bytes).then(
      () => void (written = true),
      (error) => void (writeError = error ?? new Error("write failed")),
    );
    try {
      const reader = new ResponseReader(connection, this.#headerBytesMax);
      let head: Head;
      try {
        head = await reader.head();
        while (head.status >= 100 && head.status < 200) head = await reader.head();
      } catch (error) {
        // Nothing of an answer arrived and the write failed too: report the write (a failed
        // write ends the connection, so the read ends with it, and the request was not sent).
        if (error instanceof ReadFailure && !error.started && !signal.aborted) {
          await writing;
          if (writeError !== undefined) throw new ReadFailure(`write failed: ${writeError}`, false);
        }
        throw error;
      }
      onHead?.();
      const cut = this.#bodyWaitMs === undefined
        ? undefined
        : setTimeout(() => closeQuietly(connection.conn), this.#bodyWaitMs);
      const body = await reader.body(head, method === "HEAD", this.#bodyBytesMax)
        .finally(() => clearTimeout(cut));
      reusable = "bytes" in body && body.reusable && written;
      if (reusable) idleMs = keptIdleMs(head.headers.get("keep-alive"), idleMs);
      if (signal.aborted) throw abortError(signal);
      return answerOf(head, body);
    } catch (error) {
      if (signal.aborted) throw abortError(signal);
      throw error;
    } finally {
      signal.removeEventListener("abort", onAbort);
      // Closing also ends a write still waiting on a server that stopped reading.
      if (reusable && !signal.aborted) this.#keep(connection, idleMs);
      else closeQuietly(connection.conn);
    }
  }
}

/**
 * How long a connection whose answer carried `keepAlive` (a `keep-alive` header) may stay idle:
 * `idleMs`, or less when the header's `timeout=N` says the server closes it sooner (N s less a
 * second, at least half a second; 0 when N is 0). A `timeout` not a whole number of seconds is
 * ignored; of several, the shortest counts.
 */
function keptIdleMs(keepAlive: string | undefined, idleMs: number): number {
  if (keepAlive === undefined) return idleMs;
  for (const parameter of keepAlive.split(",")) {
    const timeout = keepAliveTimeout.exec(parameter);
    if (timeout === null) continue;
    const seconds = Number(timeout[2]);
    const allowed = seconds === 0
      ? 0
      : Math.max(keepAliveIdleMsMin, seconds * 1000 - keepAliveMarginMs);
    if (allowed < idleMs) idleMs = allowed;
  }
  return idleMs;
}

function answerOf(head: Head, body: Body): Http1Response {
  return {
    status: head.status,
    headers: head.headers,
    header: (name) => head.headers.get(name.toLowerCase()) ?? null,
    text: () =>
      "bytes" in body ? Promise.resolve(decoder.decode(body.bytes)) : Promise.reject(body.error),
    bytes: () => "bytes" in body ? Promise.resolve(body.bytes) : Promise.reject(body.error),
  };
}

/** The bytes of one request: head and body in one buffer, so one write sends both. */
function requestBytes(request: Http1Request, target: Target): Uint8Array {
  const { method, body } = request;
  if (!methodToken.test(method)) throw new TypeError(`bad method ${method}`);
  let head = method + target.line;
  for (const name in request.headers) {
    const value = request.headers[name];
    if (lineBreak.test(name) || lineBreak.test(value)) throw new TypeError(`bad header ${name}`);
    if (framingHeaders.has(name.toLowerCase())) continue;
    head += `${name}: ${value}\r\n`;
  }
  if (body === undefined && !bodyMethods.has(method)) return encoder.encode(head + "\r\n");
  if (body instanceof Uint8Array) return joinedBytes(head, body);
  const text = body ?? "";
  // Most requests are ASCII throughout, where bytes = code units: one native call encodes head
  // and body together when the guess of the body's length holds (the buffer fills exactly).
  const guess = `${head}content-length: ${text.length}\r\n\r\n${text}`;
  const bytes = new Uint8Array(guess.length);
  if (encoder.encodeInto(guess, bytes).read === guess.length) return bytes;
  return joinedBytes(head, encoder.encode(text));
}

/** The head, `content-length` and the body's bytes, in one buffer. */
function joinedBytes(head: string, body: Uint8Array): Uint8Array {
  const headBytes = encoder.encode(`${head}content-length: ${body.length}\r\n\r\n`);
  const all = new Uint8Array(headBytes.length + body.length);
  all.set(headBytes);
  all.set(body, headBytes.length);
  return all;
}

async function connect(
  net: DenoNet,
  target: Target,
  caCerts: string[] | undefined,
  signal: AbortSignal,
  connectTcp: Http1TransportOptions["connectTcp"],
): Promise<NetConn> {
  const { hostname, port } = target;
  const connecting = connectTcp !== undefined
    ? connectTcp(hostname, port, signal).then((conn) =>
      target.secure ? startTls(net, conn, hostname, caCerts) : conn
    )
    : target.secure
    ? net.connectTls({ hostname, port, caCerts })
    : net.connect({ hostname, port });
  // A connect can't be cancelled: if the signal fires first, the connection is closed on arrival.
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      connecting.then(closeQuietly, () => {});
      reject(abortError(signal));
    };
  });
  aborted.catch(() => {});
  if (signal.aborted) onAbort();
  signal.addEventListener("abort", onAbort, { once: true });
  let conn: NetConn;
  try {
    conn = await Promise.race([connecting, aborted]);
  } catch (error) {
    const asItIs = connectTcp !== undefined || permissionErrors.has((error as Error)?.name);
    if (signal.aborted || asItIs) throw error;
    throw new TransportError(
      `tcp connect error: ${hostname}:${port}: ${(error as Error)?.message}`,
      { cause: error },
    );
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  if (signal.aborted) {
    // Aborted as the connect ended: `onAbort` has closed the connection already.
    closeQuietly(conn);
    throw abortError(signal);
  }
  conn.setNoDelay?.(true);
  return conn;
}

async function startTls(
  net: DenoNet,
  conn: NetConn,
  hostname: string,
  caCerts: string[] | undefined,
): Promise<NetConn> {
  try {
    return await net.startTls(conn, { hostname, caCerts });
  } catch (error) {
    closeQuietly(conn);
    throw error;
  }
}

async function writeAll(conn: NetConn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

function closeQuietly(conn: NetConn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error
    ? signal.reason
    : new DOMException("the request was aborted", "AbortError");
}
