/**
 * `BodyBudget`: the node's budget of request bodies being read at once, and the stall timeout.
 * Reservations refuse what does not fit without reading it, and come back on every path.
 */
import assert from "node:assert/strict";
import { BodyBudget, BodyReadError, wholeReadBytesMax } from "./mod.ts";
import { manualBudget, streamedRequest, trickle, until } from "../http/_body_timers.ts";

const url = "http://node/v1/queues/q/messages";

async function refusal(read: Promise<unknown>): Promise<string> {
  const error = await read.then(() => null, (error) => error);
  assert.ok(error instanceof BodyReadError, `expected a BodyReadError, got ${error}`);
  return error.reason;
}

Deno.test("a declared length that does not fit is refused busy, its body unread", async () => {
  const { bodies } = manualBudget({ bytesMax: 1000 });
  const slow = trickle();
  const holding = bodies.read(streamedRequest(url, slow.stream, {}, 800), 4096);
  await until(() => bodies.readingCount === 1, "the first read");
  assert.equal(bodies.reservedBytes, 800);

  const next = trickle();
  const refused = streamedRequest(url, next.stream, {}, 300);
  assert.equal(await refusal(bodies.read(refused, 4096)), "busy");
  assert.equal(refused.bodyUsed, false, "the refused body was read");
  assert.equal(bodies.reservedBytes, 800);

  // What fits still goes.
  const small = await bodies.read(new Request(url, { method: "POST", body: "abc" }), 4096);
  assert.equal(new TextDecoder().decode(small), "abc");

  slow.send(800);
  slow.end();
  assert.equal((await holding).byteLength, 800);
  assert.equal(bodies.reservedBytes, 0);
  assert.equal(bodies.readingCount, 0);
});

Deno.test("a chunked body reserves as it arrives; past the budget it is refused and cancelled", async () => {
  const { bodies } = manualBudget({ bytesMax: 1000 });
  const body = trickle();
  const read = bodies.read(streamedRequest(url, body.stream), 4096);
  body.send(600);
  await until(() => bodies.reservedBytes === 600, "the first chunk's reservation");
  body.send(600);
  assert.equal(await refusal(read), "busy");
  assert.ok(body.cancelled, "the rest of the body was drained instead of cancelled");
  assert.equal(bodies.reservedBytes, 0);
  assert.equal(bodies.readingCount, 0);
});

Deno.test("a small body that does not arrive whole is abandoned as stalled, its reservation back", async () => {
  const { bodies, timers } = manualBudget({ bytesMax: 1000 });
  const body = trickle();
  const read = bodies.read(streamedRequest(url, body.stream, {}, 500), 4096);
  await until(() => bodies.readingCount === 1, "the read");
  body.send(100);
  timers.tick(); // 1 tick: not yet past the stall (1 s = 1 tick, abandoned after more)
  assert.equal(bodies.readingCount, 1);
  timers.tick();
  assert.equal(await refusal(read), "stalled");
  assert.equal(bodies.reservedBytes, 0);
  assert.equal(bodies.readingCount, 0);
});

Deno.test("a long body is abandoned only after a stall, and its read is cancelled", async () => {
  const { bodies, timers } = manualBudget({ bytesMax: 1 << 20 });
  const body = trickle();
  const declared = wholeReadBytesMax + 1000;
  const read = bodies.read(streamedRequest(url, body.stream, {}, declared), 1 << 20);
  await until(() => bodies.readingCount === 1, "the read");
  // Progress before every sweep keeps it alive.
  for (let round = 0; round < 5; round++) {
    body.send(1000);
    await new Promise((resolve) => setTimeout(resolve, 10));
    timers.tick();
  }
  assert.equal(bodies.readingCount, 1, "a body that progresses was abandoned");
  timers.tick(2);
  assert.equal(await refusal(read), "stalled");
  assert.ok(body.cancelled, "the abandoned read was not cancelled");
  assert.equal(bodies.reservedBytes, 0);
});

Deno.test("over the bound, failed, or empty: the reservation always comes back", async () => {
  const { bodies } = manualBudget({ bytesMax: 1 << 20 });
  // Declared over the bound: refused before reading.
  const big = streamedRequest(url, trickle().stream, {}, 5000);
  assert.equal(await refusal(bodies.read(big, 4096)), "too_large");
  assert.equal(big.bodyUsed, false);
  // Chunked past the bound.
  const chunked = trickle();
  const overRead = bodies.read(streamedRequest(url, chunked.stream), 4096);
  chunked.send(5000);
  assert.equal(await refusal(overRead), "too_large");
  // The client goes away mid-body, on both reads.
  for (const declared of [undefined, 3000]) {
    const failing = trickle();
    const failed = bodies.read(streamedRequest(url, failing.stream, {}, declared), 4096);
    failing.send(10);
    await until(() => bodies.readingCount === 1, "the read");
    failing.fail();
    assert.equal(await refusal(failed), "unreadable");
  }
  assert.equal((await bodies.read(new Request(url, { method: "POST" }), 4096)).byteLength, 0);
  assert.equal(bodies.reservedBytes, 0);
  assert.equal(bodies.readingCount, 0);
});

Deno.test("many reads of every kind leave nothing reserved", async () => {
  const { bodies, timers } = manualBudget({ bytesMax: 64 << 20 });
  const reads: Promise<unknown>[] = [];
  for (let round = 0; round < 200; round++) {
    reads.push(bodies.read(new Request(url, { method: "POST", body: "x".repeat(round) }), 4096));
    const long = trickle();
    reads.push(bodies.read(streamedRequest(url, long.stream, {}, 100_000), 1 << 20));
    long.send(100_000);
    long.end();
    const stalled = trickle();
    reads.push(bodies.read(streamedRequest(url, stalled.stream, {}, 200), 4096).catch(() => {}));
    const gone = trickle();
    reads.push(bodies.read(streamedRequest(url, gone.stream), 4096).catch(() => {}));
    gone.send(10);
    gone.fail();
  }
  await until(() => bodies.readingCount <= 200, "the reads that end by themselves");
  timers.tick(3);
  await Promise.all(reads);
  assert.equal(bodies.reservedBytes, 0);
  assert.equal(bodies.readingCount, 0);
});

Deno.test("the sweep runs only while bodies are being read", async () => {
  let set = 0;
  const bodies = new BodyBudget({ timers: { setTimer: () => void set++ } });
  await bodies.read(new Request(url, { method: "POST", body: "abc" }), 4096);
  assert.equal(set, 1);
  // Until the sweep runs (and finds nothing), no other timer is set.
  await bodies.read(new Request(url, { method: "POST", body: "abc" }), 4096);
  assert.equal(set, 1);
});

Deno.test("close cancels the sweep's pending tick, and no read after it starts one", async () => {
  const set: number[] = [];
  const cleared: unknown[] = [];
  const timers = {
    setTimer: (_delayMs: number, _callback: () => void) => set.push(set.length) - 1,
    clearTimer: (handle: unknown) => void cleared.push(handle),
  };
  const bodies = new BodyBudget({ timers });
  const url = "http://door/v1/queues/q/messages";
  await bodies.read(new Request(url, { method: "POST", body: "abc" }), 4096);
  assert.deepEqual(set, [0], "a read starts the sweep");
  bodies.close(); // was: the tick stayed pending a second after a closed node's last read
  assert.deepEqual(cleared, [0]);
  await bodies.read(new Request(url, { method: "POST", body: "abc" }), 4096);
  assert.deepEqual(set, [0], "no sweep after close");
});

/** `Deno.serve`'s connection info for a client on `port`. */
function connection(port: number): Deno.ServeHandlerInfo {
  const remoteAddr = { transport: "tcp" as const, hostname: "10.0.0.7", port };
  return { remoteAddr, completed: Promise.resolve() };
}

function onConnection(bodies: BodyBudget, request: Request, info: Deno.ServeHandlerInfo) {
  bodies.noteConnection(request, info);
  return request;
}

Deno.test("a connection holding its share gets busy for its next body; another connection's goes", async () => {
  const { bodies } = manualBudget({ bytesMax: 1000 });
  assert.equal(bodies.connectionBytesMax, 250);
  const first = connection(40001);
  const held = [trickle(), trickle()];
  const holding = held.map((body, at) =>
    bodies.read(
      onConnection(bodies, streamedRequest(url, body.stream, {}, 200 - 150 * at), first),
      200,
    )
  );
  await until(() => bodies.readingCount === 2, "the first connection's reads");
  assert.equal(bodies.reservedBytes, 250);
  // Its next body, declared or chunked, is refused unread (was: read, up to the node's budget).
  const next = streamedRequest(url, trickle().stream, {}, 10);
  assert.equal(await refusal(bodies.read(onConnection(bodies, next, first), 200)), "busy");
  assert.equal(next.bodyUsed, false, "the refused body was read");
  const chunked = trickle();
  const chunkedRead = bodies.read(
    onConnection(bodies, streamedRequest(url, chunked.stream), first),
    200,
  );
  chunked.send(10);
  const error = await chunkedRead.then(() => null, (error) => error);
  assert.match(error.message, /this connection is sending 250 bytes .*\(at most 250 at once/);
  assert.ok(chunked.cancelled, "the refused chunked body was not cancelled");
  // Another connection's body, and one whose connection is unknown, still go through.
  const other = new Request(url, { method: "POST", body: "x".repeat(200) });
  assert.equal(
    (await bodies.read(onConnection(bodies, other, connection(40002)), 200)).byteLength,
    200,
  );
  const unknown = new Request(url, { method: "POST", body: "x".repeat(200) });
  assert.equal((await bodies.read(unknown, 200)).byteLength, 200);
  // Its reads end: the share comes back.
  held.forEach((body, at) => {
    body.send(200 - 150 * at);
    body.end();
  });
  await Promise.all(holding);
  assert.equal(bodies.connectionCount, 0);
  assert.equal(bodies.reservedBytes, 0);
  const again = new Request(url, { method: "POST", body: "abc" });
  assert.equal((await bodies.read(onConnection(bodies, again, first), 200)).byteLength, 3);
});

Deno.test("one body of its door's bound always fits a connection's share, not two", async () => {
  // The smallest budget is under four of the largest bodies: a share is at least one body.
  const { bodies } = manualBudget({ bytesMax: 1000 });
  const first = connection(40001);
  const body = trickle();
  const reading = bodies.read(
    onConnection(bodies, streamedRequest(url, body.stream, {}, 600), first),
    600,
  );
  await until(() => bodies.readingCount === 1, "the read");
  const second = streamedRequest(url, trickle().stream, {}, 100);
  assert.equal(await refusal(bodies.read(onConnection(bodies, second, first), 600)), "busy");
  body.send(600);
  body.end();
  assert.equal((await reading).byteLength, 600);
  assert.equal(bodies.connectionCount, 0);
});

Deno.test("every way a connection's read ends gives its share back", async () => {
  const { bodies, timers } = manualBudget({ bytesMax: 64 << 20 });
  const reads: Promise<unknown>[] = [];
  for (let round = 0; round < 50; round++) {
    const info = connection(40000 + (round % 3));
    const on = (request: Request) => onConnection(bodies, request, info);
    reads.push(
      bodies.read(on(new Request(url, { method: "POST", body: "x".repeat(round) })), 4096),
    );
    const long = trickle();
    reads.push(bodies.read(on(streamedRequest(url, long.stream, {}, 100_000)), 1 << 20));
    long.send(100_000);
    long.end();
    const stalled = trickle();
    reads.push(
      bodies.read(on(streamedRequest(url, stalled.stream, {}, 200)), 4096).catch(() => {}),
    );
    const gone = trickle();
    reads.push(bodies.read(on(streamedRequest(url, gone.stream)), 4096).catch(() => {}));
    gone.send(10);
    gone.fail();
    const tooLarge = trickle();
    reads.push(bodies.read(on(streamedRequest(url, tooLarge.stream)), 4096).catch(() => {}));
    tooLarge.send(5000);
  }
  await until(() => bodies.readingCount <= 50, "the reads that end by themselves");
  timers.tick(3);
  await Promise.all(reads);
  assert.equal(bodies.reservedBytes, 0);
  assert.equal(bodies.connectionCount, 0);
});
