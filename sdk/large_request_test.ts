/**
 * A request body over the broker's bound (4 MiB + 256 KiB) on each Deno-run transport: the broker
 * answers `413 RequestTooLarge` from the `content-length`, before it reads the body, and the
 * caller gets that error once, whatever the transport, after one request (a 413 is not retried,
 * so nothing is sent twice). A server that answers so and then stops reading must not leave the
 * transport writing (a timeout, or a connection kept open sending the rest of the body).
 * `tests/sdk/node_smoke_test.ts` runs the same cases under Node.
 */
import assert from "node:assert/strict";
import { readHead } from "./_test_helpers.ts";
import { CmqdClient } from "./client.ts";
import { Http1Transport } from "./http1.ts";
import { startTestBroker } from "./testing.ts";
import type { HttpRequest, HttpTransport } from "./transport.ts";
import { NodeHttpTransport } from "./transport_node.ts";

const transports = [
  ["Http1Transport", (): HttpTransport => new Http1Transport()],
  ["NodeHttpTransport", (): HttpTransport => new NodeHttpTransport()],
] as const;

/** A transport that counts the requests it is given (each one a body sent). */
function counted(inner: HttpTransport) {
  const sent: string[] = [];
  const transport: HttpTransport = {
    request: (request: HttpRequest) => {
      sent.push(`${request.method} ${new URL(request.url).pathname}`);
      return inner.request(request);
    },
    close: () => inner.close?.(),
  };
  return { transport, sent };
}

Deno.test("a 5 MiB send to a real broker: 413 RequestTooLarge on every transport, one request, nothing enqueued", async () => {
  const broker = await startTestBroker();
  try {
    await broker.client.createQueue("big");
    const body = "x".repeat(5 * 1024 * 1024);
    for (const [name, make] of transports) {
      const { transport, sent } = counted(make());
      const client = broker.newClient({ transport });
      // Without a dedupId the send is not repeatable; with one on every message it is.
      for (const dedupId of [undefined, `d-${name}`]) {
        sent.length = 0;
        await assert.rejects(
          client.sendMessages("big", [{ body, dedupId }]),
          { status: 413, code: "RequestTooLarge" },
          `${name}, dedupId ${dedupId}`,
        );
        assert.deepEqual(sent, ["POST /v1/queues/big/messages"], `${name}, dedupId ${dedupId}`);
      }
    }
    const queue = await broker.client.getQueue("big");
    assert.equal(queue.activeMessages + queue.inflightMessages + queue.delayedMessages, 0);
  } finally {
    await broker.stop();
  }
});

/**
 * A raw server that reads a request's head, answers 413 RequestTooLarge at once, then reads
 * nothing more and keeps the connection open: the body is far more than socket buffers hold.
 * `rest(index)` then reads what connection `index` still brings: the rest of the request, up to
 * the end of its declared body or the connection's end.
 */
function earlyAnswerServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const heads: { conn: Deno.Conn; declared: number; read: number }[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      (async () => {
        const text = await readHead(conn);
        if (text === null) return;
        const headBytes = text.indexOf("\r\n\r\n") + 4;
        const declared = Number(/content-length: (\d+)/i.exec(text)?.[1]);
        heads.push({ conn, declared, read: text.length - headBytes });
        const answer = JSON.stringify({
          error: { code: "RequestTooLarge", message: "request body exceeds 4456448 bytes" },
        });
        await conn.write(new TextEncoder().encode(
          "HTTP/1.1 413 Payload Too Large\r\ncontent-type: application/json\r\n" +
            `content-length: ${answer.length}\r\n\r\n${answer}`,
        ));
      })();
    }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    connections: () => heads.length,
    /** Bytes of the body connection `index` delivered in all, and whether that was all of it. */
    async rest(index: number): Promise<{ whole: boolean }> {
      const head = heads[index];
      const buffer = new Uint8Array(1024 * 1024);
      while (head.read < head.declared) {
        const read = await head.conn.read(buffer).catch(() => null);
        if (read === null) break;
        head.read += read;
      }
      return { whole: head.read >= head.declared };
    },
    async close() {
      listener.close();
      for (const { conn } of heads) {
        try {
          conn.close();
        } catch {
          // closed by the test
        }
      }
      await serving.catch(() => {});
    },
  };
}

for (const [name, make] of transports) {
  Deno.test(`${name}: a server that answers 413 before reading a 16 MiB body and stops reading: the caller gets the 413, the rest is not sent`, async () => {
    const server = earlyAnswerServer();
    const { transport, sent } = counted(make());
    // A long timeout: a transport that waited for its write to end would fail with Timeout.
    const client = new CmqdClient({ baseUrl: server.url, transport, timeoutMs: 60_000 });
    try {
      const body = "x".repeat(16 * 1024 * 1024);
      await assert.rejects(client.sendMessages("big", [{ body }]), {
        status: 413,
        code: "RequestTooLarge",
      });
      assert.equal(sent.length, 1);
      assert.equal(server.connections(), 1);
      // Read what the client still sends: a transport that kept writing after the answer
      // delivers the whole body (its connection then stays open); one that gave up ends first.
      assert.deepEqual(await server.rest(0), { whole: false });
    } finally {
      client.close();
      await server.close();
    }
  });
}
