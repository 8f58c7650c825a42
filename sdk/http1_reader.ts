/**
 * Reading HTTP/1.1 answers off one connection, for `Http1Transport` (`http1.ts`): the status line
 * and headers, then the body whole (`content-length`, `chunked` or until the close), into the
 * connection's own buffer, which is reused for every answer.
 *
 * Line ends: CRLF, or a bare LF, which RFC 9112 (2.2) lets a recipient accept and which `curl`,
 * browsers and Go's client accept in answers. Before, a bare-LF answer was never seen to end its
 * head, and the request waited for its signal (a push: its 15 s timeout).
 *
 * @module
 */
import { TransportError } from "./errors.ts";
import { bodyOverMessage } from "./response_body.ts";

/** The few calls of a Deno connection the transport makes, typed here (see `http1.ts`). */
export interface NetConn {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
  ref?(): void;
  unref?(): void;
  setNoDelay?(noDelay?: boolean): void;
}

const latin1 = new TextDecoder("latin1");

/** A connection and its read buffer: the answer being read is `buffer[start, end)`. */
export interface Connection {
  conn: NetConn;
  origin: string;
  buffer: Uint8Array<ArrayBuffer>;
  start: number;
  end: number;
  /** True while pooled. */
  idle: boolean;
  /** The read issued when the connection went idle; the next answer's first read. */
  idleRead: Promise<number | null> | undefined;
}
/** A parsed response head. */
export interface Head {
  status: number;
  http10: boolean;
  connectionClose: boolean;
  chunked: boolean;
  /** The `content-length` value, or null when absent (or ignored: a chunked answer). */
  contentLength: number | null;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Map<string, string>;
}
/** The body of an answer (a copy, the connection's buffer is reused), or why it could not be read. */
export type Body = { bytes: Uint8Array<ArrayBuffer>; reusable: boolean } | { error: Error };
/** A response could not be read; `started` when some of it had arrived. */
export class ReadFailure extends TransportError {
  constructor(message: string, readonly started: boolean) {
    super(message);
  }
}
/** Reads answers off one connection. */
export class ResponseReader {
  readonly #connection: Connection;
  readonly #headerBytesMax: number;
  #started = false;

  constructor(connection: Connection, headerBytesMax: number) {
    this.#connection = connection;
    this.#headerBytesMax = headerBytesMax;
  }

  get #buffered(): number {
    return this.#connection.end - this.#connection.start;
  }

  /** Makes room for `bytes` unread bytes in the buffer: moves them to the front, or grows it. */
  #reserve(bytes: number): void {
    const connection = this.#connection;
    if (connection.start + bytes <= connection.buffer.length) return;
    const unread = connection.end - connection.start;
    if (bytes > connection.buffer.length) {
      const grown = new Uint8Array(Math.max(bytes, connection.buffer.length * 2));
      grown.set(connection.buffer.subarray(connection.start, connection.end));
      connection.buffer = grown;
    } else {
      connection.buffer.copyWithin(0, connection.start, connection.end);
    }
    connection.start = 0;
    connection.end = unread;
  }

  /** Reads more bytes onto the buffer; false at the end of the stream. */
  async #fill(): Promise<boolean> {
    const connection = this.#connection;
    if (connection.end === connection.buffer.length) {
      // Full: grow when more than half is unread (a long head or a close-delimited body), else
      // move the unread bytes to the front. Room for one more byte than is unread: reading into
      // the 0 bytes left at the end answers 0 at once, and the reader would spin on it forever.
      const unread = this.#buffered;
      const length = connection.buffer.length;
      this.#reserve(unread * 2 > length ? length * 2 : unread + 1);
    }
    let read: number | null;
    try {
      const pending = connection.idleRead;
      connection.idleRead = undefined;
      read = await (pending ?? connection.conn.read(connection.buffer.subarray(connection.end)));
    } catch (error) {
      throw new ReadFailure(`read failed: ${error}`, this.#started);
    }
    if (read === null) return false;
    this.#started = true;
    connection.end += read;
    return true;
  }

  #consume(bytes: number): void {
    this.#connection.start += bytes;
    if (this.#connection.start === this.#connection.end) {
      this.#connection.start = 0;
      this.#connection.end = 0;
    }
  }

  /**
   * Where the head (status line and headers) ends in the unread bytes: the length of its text
   * (without the line end before the empty line) and of the bytes it takes with that empty line;
   * null while it has not all arrived. Line ends are CRLF or a bare LF (see the module).
   */
  #headEnd(): { text: number; bytes: number } | null {
    const { buffer, start, end } = this.#connection;
    let at = buffer.indexOf(10, start);
    while (at >= 0 && at + 1 < end) {
      const next = buffer[at + 1];
      const blank = next === 10 ? 2 : next === 13 ? (at + 2 < end ? 3 : -1) : 0;
      if (blank < 0) return null; // a CR after the line end: wait for what follows it
      if (blank > 0) {
        const text = at > start && buffer[at - 1] === 13 ? at - 1 : at;
        return { text: text - start, bytes: at + blank - start };
      }
      at = buffer.indexOf(10, at + 1);
    }
    return null;
  }

  /** Where the first line of the unread bytes ends (as `#headEnd` counts), or null. */
  #lineEnd(): { text: number; bytes: number } | null {
    const { buffer, start, end } = this.#connection;
    const at = buffer.indexOf(10, start);
    if (at < 0 || at >= end) return null;
    const text = at > start && buffer[at - 1] === 13 ? at - 1 : at;
    return { text: text - start, bytes: at + 1 - start };
  }

  /** Reads a status line and headers. */
  async head(): Promise<Head> {
    let end = this.#headEnd();
    while (end === null) {
      if (this.#buffered > this.#headerBytesMax) {
        throw new ReadFailure("response headers too large", true);
      }
      if (!(await this.#fill())) {
        throw new ReadFailure("connection closed before the response", this.#started);
      }
      end = this.#headEnd();
    }
    if (end.bytes > this.#headerBytesMax) {
      throw new ReadFailure("response headers too large", true);
    }
    const { buffer, start } = this.#connection;
    const text = latin1.decode(buffer.subarray(start, start + end.text));
    this.#consume(end.bytes);
    return parseHead(text);
  }

  /** Reads the body whole; never throws for the body's sake (the head has arrived). */
  async body(head: Head, headRequest: boolean, bytesMax: number): Promise<Body> {
    const keepAlive = !head.http10 && !head.connectionClose;
    if (headRequest || head.status === 204 || head.status === 304) {
      return { bytes: new Uint8Array(0), reusable: keepAlive };
    }
    try {
      if (head.chunked) {
        return { bytes: await this.#chunked(bytesMax), reusable: keepAlive };
      }
      if (head.contentLength === null) {
        return { bytes: await this.#untilClose(bytesMax), reusable: false };
      }
      return { bytes: await this.#sized(head.contentLength, bytesMax), reusable: keepAlive };
    } catch (error) {
      return { error: error instanceof Error ? error : new TransportError(String(error)) };
    }
  }

  async #sized(bytes: number, bytesMax: number): Promise<Uint8Array<ArrayBuffer>> {
    if (bytes > bytesMax) throw tooLarge(bytesMax);
    this.#reserve(bytes);
    while (this.#buffered < bytes) {
      if (!(await this.#fill())) throw new ReadFailure("connection closed in the body", true);
    }
    const { buffer, start } = this.#connection;
    const body = buffer.slice(start, start + bytes);
    this.#consume(bytes);
    return body;
  }

  async #untilClose(bytesMax: number): Promise<Uint8Array<ArrayBuffer>> {
    while (await this.#fill()) {
      if (this.#buffered > bytesMax) throw tooLarge(bytesMax);
    }
    const { buffer, start, end } = this.#connection;
    const body = buffer.slice(start, end);
    this.#consume(end - start);
    return body;
  }

  async #line(): Promise<string> {
    let end = this.#lineEnd();
    while (end === null) {
      if (this.#buffered > this.#headerBytesMax) throw new ReadFailure("chunk line too long", true);
      if (!(await this.#fill())) throw new ReadFailure("connection closed in the body", true);
      end = this.#lineEnd();
    }
    const { buffer, start } = this.#connection;
    const line = latin1.decode(buffer.subarray(start, start + end.text));
    this.#consume(end.bytes);
    return line;
  }

  async #chunked(bytesMax: number): Promise<Uint8Array<ArrayBuffer>> {
    const parts: Uint8Array<ArrayBuffer>[] = [];
    let total = 0;
    for (;;) {
      const sizeLine = await this.#line();
      const sizeText = sizeLine.split(";")[0].trim();
      const size = /^[0-9a-fA-F]+$/.test(sizeText) ? parseInt(sizeText, 16) : NaN;
      if (!Number.isSafeInteger(size)) throw new ReadFailure(`bad chunk size ${sizeLine}`, true);
      total += size;
      if (total > bytesMax) throw tooLarge(bytesMax);
      if (size === 0) break;
      this.#reserve(size + 2);
      while (this.#buffered < size) {
        if (!(await this.#fill())) throw new ReadFailure("connection closed in the body", true);
      }
      const { buffer, start } = this.#connection;
      parts.push(buffer.slice(start, start + size));
      this.#consume(size);
      if ((await this.#line()) !== "") {
        throw new ReadFailure(`a chunk of ${size} bytes not followed by a line end`, true);
      }
    }
    while ((await this.#line()) !== "") {
      // trailers, dropped
    }
    // Chunked answers are the rare case (the broker gives lengths): joined by the runtime.
    return parts.length === 1 ? parts[0] : new Uint8Array(await new Blob(parts).arrayBuffer());
  }
}

function tooLarge(bytesMax: number): ReadFailure {
  return new ReadFailure(bodyOverMessage(bytesMax), true);
}
const statusLine = /^HTTP\/1\.([01]) ([0-9]{3})(?: |$)/;

/** A `content-length` value: digits (a longer one is no answer a client would read). */
const lengthValue = /^[0-9]{1,15}$/;

/**
 * Parses a status line and headers (without the final blank line; lines end with CRLF or LF).
 *
 * `content-length` is checked as RFC 9112 (6.3) asks: repeated (as headers or as a list), its
 * values must all be one number, or the answer's framing can't be known and it is refused at once
 * (before, the last value won and the reader waited for bytes that never came, or read until the
 * close). With `transfer-encoding: chunked` the length is ignored, and the connection is not
 * reused (a sign of a smuggling attempt or a confused server).
 */
function parseHead(text: string): Head {
  const lines = text.split(/\r?\n/);
  const status = statusLine.exec(lines[0]);
  if (status === null) throw new ReadFailure(`not an HTTP/1 status line`, true);
  const head: Head = {
    status: Number(status[2]),
    http10: status[1] === "0",
    connectionClose: false,
    chunked: false,
    contentLength: null,
    headers: new Map(),
  };
  for (let index = 1; index < lines.length; index++) {
    const line = lines[index];
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const earlier = head.headers.get(name);
    head.headers.set(name, earlier === undefined ? value : `${earlier}, ${value}`);
    if (name === "connection") {
      head.connectionClose = value.toLowerCase() === "close";
    } else if (name === "transfer-encoding") {
      head.chunked = value.toLowerCase().includes("chunked");
    }
  }
  const length = head.headers.get("content-length");
  if (length === undefined) return head;
  if (head.chunked) {
    head.connectionClose = true;
    return head;
  }
  const values = length.split(",").map((value) => value.trim());
  const bad = values.find((value) => !lengthValue.test(value));
  if (bad !== undefined) {
    throw new ReadFailure(`the content-length of the answer is not a length: '${bad}'`, true);
  }
  if (values.some((value) => Number(value) !== Number(values[0]))) {
    throw new ReadFailure(`conflicting content-length values in the answer: ${length}`, true);
  }
  head.contentLength = Number(values[0]);
  return head;
}
