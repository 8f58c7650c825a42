/**
 * What a forward carries: a client's request sent over a real connection to a follower (the
 * forwarding handler served by `Deno.serve`, reaching the leader through the member fetch, as
 * `main.ts` wires it) arrives at a real leader without the headers about the client's own
 * connection (RFC 9110 §7.6.1), and with every end-to-end header.
 */
import assert from "node:assert/strict";
import { forwardedHeader, forwardedHostHeader, forwardingHandler } from "./forwarding.ts";
import { memberFetch } from "./tls_files.ts";

function pair() {
  const received: Headers[] = [];
  const leader = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    received.push(req.headers);
    return new Response(`leader got ${await req.text()}`);
  });
  const leaderUrl = `http://127.0.0.1:${leader.addr.port}`;
  const members = memberFetch(undefined);
  const handler = forwardingHandler({
    view: { isLeader: () => false, leaderUrl: () => leaderUrl },
    local: () => new Response("served by the follower", { status: 500 }),
    requestBytesMax: 1 << 20,
    fetch: members.fetch,
  });
  const follower = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request, info) => handler(request, info),
  );
  return {
    port: follower.addr.port,
    received,
    close: async () => {
      members.close();
      await follower.shutdown();
      await leader.shutdown();
    },
  };
}

/** Sends `head` (lines without the blank line) and `body` on a raw connection; the answer's text. */
async function send(port: number, head: string[], body: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const lines = [...head, `content-length: ${new TextEncoder().encode(body).length}`];
    await conn.write(new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n" + body));
    let text = "";
    const buffer = new Uint8Array(4096);
    // The answer has a content-length; read until all of its body arrived.
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) return text;
      text += new TextDecoder().decode(buffer.subarray(0, n));
      // The follower answers an `expect: 100-continue` itself.
      text = text.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, "");
      const end = text.indexOf("\r\n\r\n");
      const length = /\r\ncontent-length: (\d+)/i.exec(text)?.[1];
      if (end >= 0 && length !== undefined && text.length >= end + 4 + Number(length)) return text;
    }
  } finally {
    conn.close();
  }
}

const endToEnd = {
  "authorization": "Bearer app-secret",
  "content-type": "application/json",
  "x-amz-date": "20261206T110000Z",
  "x-amz-target": "AmazonSQS.SendMessage",
  "x-custom": "kept",
  "x-request-id": "r-1",
};

Deno.test("a forward carries no hop-by-hop header of the client's and every end-to-end one", async () => {
  const cluster = pair();
  try {
    const answer = await send(cluster.port, [
      "POST /v1/queues/orders/messages HTTP/1.1",
      "host: follower.example:9876",
      "Connection: keep-alive, X-Hop-One ,x-hop-two",
      "x-hop-one: for the follower only",
      "x-hop-two: for the follower only",
      "keep-alive: timeout=5, max=100",
      "proxy-connection: keep-alive",
      "proxy-authorization: Basic cHJveHk6c2VjcmV0",
      "te: trailers",
      "trailer: x-checksum",
      "upgrade: websocket",
      "expect: 100-continue",
      ...Object.entries(endToEnd).map(([name, value]) => `${name}: ${value}`),
    ], '{"messages":[]}');
    assert.match(answer, /^HTTP\/1\.1 200 /, answer);
    assert.match(answer, /leader got \{"messages":\[\]\}$/);
    assert.equal(cluster.received.length, 1);
    const got = cluster.received[0];
    for (
      const name of [
        "connection",
        "x-hop-one",
        "x-hop-two",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "transfer-encoding",
      ]
    ) {
      assert.equal(got.get(name), null, `${name} reached the leader: ${got.get(name)}`);
    }
    for (const [name, value] of Object.entries(endToEnd)) assert.equal(got.get(name), value);
    assert.equal(got.get(forwardedHeader), "1");
    assert.equal(got.get(forwardedHostHeader), "follower.example:9876");
    assert.equal(got.get("content-length"), "15");
  } finally {
    await cluster.close();
  }
});

Deno.test("a chunked body is forwarded with its length, without the client's framing", async () => {
  const cluster = pair();
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: cluster.port });
    const request = [
      "POST /v1/queues/orders/messages HTTP/1.1",
      "host: follower.example",
      "transfer-encoding: chunked",
      "te: trailers",
      "x-custom: kept",
      "",
      "5",
      "hello",
      "0",
      "",
      "",
    ].join("\r\n");
    await conn.write(new TextEncoder().encode(request));
    const buffer = new Uint8Array(4096);
    let text = "";
    while (!text.includes("leader got hello")) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
    conn.close();
    assert.match(text, /^HTTP\/1\.1 200 [^]*leader got hello/, text);
    const got = cluster.received[0];
    assert.equal(got.get("transfer-encoding"), null);
    assert.equal(got.get("te"), null);
    assert.equal(got.get("content-length"), "5");
    assert.equal(got.get("x-custom"), "kept");
  } finally {
    await cluster.close();
  }
});

Deno.test("a connection header naming no valid header name drops nothing else and is not relayed", async () => {
  const cluster = pair();
  try {
    const answer = await send(cluster.port, [
      "POST /v1/queues/orders/messages HTTP/1.1",
      "host: follower.example",
      "connection: keep-alive, , bad name, x-custom",
      "x-custom: dropped: named by connection",
      "x-other: kept",
    ], "{}");
    assert.match(answer, /^HTTP\/1\.1 200 /, answer);
    const got = cluster.received[0];
    assert.equal(got.get("connection"), null);
    assert.equal(got.get("x-custom"), null);
    assert.equal(got.get("x-other"), "kept");
  } finally {
    await cluster.close();
  }
});
