/**
 * The consumer's lock renewals: a handler running past half its lock keeps it, and a lock
 * change that never answers is given up in time and holds up no other renewal.
 */
import assert from "node:assert/strict";
import {
  consumerOn,
  FakeQueue,
  firstLockChangeHangs,
  lockChangesUnanswered,
} from "./_fake_queue.ts";
import { changeCallsMax, type ConsumerClient } from "./consumer_acks.ts";
import { deferred, waitFor } from "./_test_helpers.ts";
import { CmqdError } from "./errors.ts";
import { sleep } from "./retry.ts";

Deno.test("a handler running past half its lock keeps renewing it", async () => {
  const queue = new FakeQueue();
  queue.send("long job");
  let renewalsSeen = 0;
  const { consumer, errors } = consumerOn(queue, {
    concurrency: 2,
    visibilityTimeoutSeconds: 1,
    handleMessage: async () => {
      await waitFor("two renewals", () => consumer.stats.renewed >= 2, 10_000);
      renewalsSeen = consumer.stats.renewed;
    },
  });
  consumer.start();
  await waitFor("the handler to finish", () => consumer.stats.handled === 1, 10_000);
  await consumer.stop();
  assert.ok(renewalsSeen >= 2);
  assert.deepEqual(queue.deliveries, ["long job#1"], "never delivered a second time");
  const renewals = queue.callsOf("visibility").flatMap((call) => call.entries);
  assert.ok(renewals.every((entry) => entry.visibilityTimeoutSeconds === 1));
  assert.deepEqual(errors, []);
  assert.equal(queue.remaining, 0);
});

Deno.test("a lock change that never answers holds up no other handler's renewal", async () => {
  const queue = new FakeQueue();
  queue.send("a");
  // The first lock change reached a node that accepted it and says nothing.
  const { client, calls } = firstLockChangeHangs(queue);
  const finish = deferred<void>();
  const { consumer, errors } = consumerOn(client, {
    concurrency: 2,
    batchSize: 1,
    visibilityTimeoutSeconds: 1,
    handleMessage: () => finish.promise,
  });
  consumer.start();
  await waitFor("a's renewal on the wire", () => calls.length === 1);
  queue.send("b"); // Received while a's renewal hangs; renewed at half its lock.
  await waitFor("b's lock renewed", () => consumer.stats.renewed >= 1);
  assert.deepEqual(calls.slice(0, 2).map((call) => call.handles), [["m1#1"], ["m2#1"]]);
  // a's call is given up once a's lock ran out: unconfirmed, reported, no longer on the wire.
  await waitFor("a's renewal given up", () => errors.length >= 1);
  assert.equal(calls[0].signal?.aborted, true);
  assert.ok(errors[0].error instanceof CmqdError);
  assert.equal(errors[0].error.code, "Timeout");
  assert.equal(errors[0].message?.receiptHandle, "m1#1");
  const stopping = consumer.stop();
  finish.resolve();
  await stopping;
  assert.equal(consumer.stats.locksLost, 0);
  assert.deepEqual(queue.deliveries, ["a#1", "b#1"]);
});

Deno.test("a renewal whose call never answers is given up in time to be sent again while the lock holds", async () => {
  const queue = new FakeQueue();
  queue.send("a");
  // The first lock change reached a node that accepted it and says nothing; the next one
  // (through the client, maybe to another node) is answered.
  const { client, calls } = firstLockChangeHangs(queue);
  const finish = deferred<void>();
  // A 4 s lock: renewed at 2 s with 2 s left; the call is given up with 1 s of it left (half,
  // and no less than a call's least time, 1 s), room for another renewal.
  const lockSeconds = 4;
  const receivedAtMs = Date.now();
  const { consumer, errors } = consumerOn(client, {
    concurrency: 2, // A slot free for the message, were it delivered again.
    visibilityTimeoutSeconds: lockSeconds,
    handleMessage: () => finish.promise,
  });
  consumer.start();
  await waitFor(
    "a's lock renewed, or lost",
    () => consumer.stats.renewed >= 1 || consumer.stats.locksLost >= 1 || calls.length >= 2,
    15_000,
  );
  // Past the end of the first lock: the handler still runs, and its message was not delivered
  // again.
  await sleep(Math.max(0, receivedAtMs + lockSeconds * 1000 + 500 - Date.now()));
  assert.deepEqual(queue.deliveries, ["a#1"], "never delivered a second time");
  const stopping = consumer.stop();
  finish.resolve();
  await stopping;
  assert.equal(consumer.stats.locksLost, 0);
  assert.ok(consumer.stats.renewed >= 1);
  assert.deepEqual(calls.slice(0, 2).map((call) => call.handles), [["m1#1"], ["m1#1"]]);
  assert.equal(calls[0].signal?.aborted, true);
  assert.equal(errors.length, 1, "only the call given up is reported");
  assert.ok(errors[0].error instanceof CmqdError);
  assert.equal(errors[0].error.code, "Timeout");
  assert.equal(errors[0].message?.receiptHandle, "m1#1");
  assert.equal(queue.remaining, 0);
});

Deno.test("a 2 s lock whose renewal call never answers gets a second attempt while the lock holds", async () => {
  const queue = new FakeQueue();
  queue.send("a");
  const { client, calls } = firstLockChangeHangs(queue);
  const finish = deferred<void>();
  // Renewed at 1 s with 1 s left: given up at half of that, and sent again with 500 ms left.
  // Given up only after the least time of a call (1 s), the lock ran out first.
  const lockSeconds = 2;
  const receivedAtMs = Date.now();
  const { consumer, errors } = consumerOn(client, {
    concurrency: 2, // A slot free for the message, were it delivered again.
    visibilityTimeoutSeconds: lockSeconds,
    handleMessage: () => finish.promise,
  });
  consumer.start();
  await waitFor("a's renewal on the wire", () => calls.length >= 1);
  // Past the end of the first lock: the handler still runs, and its message was not delivered
  // again.
  await sleep(Math.max(0, receivedAtMs + lockSeconds * 1000 + 500 - Date.now()));
  assert.deepEqual(queue.deliveries, ["a#1"], "never delivered a second time");
  const stopping = consumer.stop();
  finish.resolve();
  await stopping;
  assert.equal(consumer.stats.locksLost, 0);
  assert.ok(consumer.stats.renewed >= 1);
  assert.deepEqual(calls.slice(0, 2).map((call) => call.handles), [["m1#1"], ["m1#1"]]);
  assert.equal(errors.length, 1, "only the call given up is reported");
  assert.equal(queue.remaining, 0);
});

Deno.test("renewals to a slow node keep every lock with a bounded number of calls on the wire", async () => {
  const queue = new FakeQueue();
  // A node that answers each lock change 300 ms late, well within the calls' time.
  let onWire = 0;
  let onWireMax = 0;
  const client: ConsumerClient = {
    receiveMessages: queue.receiveMessages.bind(queue),
    deleteMessages: queue.deleteMessages.bind(queue),
    changeVisibility: async (name, entries) => {
      onWireMax = Math.max(onWireMax, ++onWire);
      await sleep(300);
      onWire--;
      return await queue.changeVisibility(name, entries);
    },
  };
  const count = 20;
  const finish = deferred<void>();
  const { consumer, errors } = consumerOn(client, {
    concurrency: count,
    batchSize: 1,
    visibilityTimeoutSeconds: 4,
    handleMessage: () => finish.promise,
  });
  consumer.start();
  // One message every 40 ms, each received alone: their renewals fall due 40 ms apart, and a
  // call each would put about eight on the wire at once.
  for (let index = 0; index < count; index++) {
    queue.send(`m${index}`);
    await sleep(40);
  }
  await waitFor("every lock renewed twice", () => consumer.stats.renewed >= 2 * count, 30_000);
  const stopping = consumer.stop();
  finish.resolve();
  await stopping;
  assert.ok(onWireMax <= changeCallsMax, `${onWireMax} calls on the wire at once`);
  assert.equal(queue.deliveries.length, count, "never delivered a second time");
  assert.equal(consumer.stats.locksLost, 0);
  assert.deepEqual(errors, []);
  assert.equal(queue.remaining, 0);
});

Deno.test("renewals given up go on while the handler runs: one the node applied keeps the lock", async () => {
  const queue = new FakeQueue();
  queue.send("a");
  // The node applies the first two renewals and its answers are lost; then it answers again.
  const { client, calls, onWireMax } = lockChangesUnanswered(queue, 2, true);
  const finish = deferred<void>();
  // A 1 s lock: renewed at 500 ms, given up at 750 ms and sent again, given up at 1 s, when the
  // first lock (as far as the consumer knows) ran out. The broker's runs until 1.75 s.
  const lockSeconds = 1;
  const receivedAtMs = Date.now();
  const { consumer, errors } = consumerOn(client, {
    concurrency: 2, // A slot free for the message, were it delivered again.
    visibilityTimeoutSeconds: lockSeconds,
    handleMessage: () => finish.promise,
  });
  consumer.start();
  await waitFor("a renewal confirmed", () => consumer.stats.renewed >= 1, 10_000);
  // Well past the end of the lock the lost renewals took: still held, no second delivery.
  await sleep(Math.max(0, receivedAtMs + 3_000 - Date.now()));
  assert.deepEqual(queue.deliveries, ["a#1"], "never delivered a second time");
  const stopping = consumer.stop();
  finish.resolve();
  await stopping;
  assert.equal(consumer.stats.locksLost, 0);
  assert.deepEqual(calls.slice(0, 3).map((call) => call.handles), [["m1#1"], ["m1#1"], ["m1#1"]]);
  assert.ok(calls.slice(0, 2).every((call) => call.signal?.aborted), "both calls given up");
  assert.equal(onWireMax(), 1, "one change of a message on the wire at a time");
  // One outage: its first renewal given up is reported, the second only counted.
  assert.equal(errors.length, 1, "the first renewal given up is reported");
  assert.equal(consumer.stats.renewalsUnanswered, 2);
  assert.equal(queue.remaining, 0);
});

Deno.test("renewals to a node that never answers go on, one call at a time, while the handler runs", async () => {
  const queue = new FakeQueue();
  queue.send("a", "b", "c");
  const { client, calls, onWireMax } = lockChangesUnanswered(queue, Infinity, false);
  const finish = deferred<void>();
  const { consumer } = consumerOn(client, {
    concurrency: 3,
    batchSize: 1,
    visibilityTimeoutSeconds: 1,
    handleMessage: () => finish.promise,
  });
  consumer.start();
  // Past the lock's end with no renewal confirmed: still tried (the node may have applied one).
  await waitFor("renewals past the lock's end", () => calls.length >= 12, 10_000);
  const stopping = consumer.stop();
  finish.resolve();
  await stopping;
  assert.ok(onWireMax() <= 3, `${onWireMax()} calls on the wire at once`);
  assert.equal(consumer.stats.locksLost, 0);
});

Deno.test("a renewal the broker refuses aborts the handler's signal: the lock is lost", async () => {
  const queue = new FakeQueue();
  queue.send("a");
  const refused: string[] = [];
  const client: ConsumerClient = {
    receiveMessages: queue.receiveMessages.bind(queue),
    deleteMessages: queue.deleteMessages.bind(queue),
    changeVisibility: (_name, entries) => {
      refused.push(...entries.map((entry) => entry.receiptHandle));
      return Promise.resolve({
        entries: [],
        failures: entries.map((entry) => ({
          receiptHandle: entry.receiptHandle,
          code: "MessageNotInflight" as const,
          message: "the message's lock already ended",
        })),
      });
    },
  };
  let reason: unknown;
  const { consumer, errors } = consumerOn(client, {
    visibilityTimeoutSeconds: 1,
    handleMessage: (_message, { signal }) =>
      new Promise<void>((_, reject) => {
        signal.addEventListener("abort", () => {
          reason = signal.reason;
          reject(signal.reason);
        }, { once: true });
      }),
  });
  consumer.start();
  await waitFor("the handler told", () => consumer.stats.failed === 1, 10_000);
  await consumer.stop();
  assert.ok(reason instanceof CmqdError);
  assert.equal(reason.code, "MessageNotInflight");
  assert.equal(consumer.stats.locksLost, 1);
  // No retry delay for a lock the broker says is gone: the renewal was the one lock change.
  assert.deepEqual(refused, ["m1#1"]);
  assert.deepEqual(errors.map(({ error }) => (error as CmqdError).code), [
    "MessageNotInflight",
    "MessageNotInflight",
  ]);
});

Deno.test("an outage's unanswered renewals are reported once per outage, not once per message and try", async () => {
  const queue = new FakeQueue();
  const held = 20;
  queue.send(...Array.from({ length: held }, (_, index) => `m${index}`));
  let down = true;
  const client: ConsumerClient = {
    receiveMessages: queue.receiveMessages.bind(queue),
    deleteMessages: queue.deleteMessages.bind(queue),
    changeVisibility: (name, entries) =>
      down
        ? Promise.reject(new CmqdError("NetworkError", "connection refused", { status: 0 }))
        : queue.changeVisibility(name, entries),
  };
  const finish = deferred<void>();
  const { consumer, errors } = consumerOn(client, {
    concurrency: held,
    visibilityTimeoutSeconds: 4,
    handleMessage: () => finish.promise,
  });
  const renewalReports = () =>
    errors.filter(({ error }) => error instanceof CmqdError && error.code === "NetworkError");
  consumer.start();
  await waitFor("two unanswered renewals a message", () => {
    return consumer.stats.renewalsUnanswered >= 2 * held;
  });
  assert.equal(renewalReports().length, 1, "the outage is reported once");
  assert.ok(renewalReports()[0].message !== undefined, "with the message it was first seen on");
  // The node answers again: the outage is over; the next one is reported afresh.
  down = false;
  await waitFor("every lock renewed", () => consumer.stats.renewed >= held);
  down = true;
  const before = consumer.stats.renewalsUnanswered;
  await waitFor("the next outage", () => consumer.stats.renewalsUnanswered >= before + held);
  assert.equal(renewalReports().length, 2, "the second outage is reported once too");
  down = false;
  const stopping = consumer.stop();
  finish.resolve();
  await stopping;
  assert.equal(consumer.stats.locksLost, 0);
  assert.equal(queue.remaining, 0);
});

Deno.test("a renewal refused because the queue was deleted aborts the handler's signal: every lock is gone", async () => {
  const queue = new FakeQueue();
  queue.send("a");
  const changes: string[] = [];
  const client: ConsumerClient = {
    receiveMessages: queue.receiveMessages.bind(queue),
    deleteMessages: queue.deleteMessages.bind(queue),
    // What the broker answers a lock change of a queue deleted meanwhile.
    changeVisibility: (_name, entries) => {
      changes.push(...entries.map((entry) => entry.receiptHandle));
      return Promise.reject(
        new CmqdError("QueueNotFound", "queue 'q' does not exist", { status: 404 }),
      );
    },
  };
  let reason: unknown;
  const { consumer, errors } = consumerOn(client, {
    visibilityTimeoutSeconds: 1,
    handleMessage: (_message, { signal }) =>
      new Promise<void>((_, reject) => {
        signal.addEventListener("abort", () => {
          reason = signal.reason;
          reject(signal.reason);
        }, { once: true });
      }),
  });
  consumer.start();
  await waitFor("the handler told", () => consumer.stats.failed === 1, 10_000);
  await consumer.stop();
  assert.ok(reason instanceof CmqdError);
  assert.equal(reason.code, "QueueNotFound");
  assert.equal(consumer.stats.locksLost, 1);
  assert.equal(consumer.stats.renewalsUnanswered, 0, "an answer, not an outage");
  // Neither renewed again nor re-locked for a retry: the refused renewal was the one change.
  assert.deepEqual(changes, ["m1#1"]);
  assert.deepEqual(errors.map(({ error }) => (error as CmqdError).code), [
    "QueueNotFound",
    "QueueNotFound",
  ]);
});

Deno.test("renewals in an outage that fails at once stay a few per lock period: no spin", async () => {
  // Every node down: each lock change fails at once (connections refused). Each unanswered
  // renewal is one more deadline the lock may have; paced by the soonest of them alone, the
  // renewals crowded towards ten a second per message, each a call of the client's attempts.
  const queue = new FakeQueue();
  queue.send("a");
  let calls = 0;
  const client: ConsumerClient = {
    receiveMessages: queue.receiveMessages.bind(queue),
    deleteMessages: queue.deleteMessages.bind(queue),
    changeVisibility: () => {
      calls++;
      return Promise.reject(
        new CmqdError("NetworkError", "tcp connect error: Connection refused", { status: 0 }),
      );
    },
  };
  const finish = deferred<void>();
  const { consumer, errors } = consumerOn(client, {
    visibilityTimeoutSeconds: 4,
    handleMessage: () => finish.promise,
  });
  consumer.start();
  await waitFor("the first renewal", () => calls >= 1, 10_000);
  const first = calls;
  // Two and a half lock periods: at most one renewal per eighth of the lock, 20, and a few more
  // before the first deadline (the spin made 35 and more).
  await sleep(10_000);
  const made = calls - first;
  finish.resolve();
  await consumer.stop();
  assert.ok(made >= 3, `${made} renewals: the lock is still renewed in an outage`);
  assert.ok(made <= 24, `${made} renewals in 10 s of a 4 s lock`);
  assert.equal(errors.length, 1, "the outage reported once");
  assert.equal(consumer.stats.locksLost, 0);
});

/**
 * A consumer whose every lock change the broker refuses with `error`; its handler runs until its
 * signal aborts (then fails with the reason) or until `finish` resolves.
 */
function refusingConsumer(error: () => CmqdError) {
  const queue = new FakeQueue();
  queue.send("a");
  const changes: string[] = [];
  const client: ConsumerClient = {
    receiveMessages: queue.receiveMessages.bind(queue),
    deleteMessages: queue.deleteMessages.bind(queue),
    changeVisibility: (_name, entries) => {
      changes.push(...entries.map((entry) => entry.receiptHandle));
      return Promise.reject(error());
    },
  };
  const finish = deferred<void>();
  const reasons: unknown[] = [];
  const { consumer, errors } = consumerOn(client, {
    visibilityTimeoutSeconds: 1,
    handleMessage: (_message, { signal }) =>
      new Promise<void>((resolve, reject) => {
        finish.promise.then(resolve);
        signal.addEventListener("abort", () => {
          reasons.push(signal.reason);
          reject(signal.reason);
        }, { once: true });
      }),
  });
  return { consumer, errors, changes, finish, reasons };
}

// The broker's own refusals of the request itself, before it touches any lock: sent again
// (signed afresh, with the same key and body) it is refused again, so the lock will run out.
for (
  const [code, status] of [
    ["Unauthenticated", 401], // the key was removed, or its secret changed
    ["AccessDenied", 403], // the key no longer has the permission
    ["InvalidParameter", 400],
    ["MalformedRequest", 400],
    ["NotFound", 404],
    ["RequestTooLarge", 413],
    ["UnsupportedMediaType", 415],
  ] as const
) {
  Deno.test(`a renewal refused with ${status} ${code} aborts the handler's signal: the lock can't be kept`, async () => {
    const { consumer, errors, changes, reasons } = refusingConsumer(() =>
      new CmqdError(code, `refused: ${code}`, { status })
    );
    consumer.start();
    await waitFor("the handler told", () => consumer.stats.failed === 1, 10_000);
    await consumer.stop();
    assert.equal(reasons.length, 1);
    assert.ok(reasons[0] instanceof CmqdError);
    assert.equal(reasons[0].code, code);
    assert.equal(consumer.stats.locksLost, 1);
    assert.equal(consumer.stats.renewalsUnanswered, 0, "an answer, not an outage");
    // Neither renewed again nor re-locked for a retry: the refused renewal was the one change.
    assert.deepEqual(changes, ["m1#1"]);
    // Reported once as the lost lock, once as the handler's failure (the signal's reason).
    assert.deepEqual(errors.map(({ error }) => (error as CmqdError).code), [code, code]);
  });
}

// Answers that say "not now", or that are not the broker's word on the request: the renewal may
// still be accepted, so it stays unconfirmed and is sent again.
for (
  const [code, status] of [
    ["RequestTimeout", 408], // the broker gave up reading a stalled body
    ["NoLeader", 503],
    ["UnexpectedResponse", 403], // a proxy's refusal, not cmqd's
    ["UnexpectedResponse", 502],
  ] as const
) {
  Deno.test(`a renewal failed with ${status} ${code} is sent again; the handler keeps its signal`, async () => {
    const { consumer, errors, changes, reasons, finish } = refusingConsumer(() =>
      new CmqdError(code, `failed: ${code}`, { status })
    );
    consumer.start();
    await waitFor("the renewal sent again", () => changes.length >= 2, 10_000);
    finish.resolve();
    await consumer.stop();
    assert.deepEqual(reasons, []);
    assert.equal(consumer.stats.locksLost, 0);
    assert.ok(consumer.stats.renewalsUnanswered >= 1);
    assert.equal((errors[0].error as CmqdError).code, code, "the outage reported");
  });
}

Deno.test("a 400 naming one entry of a renewal batch loses that lock only: the others are renewed", async () => {
  // The broker checks each entry and names the first bad one (`entries.N.receiptHandle`): here
  // the handle of the message "bad" (`m1#1`). The rest of the batch is fine.
  const queue = new FakeQueue();
  queue.send("bad", "good");
  const calls: string[][] = [];
  const client: ConsumerClient = {
    receiveMessages: queue.receiveMessages.bind(queue),
    deleteMessages: queue.deleteMessages.bind(queue),
    changeVisibility: (name, entries) => {
      calls.push(entries.map((entry) => entry.receiptHandle));
      const index = entries.findIndex((entry) => entry.receiptHandle === "m1#1");
      if (index < 0) return queue.changeVisibility(name, entries);
      return Promise.reject(
        new CmqdError("InvalidParameter", "must be 1-512 characters", {
          status: 400,
          field: `entries.${index}.receiptHandle`,
        }),
      );
    },
  };
  const finish = deferred<void>();
  const aborted: string[] = [];
  const { consumer, errors } = consumerOn(client, {
    concurrency: 2,
    visibilityTimeoutSeconds: 1,
    handleMessage: (message, { signal }) =>
      new Promise<void>((resolve, reject) => {
        finish.promise.then(resolve);
        signal.addEventListener("abort", () => {
          aborted.push(message.body);
          reject(signal.reason);
        }, { once: true });
      }),
  });
  consumer.start();
  await waitFor("the bad entry's lock lost", () => consumer.stats.locksLost >= 1, 10_000);
  await waitFor("the good message renewed", () => consumer.stats.renewed >= 1, 10_000);
  finish.resolve();
  await consumer.stop();
  assert.deepEqual(aborted, ["bad"]);
  assert.equal(consumer.stats.locksLost, 1);
  assert.equal(consumer.stats.handled, 1);
  assert.deepEqual(calls[0].sort(), ["m1#1", "m2#1"], "one batch carried both renewals");
  assert.deepEqual(calls[1], ["m2#1"], "sent again without the bad entry");
  assert.equal((errors[0].error as CmqdError).field, "entries.0.receiptHandle");
  assert.deepEqual(queue.deliveries, ["bad#1", "good#1"]);
});

Deno.test("renewals given up and sent again at once stay at least 250 ms apart: no spin on a silent node", async () => {
  // A renewal given up is sent again at once; it is given up only after its call was on the wire
  // for half of the lock's time left, never less than 250 ms, so a node that never answers gets
  // at most four renewals a second per message, whatever the lock (1 s here: the shortest).
  const queue = new FakeQueue();
  queue.send("a");
  const { client, calls } = lockChangesUnanswered(queue, Infinity, false);
  const finish = deferred<void>();
  const { consumer } = consumerOn(client, {
    visibilityTimeoutSeconds: 1,
    handleMessage: () => finish.promise,
  });
  consumer.start();
  await waitFor("the first renewal", () => calls.length >= 1, 10_000);
  const first = calls.length;
  await sleep(3_000);
  const made = calls.length - first;
  finish.resolve();
  await consumer.stop();
  assert.ok(made >= 2, `${made} renewals: still renewed`);
  assert.ok(made <= 3_000 / 250 + 1, `${made} renewals in 3 s`);
  assert.ok(calls.slice(0, -1).every((call) => call.signal?.aborted), "each given up");
});
