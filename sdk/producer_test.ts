import assert from "node:assert/strict";
import { FakeSender } from "./_fake_queue.ts";
import { waitFor } from "./_test_helpers.ts";
import { CmqdClient } from "./client.ts";
import { CmqdError } from "./errors.ts";
import { Producer } from "./producer.ts";
import type { SendMessageEntry } from "./protocol.ts";

const bodies = (count: number, prefix = "m") =>
  Array.from({ length: count }, (_, index) => `${prefix}${index}`);

Deno.test("sends made together leave as one batch and each resolves with its own id", async () => {
  const client = new FakeSender();
  const producer = new Producer(client, "q", { lingerMs: 1 });
  const sends = ["a", "b", "c"].map((body) => producer.send(body));
  await waitFor("the batch", () => client.calls.length === 1);
  assert.deepEqual(client.bodies(0), ["a", "b", "c"]);
  client.acknowledge(0);
  const sent = await Promise.all(sends);
  assert.deepEqual(sent.map((message) => message.id), ["id-a", "id-b", "id-c"]);
  assert.deepEqual(sent.map((message) => message.sequence), [1, 2, 3]);
  assert.equal(producer.stats.batches, 1);
  assert.equal(producer.stats.sent, 3);
});

Deno.test("a full batch leaves at once and batches never exceed batchSize", async () => {
  const client = new FakeSender();
  // A linger of a minute: only fullness (or flush) can send these.
  const producer = new Producer(client, "q", { batchSize: 16, lingerMs: 60_000 });
  const sends = bodies(40).map((body) => producer.send(body));
  await waitFor("two full batches", () => client.calls.length === 2);
  assert.deepEqual(client.calls.map((call) => call.entries.length), [16, 16]);
  const flushed = producer.flush();
  await waitFor("the rest on flush", () => client.calls.length === 3);
  assert.equal(client.calls[2].entries.length, 8);
  [0, 1, 2].forEach((index) => client.acknowledge(index));
  await flushed;
  assert.deepEqual(
    (await Promise.all(sends)).map((sent) => sent.id),
    bodies(40).map((b) => `id-${b}`),
  );
});

Deno.test("at most inflightBatchesMax batches are on the wire", async () => {
  const client = new FakeSender();
  const producer = new Producer(client, "q", { batchSize: 2, inflightBatchesMax: 2 });
  const sends = bodies(6).map((body) => producer.send(body));
  await waitFor("two batches", () => client.calls.length === 2);
  assert.equal(producer.stats.inflightBatches, 2);
  client.acknowledge(0);
  await waitFor("the third batch after one answer", () => client.calls.length === 3);
  client.acknowledge(1);
  client.acknowledge(2);
  await Promise.all(sends);
  assert.equal(producer.stats.inflightBatches, 0);
});

Deno.test("back-pressure: send waits while pendingSendsMax sends are unanswered", async () => {
  const client = new FakeSender();
  const producer = new Producer(client, "q", {
    batchSize: 4,
    pendingSendsMax: 4,
    inflightBatchesMax: 1,
  });
  const first = bodies(4, "a").map((body) => producer.send(body));
  let laterAccepted = 0;
  const later = bodies(2, "b").map((body) =>
    producer.send(body).then((sent) => (laterAccepted++, sent))
  );
  await waitFor("the first batch", () => client.calls.length === 1);
  assert.equal(producer.stats.pendingSends, 4, "the two later sends wait outside");
  assert.equal(laterAccepted, 0);
  client.acknowledge(0);
  await Promise.all(first);
  await waitFor("the later sends' batch", () => client.calls.length === 2);
  assert.deepEqual(client.bodies(1), ["b0", "b1"]);
  client.acknowledge(1);
  await Promise.all(later);
  assert.equal(producer.stats.pendingSends, 0);
});

Deno.test("a failed batch rejects each of its sends with the typed error", async () => {
  const client = new FakeSender();
  const producer = new Producer(client, "q");
  const sends = ["a", "b"].map((body) => producer.send(body).catch((error) => error));
  await waitFor("the batch", () => client.calls.length === 1);
  client.calls[0].answer.reject(new CmqdError("BacklogFull", "full", { status: 429 }));
  const errors = await Promise.all(sends);
  for (const error of errors) {
    assert.ok(error instanceof CmqdError);
    assert.equal(error.code, "BacklogFull");
  }
  assert.equal(producer.stats.failed, 2);
});

Deno.test("a message the broker names as bad fails alone; the rest are sent again", async () => {
  const client = new FakeSender();
  const producer = new Producer(client, "q");
  const sends = ["a", "too big", "c"].map((body) => producer.send(body).catch((error) => error));
  await waitFor("the batch", () => client.calls.length === 1);
  client.calls[0].answer.reject(
    new CmqdError("MessageTooLarge", "too large", { status: 413, field: "messages.1.body" }),
  );
  await waitFor("the batch without it", () => client.calls.length === 2);
  assert.deepEqual(client.bodies(1), ["a", "c"]);
  client.acknowledge(1);
  const [a, bad, c] = await Promise.all(sends);
  assert.equal(a.id, "id-a");
  assert.equal(bad.code, "MessageTooLarge");
  assert.equal(c.id, "id-c");
});

Deno.test("close flushes pending sends, then refuses new ones with ProducerClosed", async () => {
  const client = new FakeSender();
  const producer = new Producer(client, "q", { lingerMs: 60_000 });
  const pending = producer.send("last");
  const closed = producer.close();
  await waitFor("the flushed batch", () => client.calls.length === 1);
  await assert.rejects(producer.send("late"), { code: "ProducerClosed" });
  client.acknowledge(0);
  await closed;
  assert.equal((await pending).id, "id-last");
  assert.equal(producer.closed, true);
  await producer.close(); // Idempotent.
});

Deno.test("flush waits for sends that were still waiting for room", async () => {
  const client = new FakeSender();
  const producer = new Producer(client, "q", {
    batchSize: 2,
    pendingSendsMax: 2,
    inflightBatchesMax: 1,
  });
  let settled = 0;
  const sends = bodies(5).map((body) => producer.send(body).then(() => settled++));
  let settledAtFlush = -1;
  let flushed = false;
  const flush = producer.flush().then(() => {
    settledAtFlush = settled;
    flushed = true;
  });
  for (let answered = 0; !flushed; answered++) {
    await waitFor(`batch ${answered}`, () => client.calls.length > answered || flushed);
    if (!flushed) client.acknowledge(answered);
  }
  await flush;
  assert.equal(settledAtFlush, 5);
  assert.ok(client.calls.every((call) => call.entries.length <= 2));
  await Promise.all(sends);
});

Deno.test("autoDedupId gives each message a distinct id and keeps the caller's", async () => {
  const client = new FakeSender();
  const producer = new Producer(client, "q", { autoDedupId: true });
  const sends = [producer.send("a"), producer.send({ body: "b", dedupId: "mine" })];
  await waitFor("the batch", () => client.calls.length === 1);
  const [a, b] = client.calls[0].entries;
  assert.match(a.dedupId ?? "", /^[0-9a-f-]{36}$/);
  assert.equal(b.dedupId, "mine");
  client.acknowledge(0);
  await Promise.all(sends);
});

Deno.test("with autoDedupId a batch whose answer was lost is retried with the same ids", async () => {
  const seen: string[] = [];
  let attempts = 0;
  const client = new CmqdClient({
    baseUrl: "http://node-a:8080",
    sleep: () => Promise.resolve(),
    fetch: async (input, init) => {
      seen.push(await new Request(input, init).text());
      if (attempts++ === 0) throw new TypeError("connection reset");
      return Response.json({ messages: [{ id: "m1", sequence: 1 }, { id: "m2", sequence: 2 }] });
    },
  });
  const producer = new Producer(client, "q", { autoDedupId: true });
  const sent = await Promise.all([producer.send("a"), producer.send("b")]);
  assert.deepEqual(sent.map((message) => message.id), ["m1", "m2"]);
  assert.equal(seen.length, 2);
  assert.equal(seen[0], seen[1], "the retry carries the very same dedupIds");
});

Deno.test("a group's messages never overtake each other across batches", async () => {
  const client = new FakeSender();
  const producer = new Producer(client, "q", { lingerMs: 1, inflightBatchesMax: 4 });
  const a1 = producer.send({ body: "a1", groupId: "a" });
  await waitFor("a1's batch", () => client.calls.length === 1);
  const later = [
    producer.send({ body: "a2", groupId: "a" }),
    producer.send({ body: "b1", groupId: "b" }),
    producer.send({ body: "free" }),
  ];
  await waitFor("the second batch", () => client.calls.length === 2);
  // a2 waits for a1's batch; b1 and the ungrouped message go at once.
  assert.deepEqual(client.bodies(1), ["b1", "free"]);
  client.acknowledge(1);
  await Promise.all(later.slice(1));
  assert.equal(client.calls.length, 2, "a2 still waits");
  client.acknowledge(0);
  await a1;
  await waitFor("a2's batch", () => client.calls.length === 3);
  assert.deepEqual(client.bodies(2), ["a2"]);
  client.acknowledge(2);
  await Promise.all(later);
});

Deno.test("fifo: true orders messages without a groupId as one group", async () => {
  const client = new FakeSender();
  const producer = new Producer(client, "q", { batchSize: 1, inflightBatchesMax: 4, fifo: true });
  const sends = ["x", "y"].map((body) => producer.send(body));
  await waitFor("the first batch", () => client.calls.length === 1);
  // The pump that sent x already passed over y: y's group is on the wire.
  assert.equal(client.calls.length, 1);
  assert.equal(producer.stats.pendingSends, 2);
  client.acknowledge(0);
  await waitFor("the second batch", () => client.calls.length === 2);
  client.acknowledge(1);
  await Promise.all(sends);
});

Deno.test("an aborted send is withdrawn while queued and rejects while waiting for room", async () => {
  const client = new FakeSender();
  const producer = new Producer(client, "q", {
    lingerMs: 60_000,
    pendingSendsMax: 1,
    batchSize: 4,
  });
  const queuedAbort = new AbortController();
  const queued = producer.send("withdrawn", { signal: queuedAbort.signal });
  const waitingAbort = new AbortController();
  const waiting = producer.send("waiting", { signal: waitingAbort.signal });
  waitingAbort.abort();
  await assert.rejects(waiting, { code: "Aborted" });
  queuedAbort.abort();
  await assert.rejects(queued, { code: "Aborted" });
  assert.equal(producer.stats.pendingSends, 0);
  const kept = producer.send("kept");
  const flushed = producer.flush();
  await waitFor("the batch", () => client.calls.length === 1);
  assert.deepEqual(client.bodies(0), ["kept"]);
  client.acknowledge(0);
  await flushed;
  await kept;
});

Deno.test("out-of-range options are refused", () => {
  const client = new FakeSender();
  assert.throws(() => new Producer(client, "q", { batchSize: 0 }), RangeError);
  assert.throws(() => new Producer(client, "q", { batchSize: 257 }), RangeError);
  assert.throws(() => new Producer(client, "q", { inflightBatchesMax: 0 }), RangeError);
  assert.throws(() => new Producer(client, "q", { lingerMs: -1 }), RangeError);
});

Deno.test("bodies that fit the byte budget only when counted exactly still share a batch", async () => {
  const client = new FakeSender();
  const producer = new Producer(client, "q", { batchBytesMax: 1000, lingerMs: 60_000 });
  // 428 + 428 bytes fit 1000, though 3 bytes per code unit would make each 1028; an emoji is two
  // code units and 4 bytes: 100 of them are 528 with the overhead, which no longer fits.
  const ascii = "a".repeat(300);
  const emoji = "\u{1F600}".repeat(100);
  const sends = [ascii, ascii, emoji, "b"].map((body) => producer.send(body));
  const flushed = producer.flush();
  await waitFor("two batches", () => client.calls.length === 2);
  assert.deepEqual(client.bodies(0), [ascii, ascii, "b"]);
  assert.deepEqual(client.bodies(1), [emoji]);
  [0, 1].forEach((index) => client.acknowledge(index));
  await flushed;
  assert.equal((await Promise.all(sends)).length, 4);
});

Deno.test("batches keep to batchBytesMax in UTF-8 bytes; a later message may pass one too big for the batch", async () => {
  const client = new FakeSender();
  const producer = new Producer(client, "q", { batchBytesMax: 1200, lingerMs: 60_000 });
  // Each entry counts its UTF-8 body plus 128 bytes: 528 ("é" is 2 bytes), 728, 129.
  const wide = "é".repeat(200);
  const sends = [wide, "x".repeat(600), "y"].map((body) => producer.send(body));
  const flushed = producer.flush();
  await waitFor("two batches", () => client.calls.length === 2);
  assert.deepEqual(client.bodies(0), [wide, "y"]);
  assert.deepEqual(client.bodies(1), ["x".repeat(600)]);
  [0, 1].forEach((index) => client.acknowledge(index));
  await flushed;
  assert.equal((await Promise.all(sends)).length, 3);
});

Deno.test("stats.failed counts every rejected send: aborted while queued, waiting for room or before", async () => {
  const client = new FakeSender();
  const producer = new Producer(client, "q", { lingerMs: 60_000, pendingSendsMax: 1 });
  const queuedAbort = new AbortController();
  const queued = producer.send("queued", { signal: queuedAbort.signal });
  const waitingAbort = new AbortController();
  const waiting = producer.send("waiting", { signal: waitingAbort.signal });
  waitingAbort.abort();
  await assert.rejects(waiting, { code: "Aborted" });
  queuedAbort.abort();
  await assert.rejects(queued, { code: "Aborted" });
  await assert.rejects(producer.send("late", { signal: AbortSignal.abort() }), {
    code: "Aborted",
  });
  await producer.close();
  await assert.rejects(producer.send("closed"), { code: "ProducerClosed" });
  assert.deepEqual(producer.stats, {
    sent: 0,
    failed: 4,
    batches: 0,
    pendingSends: 0,
    inflightBatches: 0,
  });
});

Deno.test("a send aborted just as a finishing batch hands it a slot is withdrawn, never sent", async () => {
  // The slot is handed over in one microtask and the send queued in a later one: an abort that
  // lands in between (say from a callback of the batch that just finished) must still withdraw
  // the send. Every gap of up to 12 microtasks after the first batch's answer is tried.
  for (let hops = 0; hops <= 12; hops++) {
    const client = new FakeSender();
    const producer = new Producer(client, "q", { pendingSendsMax: 1, lingerMs: 0 });
    const first = producer.send("first");
    const controller = new AbortController();
    const second = producer.send("second", { signal: controller.signal });
    let settled = false;
    const outcome = second.then(() => "sent", (error) => (error as CmqdError).code)
      .finally(() => (settled = true));
    await waitFor("the first batch", () => client.calls.length === 1);
    client.acknowledge(0);
    let chain = Promise.resolve();
    for (let hop = 0; hop < hops; hop++) chain = chain.then(() => {});
    void chain.then(() => controller.abort());
    await first;
    await waitFor("the second send to settle or go out", () => settled || client.calls.length > 1);
    if (client.calls.length > 1) client.acknowledge(1);
    assert.equal(await outcome, "Aborted", `an abort ${hops} microtasks after the answer`);
    assert.equal(client.calls.length, 1, `an abort ${hops} microtasks after the answer`);
    await producer.close();
  }
});

Deno.test("a send whose body is not a string fails alone with InvalidParameter; the others go on", async () => {
  // From JavaScript, `producer.send(JSON.stringify(undefined))` passes undefined: before, the
  // batch taking it threw from a timer (an uncaught error) and the other sends never settled.
  const client = new FakeSender();
  const producer = new Producer(client, "q", { lingerMs: 1 });
  const bad = [
    producer.send(undefined as unknown as string),
    producer.send({ body: null } as unknown as SendMessageEntry),
    producer.send({ groupId: "g" } as unknown as SendMessageEntry),
  ];
  const good = producer.send("fine");
  for (const send of bad) await assert.rejects(send, { code: "InvalidParameter", field: "body" });
  await waitFor("the batch", () => client.calls.length === 1);
  assert.deepEqual(client.bodies(0), ["fine"]);
  client.acknowledge(0);
  assert.equal((await good).id, "id-fine");
  await producer.close();
  assert.equal(producer.stats.failed, 3);
  assert.equal(producer.stats.pendingSends, 0);
});

Deno.test("a batch of bodies heavy in control characters stays under the broker's request bound", async () => {
  const client = new FakeSender();
  const producer = new Producer(client, "q", { lingerMs: 60_000 }); // batchBytesMax 1 MiB
  // 64 KiB of raw bytes each, 384 KiB as JSON carries them (`\u0001` is six bytes): fifteen of
  // them were taken for 1 MiB by their UTF-8 size, a 5.6 MiB request the broker refuses whole.
  const body = (index: number) => `${index}:` + "\u0001".repeat(64 * 1024);
  const sends = Array.from({ length: 16 }, (_, index) => producer.send(body(index)));
  const flushed = producer.flush();
  const requestBytesMax = 4 * 1024 * 1024; // the broker's (broker/engine/limits.ts)
  let sent = 0;
  for (let index = 0; sent < 16; index++) {
    await waitFor(`batch ${index}`, () => client.calls.length > index);
    const entries = client.calls[index].entries;
    const requestBytes = new TextEncoder().encode(JSON.stringify({ messages: entries })).length;
    assert.ok(requestBytes <= requestBytesMax, `request ${index}: ${requestBytes} bytes`);
    const bodyBytes = entries.reduce((sum, entry) => sum + JSON.stringify(entry.body).length, 0);
    assert.ok(bodyBytes <= 1024 * 1024, `batch ${index}: ${bodyBytes} body bytes`);
    sent += entries.length;
    client.acknowledge(index);
  }
  await flushed;
  assert.equal((await Promise.all(sends)).length, 16);
});

Deno.test("batches count attributes, groupId and dedupId: requests stay under the broker's bound", async (t) => {
  // The API's largest: 10 attributes, keys of 128 characters, values of 1,024. In `€` (three
  // bytes each) and `"` (two, escaped) a message carries 28 KiB beside a body of a few bytes:
  // 256 of them were taken as one batch of 35 KiB (bodies plus 128 bytes each), a 7 MiB request.
  const entry = (index: number): SendMessageEntry => ({
    body: `m${index}`,
    groupId: `${index}:` + '"'.repeat(120),
    dedupId: `${index}:` + "€".repeat(120),
    attributes: Object.fromEntries(
      Array.from({ length: 10 }, (_, key) => [
        `${key}`.padEnd(128, '"'),
        (key % 2 === 0 ? "€" : '"').repeat(1024),
      ]),
    ),
  });
  const requestBytesMax = 4 * 1024 * 1024; // the broker's (broker/engine/limits.ts)
  for (const batchBytesMax of [undefined, 64 * 1024 * 1024]) {
    await t.step(`batchBytesMax ${batchBytesMax ?? "default (1 MiB)"}`, async () => {
      const client = new FakeSender();
      const producer = new Producer(client, "q", {
        batchSize: 256,
        lingerMs: 60_000,
        batchBytesMax,
      });
      const sends = Array.from({ length: 256 }, (_, index) => producer.send(entry(index)));
      const flushed = producer.flush();
      let sent = 0;
      for (let index = 0; sent < 256; index++) {
        await waitFor(`batch ${index}`, () => client.calls.length > index);
        const entries = client.calls[index].entries;
        const requestBytes = new TextEncoder().encode(JSON.stringify({ messages: entries })).length;
        assert.ok(requestBytes <= requestBytesMax, `request ${index}: ${requestBytes} bytes`);
        if (batchBytesMax === undefined) {
          assert.ok(requestBytes <= 1024 * 1024, `request ${index}: ${requestBytes} bytes`);
        }
        sent += entries.length;
        client.acknowledge(index);
      }
      await flushed;
      assert.equal((await Promise.all(sends)).length, 256);
      assert.ok(client.calls.length > 1, "not one batch");
    });
  }
});

Deno.test("fields a JavaScript caller adds to an entry are counted: requests stay under the bound", async () => {
  const client = new FakeSender();
  // batchBytesMax 1 MiB.
  const producer = new Producer(client, "q", { batchSize: 256, lingerMs: 60_000 });
  // Not in the type, so neither counted nor dropped before: 100 of them, 48 KiB of extra field
  // and a 1 KiB string as delaySeconds each, left as one 4.8 MiB batch the broker refuses whole
  // (413); counted, the broker names the extra field and the message fails alone.
  const entry = (index: number) =>
    ({
      body: `m${index}`,
      note: "€".repeat(16 * 1024),
      delaySeconds: "9".repeat(1024),
    }) as unknown as SendMessageEntry;
  const sends = Array.from({ length: 100 }, (_, index) => producer.send(entry(index)));
  const flushed = producer.flush();
  let sent = 0;
  for (let index = 0; sent < 100; index++) {
    await waitFor(`batch ${index}`, () => client.calls.length > index);
    const entries = client.calls[index].entries;
    assert.ok(entries.every((each) => "note" in each), "the extra field is sent as given");
    const requestBytes = new TextEncoder().encode(JSON.stringify({ messages: entries })).length;
    assert.ok(requestBytes <= 1024 * 1024, `request ${index}: ${requestBytes} bytes`);
    sent += entries.length;
    client.acknowledge(index);
  }
  await flushed;
  assert.equal((await Promise.all(sends)).length, 100);
});

/** Runs `body` with a `crypto` that has `getRandomValues` only, as on a plain-http page. */
async function withoutRandomUuid(body: () => Promise<void>): Promise<void> {
  const real = Object.getOwnPropertyDescriptor(globalThis, "crypto")!;
  const original = globalThis.crypto;
  Object.defineProperty(globalThis, "crypto", {
    configurable: true,
    value: {
      getRandomValues: <T extends ArrayBufferView>(array: T) =>
        original.getRandomValues(array as never),
    },
  });
  try {
    await body();
  } finally {
    Object.defineProperty(globalThis, "crypto", real);
  }
}

Deno.test("autoDedupId works where crypto.randomUUID is missing (a non-secure browser page)", async () => {
  await withoutRandomUuid(async () => {
    const client = new FakeSender();
    const producer = new Producer(client, "q", { autoDedupId: true });
    const sends = bodies(10).map((body) => producer.send(body));
    await waitFor("the batch", () => client.calls.length === 1);
    const ids = client.calls[0].entries.map((entry) => entry.dedupId ?? "");
    for (const id of ids) {
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    assert.equal(new Set(ids).size, ids.length);
    client.acknowledge(0);
    await Promise.all(sends);
  });
});

Deno.test("a throw inside send() comes back as a rejected promise, not synchronously", async () => {
  const client = new FakeSender();
  const producer = new Producer(client, "q");
  const message = {
    get body(): string {
      throw new Error("a getter that throws");
    },
  };
  let sent: Promise<unknown> | undefined;
  assert.doesNotThrow(() => {
    sent = producer.send(message as SendMessageEntry);
  });
  await assert.rejects(sent!, /a getter that throws/);
  assert.equal(producer.stats.failed, 1);
  assert.equal(producer.stats.pendingSends, 0);
});
