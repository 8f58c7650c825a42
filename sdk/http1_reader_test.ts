import assert from "node:assert/strict";
import { type Connection, type NetConn, ResponseReader } from "./http1_reader.ts";

/**
 * A connection that hands out `bytes` as fast as the reader takes them, like a socket with
 * everything already received. Deno answers a read into an empty buffer with 0 at once; more
 * than a few of those in a row mean the reader spins without ever yielding, so this fails
 * instead of hanging.
 */
function bufferedConnection(bytes: Uint8Array, bufferBytes: number): Connection {
  let offset = 0;
  let emptyReads = 0;
  const conn: NetConn = {
    read(buffer) {
      if (buffer.length === 0) {
        if (++emptyReads > 100) throw new Error("read into an empty buffer again and again");
        return Promise.resolve(0);
      }
      if (offset === bytes.length) return Promise.resolve(null);
      const count = Math.min(buffer.length, bytes.length - offset);
      buffer.set(bytes.subarray(offset, offset + count));
      offset += count;
      return Promise.resolve(count);
    },
    write: (data) => Promise.resolve(data.length),
    close() {},
  };
  return {
    conn,
    origin: "http://test",
    buffer: new Uint8Array(bufferBytes),
    start: 0,
    end: 0,
    idle: false,
    idleRead: undefined,
  };
}

Deno.test("a full buffer whose front was consumed makes room for the rest of the answer", async () => {
  // Two 1xx heads (25 bytes each) fill a 64-byte buffer with the final head's first 14 bytes:
  // the next read must move those to the front, not read into the 0 bytes left at the end.
  const text = "HTTP/1.1 100 Continue\r\n\r\n".repeat(2) +
    "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
  const reader = new ResponseReader(bufferedConnection(new TextEncoder().encode(text), 64), 1024);
  let head = await reader.head();
  while (head.status < 200) head = await reader.head();
  assert.equal(head.status, 200);
  const body = await reader.body(head, false, 1024);
  assert.ok("bytes" in body);
  assert.equal(new TextDecoder().decode(body.bytes), "ok");
});

Deno.test("a chunked body of many small chunks is read through a small buffer", async () => {
  const text = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + "1\r\na\r\n".repeat(300) +
    "0\r\n\r\n";
  const reader = new ResponseReader(bufferedConnection(new TextEncoder().encode(text), 64), 1024);
  const head = await reader.head();
  const body = await reader.body(head, false, 4096);
  assert.ok("bytes" in body, "error" in body ? body.error.message : "");
  assert.equal(new TextDecoder().decode(body.bytes), "a".repeat(300));
});

Deno.test("bare-LF heads and chunk lines are found across reads through a small buffer", async () => {
  const text = "HTTP/1.1 200 OK\nx-filler: " + "f".repeat(80) + "\ntransfer-encoding: chunked\n\n" +
    "1\na\n".repeat(40) + "0\n\n" + "HTTP/1.1 204 No Content\n\r\n";
  for (const bufferBytes of [16, 64]) {
    const connection = bufferedConnection(new TextEncoder().encode(text), bufferBytes);
    const reader = new ResponseReader(connection, 1024);
    const head = await reader.head();
    assert.equal(head.headers.get("x-filler"), "f".repeat(80));
    const body = await reader.body(head, false, 4096);
    assert.ok("bytes" in body, "error" in body ? body.error.message : "");
    assert.equal(new TextDecoder().decode(body.bytes), "a".repeat(40));
    assert.equal((await reader.head()).status, 204);
  }
});

Deno.test("a chunk not followed by a line end is an error, not the next chunk's first bytes", async () => {
  const text = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabXY1\r\nc\r\n0\r\n\r\n";
  const reader = new ResponseReader(bufferedConnection(new TextEncoder().encode(text), 64), 1024);
  const body = await reader.body(await reader.head(), false, 4096);
  assert.ok("error" in body);
  assert.match(body.error.message, /a chunk of 2 bytes not followed by a line end/);
});
