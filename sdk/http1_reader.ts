/**
 * Reading HTTP/1.1 answers off one connection, for `Http1Transport` (`http1.ts`): the status line
 * and headers, then the body whole (`content-length`, `chunked` or until the close), into the
 * connection's own buffer, which is reused for every answer.
 *
 * @module
 */

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
  /** The `content-length` value, or null when absent or not a plain number. */
  contentLength: number | null;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Map<string, string>;
}
/** The body of an answer (a copy, the connection's buffer is reused), or why it could not be read. */
export type Body = { bytes: Uint8Array<ArrayBuffer>; reusable: boolean } | { error: Error };
/** A response could not be read; `started` when some of it had arrived. */
export class ReadFailure extends Error {
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

  /** Where `\r\n\r\n` (or `\r\n` with `lineOnly`) starts in the unread bytes, or -1. */
  #find(lineOnly: boolean): number {
    const { buffer, start, end } = this.#connection;
    const length = lineOnly ? 2 : 4;
    let at = buffer.indexOf(13, start);
    while (at >= 0 && at + length <= end) {
      const crlf = buffer[at + 1] === 10;
      if (crlf && (lineOnly || (buffer[at + 2] === 13 && buffer[at + 3] === 10))) {
        return at - start;
      }
      at = buffer.indexOf(13, at + 1);
    }
    return -1;
  }

  /** Reads a status line and headers. */
  async head(): Promise<Head> {
    let end = this.#find(false);
    while (end < 0) {
      if (this.#buffered > this.#headerBytesMax) {
        throw new ReadFailure("response headers too large", true);
      }
      if (!(await this.#fill())) {
        throw new ReadFailure("connection closed before the response", this.#started);
      }
      end = this.#find(false);
    }
    if (end + 4 > this.#headerBytesMax) throw new ReadFailure("response headers too large", true);
    const { buffer, start } = this.#connection;
    const text = latin1.decode(buffer.subarray(start, start + end));
    this.#consume(end + 4);
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
      return { error: error instanceof Error ? error : new Error(String(error)) };
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
    let end = this.#find(true);
    while (end < 0) {
      if (this.#buffered > this.#headerBytesMax) throw new ReadFailure("chunk line too long", true);
      if (!(await this.#fill())) throw new ReadFailure("connection closed in the body", true);
      end = this.#find(true);
    }
    const { buffer, start } = this.#connection;
    const line = latin1.decode(buffer.subarray(start, start + end));
    this.#consume(end + 2);
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
      while (this.#buffered < size + 2) {
        if (!(await this.#fill())) throw new ReadFailure("connection closed in the body", true);
      }
      const { buffer, start } = this.#connection;
      parts.push(buffer.slice(start, start + size));
      this.#consume(size + 2);
    }
    while ((await this.#line()) !== "") {
      // trailers, dropped
    }
    // Chunked answers are the rare case (the broker gives lengths): joined by the runtime.
    return parts.length === 1 ? parts[0] : new Uint8Array(await new Blob(parts).arrayBuffer());
  }
}

function tooLarge(bytesMax: number): ReadFailure {
  return new ReadFailure(`response body over ${bytesMax} bytes`, true);
}
const statusLine = /^HTTP\/1\.([01]) ([0-9]{3})(?: |$)/;

/** Parses a status line and headers (without the final blank line). */
function parseHead(text: string): Head {
  const lines = text.split("\r\n");
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
    } else if (name === "content-length") {
      head.contentLength = /^[0-9]+$/.test(value) ? Number(value) : null;
    }
  }
  return head;
}
