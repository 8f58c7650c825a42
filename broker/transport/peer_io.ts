/**
 * Small I/O pieces both ends of a peer connection share: a connection with its frame reader,
 * whole writes, an abortable sleep, quiet closing, and a log that can't be flooded.
 *
 * @module
 */

import assert from "node:assert/strict";
import { FrameStream } from "./frame_stream.ts";
import { PeerCodecError } from "./peer_body_reader.ts";
import { looksLikeTls, tlsOnPlainLink } from "./peer_tls.ts";

/** A peer connection: plain TCP, or TLS over it (`--peer-tls`). */
export type PeerConn = Deno.TcpConn | Deno.TlsConn;

/** A connection and the frame reader over its incoming bytes. */
export class FrameChannel {
  readonly conn: PeerConn;
  readonly stream: FrameStream;
  /** Bytes read so far (the transport's counters and liveness read it). */
  bytesRead = 0;
  /** The first bytes read, to tell a TLS peer from a broken one (see `readFrame`). */
  readonly #head = new Uint8Array(2);

  constructor(conn: PeerConn, limitBytes: number) {
    this.conn = conn;
    this.stream = new FrameStream(limitBytes);
  }

  /**
   * The next whole frame, reading as needed; null when the peer closed the connection. The frame
   * is a view valid until the next `readFrame` (decode it first; see `FrameStream.next`). Throws
   * `PeerCodecError` for a frame over the stream's limit (before buffering it); when the
   * connection began with TLS record bytes, the error says the peer runs with `--peer-tls`.
   */
  async readFrame(onBytes?: (bytes: number) => void): Promise<Uint8Array | null> {
    for (;;) {
      const frame = this.#next();
      if (frame !== null) return frame;
      const target = this.stream.readTarget();
      const bytesRead = await this.conn.read(target);
      if (bytesRead === null) return null;
      if (this.bytesRead < this.#head.length) {
        const copied = Math.min(bytesRead, this.#head.length - this.bytesRead);
        this.#head.set(target.subarray(0, copied), this.bytesRead);
      }
      this.stream.wrote(bytesRead);
      this.bytesRead += bytesRead;
      onBytes?.(bytesRead);
    }
  }

  #next(): Uint8Array | null {
    try {
      return this.stream.next();
    } catch (error) {
      // A TLS record's first bytes read as a length far over the pre-handshake limit.
      if (error instanceof PeerCodecError && looksLikeTls(this.#head)) throw tlsOnPlainLink();
      throw error;
    }
  }
}

/** Writes all of `bytes` (a `write` may take only part). */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/** Resolves after `ms`, or at once when `signal` aborts (no timer is left behind). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Closes, ignoring "already closed" (the normal race between a loop and `close()`). */
export function closeQuietly(closable: { close(): void }): void {
  try {
    closable.close();
  } catch {
    // Already closed.
  }
}

/** `host:port` of the remote end. */
export function remoteText(conn: PeerConn): string {
  return `${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`;
}

/** One line for an error. */
export function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** `host:port` or `[v6]:port` → Deno.connect's options. */
export function parseAddress(address: string): { hostname: string; port: number } {
  const colon = address.lastIndexOf(":");
  const port = Number(address.slice(colon + 1));
  let hostname = address.slice(0, colon);
  if (hostname.startsWith("[") && hostname.endsWith("]")) hostname = hostname.slice(1, -1);
  assert.ok(colon > 0 && hostname.length > 0, `peer address ${address} is not host:port`);
  assert.ok(Number.isInteger(port) && port > 0 && port < 65536, `bad port in ${address}`);
  return { hostname, port };
}

/** Line breaks and other control characters, which text from a peer may carry. */
// deno-lint-ignore no-control-regex
const controlCharacters = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** `text` with its control characters escaped as in JSON (`\n`, `\u001b`): one printable line. */
export function printable(text: string): string {
  return text.replace(controlCharacters, (char) => {
    const escaped = JSON.stringify(char).slice(1, -1);
    return escaped.length > 1 ? escaped : `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

/**
 * Passes at most `linesPerWindowMax` lines per `windowMs` to `log` and then says how many it
 * held back: a stranger opening connections in a loop must not fill the disk with warnings.
 * Each line is made `printable`: ids and addresses in it may come from a stranger's hello, and
 * a line break in them must not forge a line of the node's log.
 */
export class LogLimiter {
  readonly #log: (line: string) => void;
  readonly #linesPerWindowMax: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #what: string;
  #windowStart = -Infinity;
  #lines = 0;
  #suppressed = 0;

  constructor(
    log: (line: string) => void,
    options: {
      linesPerWindowMax?: number;
      windowMs?: number;
      now?: () => number;
      /** What the lines are, as the count of those held back names them. */
      what?: string;
    } = {},
  ) {
    this.#log = log;
    this.#linesPerWindowMax = options.linesPerWindowMax ?? 50;
    this.#windowMs = options.windowMs ?? 10_000;
    this.#now = options.now ?? Date.now;
    this.#what = options.what ?? "transport warnings";
  }

  /** Logs `text` unless this window's quota is spent. */
  line(text: string): void {
    const now = this.#now();
    if (now - this.#windowStart >= this.#windowMs) {
      if (this.#suppressed > 0) {
        this.#log(`(${this.#suppressed} ${this.#what} suppressed in the last window)`);
      }
      this.#windowStart = now;
      this.#lines = 0;
      this.#suppressed = 0;
    }
    if (this.#lines < this.#linesPerWindowMax) {
      this.#lines++;
      this.#log(printable(text));
    } else {
      this.#suppressed++;
    }
  }
}
