/**
 * Every door reads its bodies within the node's one `BodyBudget`: a request that does not fit is
 * answered at once in its door's shape (v1 503 `NotReady` with `Retry-After`, SQS 503
 * `ServiceUnavailable`, CMQ 6000), its body unread; a body that stalls is abandoned (v1 and SQS
 * 408 `RequestTimeout`, CMQ 4000); and the reservations come back whatever happened.
 */
import assert from "node:assert/strict";
import { door } from "./_access_fixtures.ts";
import { manualBudget, streamedRequest, trickle, until } from "./_body_timers.ts";
import { BodyBudget, type BodyBytes } from "../service/mod.ts";

const base = "http://node";
const v1Hot = {
  path: "/v1/queues/orders/messages",
  headers: { "content-type": "application/json" },
};

/** One request per way in: the v1 fast path, v1 through hono, CMQ, SQS JSON and SQS query. */
const doors = [
  { name: "v1 direct", ...v1Hot, method: "POST", body: '{"messages":[{"body":"a"}]}' },
  {
    name: "v1 hono",
    path: "/v1/queues/orders",
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: "{}",
  },
  { name: "cmq", path: "/v2/index.php", method: "POST", headers: {}, body: "Action=ListQueue" },
  {
    name: "sqs json",
    path: "/",
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.0",
      "x-amz-target": "AmazonSQS.ListQueues",
    },
    body: "{}",
  },
  {
    name: "sqs query",
    path: "/",
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "Action=ListQueues&Version=2012-11-05",
  },
] as const;

type Door = typeof doors[number];

function requestOf(each: Door, body: ReadableStream<Uint8Array>, declared?: number): Request {
  const request = streamedRequest(`${base}${each.path}`, body, each.headers, declared);
  return each.method === "POST" ? request : new Request(request, { method: each.method });
}

/** What each door answers a body the budget can't hold, or one that stalled. */
async function expectRefusal(each: Door, response: Response, kind: "busy" | "stalled") {
  const text = await response.text();
  const what = `${each.name}: ${response.status} ${text}`;
  if (each.name === "cmq") {
    assert.equal(response.status, 200, what);
    assert.equal(JSON.parse(text).code, kind === "busy" ? 6000 : 4000, what);
    return;
  }
  assert.equal(response.status, kind === "busy" ? 503 : 408, what);
  if (kind === "busy") assert.equal(response.headers.get("retry-after"), "1", what);
  if (each.name.startsWith("v1")) {
    assert.equal(JSON.parse(text).error.code, kind === "busy" ? "NotReady" : "RequestTimeout");
  } else {
    assert.match(text, kind === "busy" ? /ServiceUnavailable/ : /RequestTimeout/, what);
  }
}

Deno.test("with the budget held by a slow body, every door answers 503 at once, unread", async () => {
  const { bodies } = manualBudget({ bytesMax: 10_000 });
  const { app } = await door({ bodies });
  for (const holder of doors) {
    const slow = trickle();
    const held = app.fetch(requestOf(holder, slow.stream, 9_000));
    await until(() => bodies.readingCount === 1, `${holder.name}'s read`);
    for (const each of doors) {
      const body = trickle();
      const refused = requestOf(each, body.stream, 2_000);
      await expectRefusal(each, await app.fetch(refused), "busy");
      assert.equal(refused.bodyUsed, false, `${each.name} read the refused body`);
    }
    // The holder's client goes away: its reservation comes back.
    slow.fail();
    await (await held).body?.cancel();
    assert.equal(bodies.reservedBytes, 0, `${holder.name} kept its reservation`);
    // Each door serves again.
    for (const each of doors) {
      const response = await app.fetch(
        new Request(`${base}${each.path}`, { ...each, body: each.body }),
      );
      await response.body?.cancel();
      assert.notEqual(response.status, 503, `${each.name} after ${holder.name}`);
    }
  }
  assert.equal(bodies.reservedBytes, 0);
  assert.equal(bodies.readingCount, 0);
});

Deno.test("a body that stops arriving is abandoned on every door, in its door's shape", async () => {
  const { bodies, timers } = manualBudget({ bytesMax: 1 << 20 });
  const { app } = await door({ bodies });
  for (const declared of [100, undefined]) {
    for (const each of doors) {
      const body = trickle();
      const answer = app.fetch(requestOf(each, body.stream, declared));
      body.send(10);
      await until(() => bodies.readingCount === 1, `${each.name}'s read`);
      timers.tick(2);
      await expectRefusal(each, await answer, "stalled");
      assert.equal(bodies.reservedBytes, 0);
    }
  }
});

Deno.test("the CMQ door's unsigned bodies count against the budget before any signature is checked", async () => {
  const { bodies } = manualBudget({ bytesMax: 1 << 20 });
  // With keys, a stranger's CMQ body is read before the door can tell it is a stranger's.
  const { app, calls } = await door({ keys: { AKIDadmin: ["*"] }, bodies });
  const strangers = Array.from({ length: 3 }, () => trickle());
  const held = strangers.map((each) =>
    app.fetch(streamedRequest(`${base}/v2/index.php`, each.stream, {}, 400_000))
  );
  await until(() => bodies.readingCount === 2, "two strangers' reads");
  // The third did not fit: refused at once, unread; the node holds at most its budget.
  const third = await held[2];
  assert.equal((await third.json()).code, 6000);
  assert.ok(bodies.reservedBytes <= bodies.bytesMax);
  for (const each of strangers.slice(0, 2)) {
    each.send(400_000);
    each.end();
  }
  // Read whole, they are refused for what they are: unsigned.
  for (const answer of held.slice(0, 2)) {
    assert.equal((await (await answer).json()).code, 4100);
  }
  assert.equal(bodies.reservedBytes, 0);
  assert.deepEqual(calls, []);
});

Deno.test("many requests of every outcome leave the budget at 0", async () => {
  const { bodies, timers } = manualBudget({ bytesMax: 64 << 20 });
  const { app } = await door({ bodies, requestBytesMax: 1 << 20 });
  const answers: Promise<Response>[] = [];
  const rounds = 10;
  for (let round = 0; round < rounds; round++) {
    for (const each of doors) {
      answers.push(Promise.resolve(app.fetch(new Request(`${base}${each.path}`, { ...each }))));
      const gone = trickle();
      answers.push(Promise.resolve(app.fetch(requestOf(each, gone.stream, 1000))));
      gone.send(10);
      gone.fail();
      const stalled = trickle();
      answers.push(Promise.resolve(app.fetch(requestOf(each, stalled.stream))));
      stalled.send(10);
      const tooLarge = trickle();
      answers.push(Promise.resolve(app.fetch(requestOf(each, tooLarge.stream))));
      tooLarge.send(13 << 20);
    }
  }
  await until(
    () => bodies.readingCount <= rounds * doors.length,
    "the reads that end by themselves",
  );
  timers.tick(3);
  for (const answer of answers) await (await answer).body?.cancel();
  assert.equal(bodies.reservedBytes, 0);
  assert.equal(bodies.readingCount, 0);
});

Deno.test("over a real connection: a stalled body holds its reservation until abandoned or gone", async () => {
  const { bodies, timers } = manualBudget({ bytesMax: 100_000 });
  const { app } = await door({ bodies });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  const head = (length: number) =>
    new TextEncoder().encode(
      `POST /v1/queues/orders/messages HTTP/1.1\r\nhost: node\r\n` +
        `content-type: application/json\r\ncontent-length: ${length}\r\n\r\n{"messages"`,
    );
  const url = `http://127.0.0.1:${server.addr.port}/v1/queues/orders/messages`;
  const send = (body: string) =>
    fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
  try {
    // A client that sends 11 of 60,000 declared bytes and then nothing.
    const slowloris = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await slowloris.write(head(60_000));
    await until(() => bodies.reservedBytes === 60_000, "the stalled body's reservation");
    const busy = await send(`{"messages":[{"body":"${"x".repeat(50_000)}"}]}`);
    assert.equal(busy.status, 503);
    assert.equal((await busy.json()).error.code, "NotReady");
    // Small enough, served.
    const served = await send('{"messages":[{"body":"a"}]}');
    await served.body?.cancel();
    assert.equal(served.status, 200);
    // The client goes away: its reservation comes back.
    slowloris.close();
    await until(() => bodies.reservedBytes === 0, "the gone client's reservation back");

    // Another stalls, and is abandoned: 408 to it, the reservation back.
    const second = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await second.write(head(60_000));
    await until(() => bodies.readingCount === 1, "the second read");
    timers.tick(2);
    const answer = new Uint8Array(4096);
    const read = await second.read(answer);
    assert.match(new TextDecoder().decode(answer.subarray(0, read ?? 0)), /^HTTP\/1.1 408/);
    assert.equal(bodies.reservedBytes, 0);
    second.close();
  } finally {
    await server.shutdown();
  }
});

/** `Deno.serve`'s connection info for a client on `port`. */
function connection(port: number): Deno.ServeHandlerInfo {
  const remoteAddr = { transport: "tcp" as const, hostname: "10.0.0.7", port };
  return { remoteAddr, completed: Promise.resolve() };
}

Deno.test("a connection holding its share of the budget: every door answers its next body 503, another connection's is served", async () => {
  const { bodies } = manualBudget({ bytesMax: 64 << 20 });
  const { app } = await door({ bodies });
  const first = connection(40001);
  const held = Array.from({ length: 4 }, () => trickle());
  const holding = held.map((each) => app.fetch(requestOf(doors[0], each.stream, 4 << 20), first));
  await until(() => bodies.reservedBytes === bodies.connectionBytesMax, "the share held");
  for (const each of doors) {
    const refused = requestOf(each, trickle().stream, 2_000);
    await expectRefusal(each, await app.fetch(refused, first), "busy");
    assert.equal(refused.bodyUsed, false, `${each.name} read the refused body`);
    const served = await app.fetch(
      new Request(`${base}${each.path}`, { ...each, body: each.body }),
      connection(40002),
    );
    await served.body?.cancel();
    assert.notEqual(served.status, 503, `${each.name} on another connection`);
  }
  for (const each of held) each.fail();
  for (const answer of holding) await (await answer).body?.cancel();
  assert.equal(bodies.reservedBytes, 0);
  assert.equal(bodies.connectionCount, 0);
});

Deno.test("over real connections: HTTP/2 streams of one connection share its share; another connection's body is served", async () => {
  const { bodies } = manualBudget({ bytesMax: 8_000 });
  const { app } = await door({ bodies, requestBytesMax: 1_000 });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  const url = `http://127.0.0.1:${server.addr.port}/v1/queues/orders/messages`;
  const headers = { "content-type": "application/json" };
  // One HTTP/2 connection (cleartext, prior knowledge) carries every request of this client.
  const multiplexed = Deno.createHttpClient({ http1: false, http2: true });
  const slow = [trickle(), trickle()];
  try {
    const holding = slow.map((each) =>
      fetch(url, { method: "POST", headers, body: each.stream, client: multiplexed })
        .then((response) => response.body?.cancel(), () => {})
    );
    for (const each of slow) each.send(1_000);
    await until(() => bodies.reservedBytes === 2_000, "two streams' bodies held");
    const body = '{"messages":[{"body":"a"}]}';
    const busy = await fetch(url, { method: "POST", headers, body, client: multiplexed });
    assert.equal(busy.status, 503);
    assert.match((await busy.json()).error.message, /this connection is sending 2000 bytes/);
    // Another connection (a plain fetch's own), with the node's budget far from full.
    const served = await fetch(url, { method: "POST", headers, body });
    await served.body?.cancel();
    assert.equal(served.status, 200);
    for (const each of slow) each.fail();
    await Promise.all(holding);
    await until(() => bodies.reservedBytes === 0, "the streams' reservations back");
    assert.equal(bodies.connectionCount, 0);
  } finally {
    for (const each of slow) {
      try {
        each.fail(); // ends the held streams when an assertion failed first
      } catch { /* already ended */ }
    }
    multiplexed.close();
    await server.shutdown();
  }
});

/** A budget that notes, as each read begins, how many connections hold a reservation. */
class WatchedBudget extends BodyBudget {
  readonly connectionsAtRead: number[] = [];

  override read(request: Request, bytesMax: number): Promise<BodyBytes> {
    const reading = super.read(request, bytesMax);
    this.connectionsAtRead.push(this.connectionCount);
    return reading;
  }
}

Deno.test("a request the direct path reads and hands to hono counts against its connection in hono's read too", async () => {
  const bodies = new WatchedBudget();
  const { app } = await door({ bodies });
  // Not plainly valid (no message): read by the direct path, then rebuilt and served by hono.
  // Declared, as a client's is: the reservation is then taken as the read begins.
  const body = '{"messages":[]}';
  const request = new Request(`${base}${v1Hot.path}`, {
    method: "POST",
    headers: { ...v1Hot.headers, "content-length": `${body.length}` },
    body,
  });
  const response = await app.fetch(request, connection(40003));
  assert.equal(response.status, 400, await response.text());
  assert.deepEqual(bodies.connectionsAtRead, [1, 1], "the direct path's read, then hono's");
  assert.equal(bodies.connectionCount, 0);
});
