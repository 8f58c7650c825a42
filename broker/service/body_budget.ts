/**
 * The node's budget of request-body bytes being read at once, and the stall timeout of a body.
 *
 * Every door reads a request's body whole before it serves it (the CMQ door before it can check
 * the signature, which travels in the body), each up to its own bound. Without a budget, many
 * bodies read at once (HTTP/2 allows 200 streams per connection, and the connections are not
 * capped) could make a node hold any amount of memory, and a body that stops arriving would hold
 * its part for as long as its connection stays open. So every body is read through
 * `BodyBudget.read`:
 *
 * - A body declaring a `content-length` reserves that many bytes before a byte is read; one
 *   without (chunked) reserves each chunk as it arrives. A reservation the budget can't grant
 *   refuses the request at once (`busy`: the doors answer 503 with `Retry-After`), and the rest
 *   of the body is not read. The reservation is returned when the read ends, however it ends
 *   (read whole, refused, stalled, the client gone): the budget bounds bodies **being read**.
 * - A body that makes no progress for `stallMs` is abandoned (`stalled`: 408, or the door's
 *   equivalent). A body declaring at most `wholeReadBytesMax` is read by `Request.bytes()`,
 *   which tells nothing of its progress, so it must arrive whole within `stallMs`; a longer or
 *   chunked one is read chunk by chunk and each chunk must come within `stallMs` of the last.
 *
 * The cost on the hot path (a small body with a `content-length`) is a counter added to and
 * taken from, a set entry and one promise: no clock read and no timer per request. One sweep
 * timer runs, only while bodies are being read, every `tickMs`, and abandons those whose read
 * made no progress for more than `stallMs` (so after between `stallMs` and `stallMs + tickMs`).
 *
 * An abandoned small body's `bytes()` can't be cancelled: Deno keeps reading it (at most
 * `wholeReadBytesMax`) until the client sends the rest or goes away, outside the budget. A longer
 * body's read is cancelled.
 *
 * **A connection's share.** One connection (its remote address and port: an HTTP/2 connection's
 * streams share it) holds at most `connectionBytesMax` (a quarter of the budget), or one body of
 * its door's bound when that is more (the smallest budget the node takes, 16 MiB, is under four of
 * the largest bodies): a reservation past it is refused `busy` as one past the budget is, so one
 * connection can't keep every other client's bodies out. The server tells the budget a request's
 * connection (`noteConnection`, with `Deno.serve`'s `ServeHandlerInfo`) before a door reads it,
 * and a request rebuilt from another (the direct path's handing a body it read to hono) carries
 * it over (`carryConnection`); a request without one (served in process, as tests do) counts
 * against the node's budget only. A leader counts a body a follower forwarded, with its proof of
 * the cluster key, against the share of the client's connection to that follower
 * (`noteVouchedConnection`), not of the follower's connection, which may carry every forward of
 * that follower's clients. The share is per connection, not per client: a client opening many
 * connections gets a share on each (a share per remote address would be shared by every client
 * behind one proxy or NAT). On the hot path it costs a property on each request and, per body, a
 * read of the remote address and a map entry of the connection's bytes (0.06–0.09 µs per message
 * sent in batches of 16, in CPU profiles: bench/HISTORY.md, 2026-12-06).
 *
 * @module
 */

/** How reading a body failed; each door answers each in its own shape. */
export type BodyFailure = "too_large" | "busy" | "stalled" | "unreadable";

/** A body that could not be read: `reason` says why, `message` in words for the client. */
export class BodyReadError extends Error {
  readonly reason: BodyFailure;

  constructor(reason: BodyFailure, message: string) {
    super(message);
    this.name = "BodyReadError";
    this.reason = reason;
  }
}

/**
 * Why a request's body can't be read as it came, or null: a `content-encoding` other than
 * `identity` (gzip, deflate, br, …). The broker decodes no content coding, so such a body is
 * refused unread, in each door's shape, rather than taken as the bytes it is (a plain body
 * labelled gzip) or refused with words about its text (a gzipped one). A request without a body
 * passes whatever it says.
 */
export function contentCodingProblem(request: Request): string | null {
  const coding = request.headers.get("content-encoding");
  if (coding === null || request.body === null) return null;
  if (coding.split(",").every((token) => /^\s*(identity)?\s*$/i.test(token))) return null;
  if (
    request.headers.get("content-length") === "0" &&
    request.headers.get("transfer-encoding") === null
  ) return null;
  return `content-encoding ${
    JSON.stringify(coding.slice(0, 100))
  } is not supported: send the body uncompressed`;
}

/** Bytes a `fetch` body accepts as they are (a view of a plain ArrayBuffer). */
export type BodyBytes = Uint8Array<ArrayBuffer>;

/** The timer the sweep runs on (real, unreferenced ones by default; a manual one in tests). */
export interface BodyTimers {
  setTimer(delayMs: number, callback: () => void): unknown;
  /** Cancels a timer `setTimer` returned (`close`); a test's manual timers may leave it out. */
  clearTimer?(handle: unknown): void;
}

/** Options of a `BodyBudget`. */
export interface BodyBudgetOptions {
  /** Bytes of bodies being read at once, at most; default `defaultBodyBudgetBytes`. */
  bytesMax?: number;
  /** A body whose read makes no progress for longer than this is abandoned; default 30 s. */
  stallMs?: number;
  /** How often the sweep looks at the reads running; default 1 s (at most `stallMs`). */
  tickMs?: number;
  timers?: BodyTimers;
}

/** The default budget: 256 MiB of bodies being read at once. */
export const defaultBodyBudgetBytes = 256 * 1024 * 1024;
/** The default stall timeout of a body: 30 s without progress. */
export const defaultBodyStallMs = 30_000;
/**
 * Bodies declaring at most this many bytes are read by `Request.bytes()`, the cheapest read
 * (touching `request.body` makes Deno build a stream, ~20 µs more per request); longer ones chunk
 * by chunk, so that their progress can be seen and an abandoned read cancelled.
 */
export const wholeReadBytesMax = 64 * 1024;

const noBytes: BodyBytes = new Uint8Array(0);

const realTimers: BodyTimers = {
  setTimer(delayMs, callback) {
    const id = setTimeout(callback, delayMs);
    // The sweep must not keep a process alive by itself.
    Deno.unrefTimer(id);
    return id;
  },
  clearTimer(handle) {
    clearTimeout(handle as number);
  },
};

/** The share of the budget one connection may hold: `bytesMax / connectionShareDivisor`. */
export const connectionShareDivisor = 4;

/** The connection a request came on, `host:port`, from `Deno.serve`'s `ServeHandlerInfo`. */
function connectionKey(info: unknown): string | null {
  let address: Partial<Deno.NetAddr> | undefined;
  try {
    address = (info as { remoteAddr?: Partial<Deno.NetAddr> }).remoteAddr;
  } catch {
    return null; // the request's connection is gone: its read fails on its own
  }
  // A Unix socket's clients all share one address: none is told apart from another.
  if (address?.transport !== "tcp" && address?.transport !== "udp") return null;
  return `${address.hostname}:${address.port}`;
}

/** The connection a request's noted `info` names (a peer's vouched name as it is). */
function connectionNamed(info: unknown): string | null {
  if (info === undefined) return null;
  return typeof info === "string" ? info : connectionKey(info);
}

/** Whose a read's reservations are: its connection (null: unknown) and that one's share. */
interface Reader {
  connection: string | null;
  /** The connection's share, or the read's own bound when that is more. */
  shareMax: number;
}

/** A body being read: the sweep's tick of its last progress, and how to give it up. */
interface Reading {
  since: number;
  abandon(): void;
}

/**
 * The budget of one node, shared by every door and by the follower's forwarding.
 *
 * @example
 * ```ts
 * const bodies = new BodyBudget({ bytesMax: 64 * 1024 * 1024 });
 * const bytes = await bodies.read(request, 4 * 1024 * 1024); // throws BodyReadError
 * ```
 */
export class BodyBudget {
  /** Bytes of bodies being read at once, at most. */
  readonly bytesMax: number;
  /** Bytes one connection's bodies hold at once, at most (or one body of its door's bound). */
  readonly connectionBytesMax: number;
  /** A body making no progress for longer than this is abandoned. */
  readonly stallMs: number;
  readonly #tickMs: number;
  readonly #stallTicks: number;
  readonly #timers: BodyTimers;
  readonly #readings = new Set<Reading>();
  /**
   * The property each request carries its connection under, as the server told it
   * (`noteConnection`): a property of the request, not a `WeakMap` entry keyed by it, whose
   * ephemerons cost the collector about 0.2 µs per message sent (bench/HISTORY.md, 2026-12-06).
   */
  readonly #connectionOf = Symbol("cmqd.connection");
  /** Bytes reserved by each connection with any (`host:port`). */
  readonly #held = new Map<string, number>();
  #reserved = 0;
  #tick = 0;
  #sweeping = false;
  /** The sweep's pending timer, while `#sweeping`. */
  #timer: unknown = undefined;
  #closed = false;

  constructor(options: BodyBudgetOptions = {}) {
    this.bytesMax = options.bytesMax ?? defaultBodyBudgetBytes;
    this.connectionBytesMax = Math.floor(this.bytesMax / connectionShareDivisor);
    this.stallMs = options.stallMs ?? defaultBodyStallMs;
    this.#tickMs = Math.max(1, Math.min(options.tickMs ?? 1000, this.stallMs));
    this.#stallTicks = Math.ceil(this.stallMs / this.#tickMs);
    this.#timers = options.timers ?? realTimers;
  }

  /** Bytes reserved by the bodies being read now. */
  get reservedBytes(): number {
    return this.#reserved;
  }

  /** Bodies being read now (those past their reservation). */
  get readingCount(): number {
    return this.#readings.size;
  }

  /** Connections holding a reservation now. */
  get connectionCount(): number {
    return this.#held.size;
  }

  /**
   * Tells the budget that `request` came on the connection `info` (`Deno.serve`'s
   * `ServeHandlerInfo`, hono's `env`), whose share its body then counts against, unless its
   * connection was noted before. Cheap: the connection is looked at only when a body is read.
   */
  noteConnection(request: Request, info: unknown): void {
    const noted = request as unknown as Record<symbol, unknown>;
    // Noted already (the outer handler first: the leader's forwarding, which may name the
    // connection a member vouched for, before the app's): that one stands.
    if (typeof info === "object" && info !== null && noted[this.#connectionOf] === undefined) {
      noted[this.#connectionOf] = info;
    }
  }

  /**
   * Tells the budget that `request`'s body counts against the share of `connection`, a name a
   * peer that proved the cluster key gave the connection its client sent the request on (a
   * forward: `forward_proof.ts`), instead of the connection it came on. Only for a proven claim.
   */
  noteVouchedConnection(request: Request, connection: string): void {
    (request as unknown as Record<symbol, unknown>)[this.#connectionOf] = connection;
  }

  /** The connection whose share `request`'s body counts against (`host:port`), or null. */
  connectionOf(request: Request): string | null {
    return connectionNamed((request as unknown as Record<symbol, unknown>)[this.#connectionOf]);
  }

  /**
   * Tells the budget that `copy`, a request rebuilt from `original` (its body bytes already
   * read, or its headers changed), came on `original`'s connection: its body counts against
   * the same share.
   */
  carryConnection(original: Request, copy: Request): void {
    const info = (original as unknown as Record<symbol, unknown>)[this.#connectionOf];
    if (info !== undefined) (copy as unknown as Record<symbol, unknown>)[this.#connectionOf] = info;
  }

  /**
   * The whole body of `request` (empty when there is none), at most `bytesMax` bytes. Throws
   * `BodyReadError`: `too_large` past `bytesMax` (a declared length over it: before reading),
   * `busy` when the budget can't hold it, `stalled`, `unreadable` (the client went away).
   */
  read(request: Request, bytesMax: number): Promise<BodyBytes> {
    const declared = request.headers.get("content-length");
    if (declared !== null && Number(declared) > bytesMax) {
      return Promise.reject(tooLarge(bytesMax));
    }
    if (declared === "0" && request.headers.get("transfer-encoding") === null) {
      return Promise.resolve(noBytes);
    }
    const info = (request as unknown as Record<symbol, unknown>)[this.#connectionOf];
    const reader: Reader = {
      connection: connectionNamed(info),
      shareMax: Math.max(this.connectionBytesMax, bytesMax),
    };
    if (declared !== null && request.headers.get("transfer-encoding") === null) {
      // The transport delivers exactly content-length bytes, checked against the limit above.
      const length = Number(declared);
      if (length <= wholeReadBytesMax) return this.#readWhole(request, length, reader);
      if (length > 0) return this.#readChunks(request.body, bytesMax, length, reader);
    }
    return this.#readChunks(request.body, bytesMax, 0, reader);
  }

  /**
   * Reserves `bytes` for `reader`, or returns why the budget (or the reader's connection's
   * share) can't hold them.
   */
  #reserve(bytes: number, reader: Reader): BodyReadError | null {
    if (this.#reserved + bytes > this.bytesMax) return this.#busy(bytes);
    const connection = reader.connection;
    if (connection !== null && bytes > 0) {
      const held = this.#held.get(connection) ?? 0;
      if (held + bytes > reader.shareMax) return this.#busyConnection(bytes, held, reader);
      this.#held.set(connection, held + bytes);
    }
    this.#reserved += bytes;
    return null;
  }

  /** Gives back what `#reserve` granted `reader`. */
  #release(bytes: number, reader: Reader): void {
    this.#reserved -= bytes;
    const connection = reader.connection;
    if (connection === null || bytes === 0) return;
    const left = this.#held.get(connection)! - bytes;
    if (left === 0) this.#held.delete(connection);
    else this.#held.set(connection, left);
  }

  #busy(bytes: number): BodyReadError {
    return new BodyReadError(
      "busy",
      `the node is reading ${this.#reserved} bytes of request bodies and can't take ${bytes} ` +
        `more (at most ${this.bytesMax} at once); retry`,
    );
  }

  #busyConnection(bytes: number, held: number, reader: Reader): BodyReadError {
    return new BodyReadError(
      "busy",
      `this connection is sending ${held} bytes of request bodies and can't send ${bytes} more ` +
        `(at most ${reader.shareMax} at once, its share of the node's ${this.bytesMax}); retry`,
    );
  }

  #stalled(): BodyReadError {
    return new BodyReadError(
      "stalled",
      `the request body made no progress for ${this.stallMs / 1000} s and was abandoned`,
    );
  }

  /**
   * Not `async`, and settled straight from `bytes()`'s callbacks: each extra promise hop here
   * cost the v1 receive route ~20 µs of CPU per request in `bench/http_hot_path.ts`.
   */
  #readWhole(request: Request, length: number, reader: Reader): Promise<BodyBytes> {
    const refused = this.#reserve(length, reader);
    if (refused !== null) return Promise.reject(refused);
    let read: Promise<BodyBytes>;
    try {
      read = request.bytes();
    } catch {
      this.#release(length, reader);
      return Promise.reject(unreadable());
    }
    return new Promise<BodyBytes>((resolve, reject) => {
      let settled = false;
      const settle = () => {
        if (settled) return false;
        settled = true;
        this.#release(length, reader);
        this.#readings.delete(reading);
        return true;
      };
      const reading: Reading = {
        since: this.#tick,
        abandon: () => settle() && reject(this.#stalled()),
      };
      this.#watch(reading);
      read.then(
        (bytes) => settle() && resolve(bytes),
        () => settle() && reject(unreadable()),
      );
    });
  }

  async #readChunks(
    stream: ReadableStream<Uint8Array> | null,
    bytesMax: number,
    declared: number,
    reader: Reader,
  ): Promise<BodyBytes> {
    if (stream === null) return noBytes;
    const refused = this.#reserve(declared, reader);
    if (refused !== null) {
      await stream.cancel().catch(() => {});
      throw refused;
    }
    let reserved = declared;
    let stalled = false;
    const chunkReader = stream.getReader();
    const reading: Reading = {
      since: this.#tick,
      abandon: () => {
        stalled = true;
        chunkReader.cancel().catch(() => {});
      },
    };
    this.#watch(reading);
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      for (;;) {
        const { done, value } = await chunkReader.read();
        if (stalled) throw this.#stalled();
        if (done) break;
        reading.since = this.#tick;
        size += value.byteLength;
        if (size > bytesMax) throw tooLarge(bytesMax);
        if (size > reserved) {
          const more = this.#reserve(size - reserved, reader);
          if (more !== null) throw more;
          reserved = size;
        }
        chunks.push(value);
      }
    } catch (error) {
      // Stop the sender instead of draining the rest of a body that will not be used.
      await chunkReader.cancel().catch(() => {});
      throw error instanceof BodyReadError ? error : unreadable();
    } finally {
      this.#release(reserved, reader);
      this.#readings.delete(reading);
    }
    return joined(chunks, size);
  }

  #watch(reading: Reading): void {
    this.#readings.add(reading);
    if (!this.#sweeping) this.#schedule();
  }

  #schedule(): void {
    if (this.#closed) return; // the reads left end with their connections
    this.#sweeping = true;
    this.#timer = this.#timers.setTimer(this.#tickMs, () => this.#sweep());
  }

  /**
   * Stops the sweep (the node is closing: its server ends every read still open). Idle, the sweep
   * stops by itself one tick after the last read; this ends that tick too, so a closed node leaves
   * no timer behind.
   */
  close(): void {
    this.#closed = true;
    if (this.#sweeping) this.#timers.clearTimer?.(this.#timer);
    this.#sweeping = false;
  }

  /** Abandons the reads without progress for more than `stallMs`; runs while any is left. */
  #sweep(): void {
    this.#tick++;
    for (const reading of this.#readings) {
      if (this.#tick - reading.since > this.#stallTicks) {
        this.#readings.delete(reading);
        reading.abandon();
      }
    }
    if (this.#readings.size > 0) this.#schedule();
    else this.#sweeping = false;
  }
}

function tooLarge(bytesMax: number): BodyReadError {
  return new BodyReadError("too_large", `request body exceeds ${bytesMax} bytes`);
}

function unreadable(): BodyReadError {
  // The client reset or closed the connection while sending the body.
  return new BodyReadError("unreadable", "the request body could not be read");
}

function joined(chunks: Uint8Array[], size: number): BodyBytes {
  const first = chunks[0];
  if (chunks.length === 1 && first.buffer instanceof ArrayBuffer) return first as BodyBytes;
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
