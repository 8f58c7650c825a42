import assert from "node:assert/strict";
import { consumerOn, FakeQueue } from "./_fake_queue.ts";
import { deferred, waitFor } from "./_test_helpers.ts";
import { Consumer, type ConsumerClient } from "./consumer.ts";
import { Acknowledger } from "./consumer_acks.ts";
import { CmqdError } from "./errors.ts";
import type { ReceivedMessage } from "./protocol.ts";
import { sleep } from "./retry.ts";

Deno.test("every message is handled once and deleted", async () => {
  const queue = new FakeQueue();
  const bodies = Array.from({ length: 50 }, (_, index) => `m${index}`);
  queue.send(...bodies);
  const handled: string[] = [];
  const { consumer, errors } = consumerOn(queue, {
    concurrency: 4,
    handleMessage: (message) => void handled.push(message.body),
  });
  consumer.start();
  await waitFor("all handled", () => handled.length === 50);
  await consumer.stop();
  assert.deepEqual([...handled].sort(), [...bodies].sort());
  assert.equal(queue.remaining, 0);
  assert.deepEqual(errors, []);
  assert.equal(consumer.stats.handled, 50);
  assert.equal(consumer.stats.deleted, 50);
  assert.equal(consumer.stats.inflight, 0);
});

Deno.test("receives ask for no more messages than there are free handler slots", async () => {
  const queue = new FakeQueue();
  queue.send("a", "b", "c", "d", "e");
  const gate = deferred<void>();
  let started = 0;
  const { consumer } = consumerOn(queue, {
    concurrency: 3,
    handleMessage: async () => {
      started++;
      await gate.promise;
    },
  });
  consumer.start();
  await waitFor("three handlers", () => started === 3);
  assert.equal(queue.deliveries.length, 3, "nothing is received without a slot");
  gate.resolve();
  await waitFor("all five", () => started === 5);
  await consumer.stop();
  for (const call of queue.callsOf("receive")) {
    assert.ok((call.request.maxMessages ?? 1) <= 3);
  }
});

Deno.test("a handled message's delete rides on the next receive", async () => {
  const queue = new FakeQueue();
  queue.send("first", "second");
  const handled: string[] = [];
  const { consumer } = consumerOn(queue, {
    concurrency: 1,
    deleteLingerMs: 60_000, // Only a receive (or stop) can carry the delete.
    handleMessage: (message) => void handled.push(message.receiptHandle),
  });
  consumer.start();
  await waitFor("both handled", () => handled.length === 2);
  await waitFor("the receive after the second", () => queue.callsOf("receive").length >= 3);
  await consumer.stop();
  const carried = queue.callsOf("receive").map((call) => call.request.deleteReceiptHandles);
  assert.deepEqual(carried.slice(0, 3), [undefined, [handled[0]], [handled[1]]]);
  // stop() aborted the last, parked receive: its answer lost, the delete it carried is sent
  // again (the broker had applied it; the repeat's "stale" is expected and not reported).
  const explicit = queue.callsOf("delete").flatMap((call) => call.handles);
  assert.ok(explicit.every((handle) => handle === handled[1]));
  assert.equal(queue.remaining, 0);
});

Deno.test("a delete goes out on its own when a long poll is parked", async () => {
  const queue = new FakeQueue();
  queue.send("only");
  const { consumer } = consumerOn(queue, {
    concurrency: 2, // One slot stays free: the loop parks a long poll while the handler runs.
    waitSeconds: 30,
    deleteLingerMs: 1,
    // Asynchronous, so it ends while the poll is parked (a synchronous handler is over before
    // the next receive leaves, which then carries its delete).
    handleMessage: async () => {},
  });
  consumer.start();
  await waitFor("the explicit delete", () => queue.callsOf("delete").length === 1);
  assert.equal(queue.remaining, 0);
  await consumer.stop();
  assert.equal(consumer.stats.deleted, 1);
});

Deno.test("stop flushes deletes no receive has carried yet", async () => {
  const queue = new FakeQueue();
  queue.send("one");
  let handled = 0;
  const { consumer } = consumerOn(queue, {
    concurrency: 2,
    waitSeconds: 30,
    deleteLingerMs: 60_000,
    // Asynchronous: it ends after the next receive (a parked long poll) left without its delete.
    handleMessage: () => {
      handled++;
      return Promise.resolve();
    },
  });
  consumer.start();
  await waitFor("handled", () => handled === 1);
  await consumer.stop();
  assert.equal(queue.callsOf("delete").length, 1);
  assert.equal(queue.remaining, 0);
});

Deno.test("a delete of a message already gone (deleted again) counts as acked, not failed", async () => {
  const queue = new FakeQueue();
  queue.send("twice");
  const { consumer, errors } = consumerOn(queue, {
    concurrency: 1,
    // Someone (here the handler itself) deleted the message before the consumer's own delete.
    handleMessage: async (message) => {
      assert.deepEqual(await queue.deleteMessages("q", [message.receiptHandle]), {
        deleted: 1,
        failures: [],
      });
    },
  });
  consumer.start();
  await waitFor("the consumer's delete confirmed", () => consumer.stats.deleted === 1);
  await consumer.stop();
  const repeated = queue.callsOf("delete").length +
    queue.callsOf("receive").filter((call) => call.request.deleteReceiptHandles).length;
  assert.ok(repeated >= 2, "the handler's delete and the consumer's");
  assert.deepEqual(errors, [], "gone: the message will not come back");
  assert.equal(consumer.stats.deleted, 1);
  assert.equal(queue.remaining, 0);
});

Deno.test("a delete whose lock was lost to a later delivery is reported, not counted", async () => {
  const queue = new FakeQueue();
  queue.send("taken");
  const later: ReceivedMessage[] = [];
  const { consumer, errors } = consumerOn(queue, {
    concurrency: 1, // No receive of the consumer's is out while the handler runs.
    // The lock ends early and another receiver takes the message before the handler is done.
    handleMessage: async (message) => {
      await queue.changeVisibility("q", [{
        receiptHandle: message.receiptHandle,
        visibilityTimeoutSeconds: 0,
      }]);
      later.push(...(await queue.receiveMessages("q", {})).messages);
    },
  });
  consumer.start();
  await waitFor("the failed delete reported", () => errors.length === 1);
  await consumer.stop();
  assert.equal(later.length, 1);
  const [{ error, message }] = errors;
  assert.ok(error instanceof CmqdError);
  assert.equal(error.code, "ReceiptHandleStale");
  assert.equal(message?.id, later[0].id);
  assert.equal(consumer.stats.deleted, 0);
  assert.equal(queue.remaining, 1, "the later delivery still holds it");
});

Deno.test("a delete resent after a lost answer: plain stale is a redelivery when the answer says gone beside it", async (t) => {
  /**
   * Deletes of "a" and "b" ride on a request whose answer is lost; meanwhile "a" is deleted (as
   * by that request) and the lock of "b" runs out and it is delivered again. Then the acks send
   * both again, in one delete answered by `client` (the queue itself, or an older broker's view).
   */
  async function resend(older: boolean) {
    const queue = new FakeQueue();
    queue.send("a", "b");
    const [a, b] = (await queue.receiveMessages("q", { maxMessages: 2 })).messages;
    const client: ConsumerClient = {
      receiveMessages: queue.receiveMessages.bind(queue),
      changeVisibility: queue.changeVisibility.bind(queue),
      // A broker that predates `gone` answers every stale handle without it.
      deleteMessages: async (name, handles) => {
        const answer = await queue.deleteMessages(name, handles);
        if (!older) return answer;
        const failures = answer.failures.map(({ gone: _, ...failure }) => failure);
        return { ...answer, failures };
      },
    };
    const reports: { error: unknown; message?: ReceivedMessage }[] = [];
    let deleted = 0;
    const acks = new Acknowledger({
      client,
      queue: "q",
      deleteLingerMs: 60_000,
      report: (error, message) => reports.push({ error, message }),
      onDeleted: (count) => deleted += count,
    });
    acks.delete(a);
    acks.delete(b);
    acks.restoreDeletes(acks.takeDeletes()); // The receive that carried them got no answer.
    await queue.deleteMessages("q", [a.receiptHandle]);
    await queue.changeVisibility("q", [{
      receiptHandle: b.receiptHandle,
      visibilityTimeoutSeconds: 0,
    }]);
    const [again] = (await queue.receiveMessages("q", {})).messages;
    assert.equal(again.id, b.id);
    await acks.flush();
    assert.deepEqual(queue.callsOf("delete").at(-1)?.handles, [a.receiptHandle, b.receiptHandle]);
    assert.equal(queue.remaining, 1, "b is still in the queue");
    return { b, reports, deleted };
  }
  await t.step(
    "a broker that says gone: b's plain stale is reported, a alone is counted",
    async () => {
      const { b, reports, deleted } = await resend(false);
      assert.equal(deleted, 1);
      assert.equal(reports.length, 1);
      assert.ok(reports[0].error instanceof CmqdError);
      assert.equal(reports[0].error.code, "ReceiptHandleStale");
      assert.equal(reports[0].message, b);
    },
  );
  await t.step("a broker that never says gone: both count, silently, as before", async () => {
    const { reports, deleted } = await resend(true);
    assert.equal(deleted, 2);
    assert.deepEqual(reports, []);
  });
});

Deno.test("a failing handler's message is re-locked for its retry delay, then succeeds", async () => {
  const queue = new FakeQueue();
  queue.send("flaky");
  const attempts: number[] = [];
  const { consumer, errors } = consumerOn(queue, {
    retryDelaySeconds: (attempt) => (attempt === 1 ? 0 : 1),
    handleMessage: (message) => {
      attempts.push(message.receiveCount);
      if (message.receiveCount < 3) throw new Error(`attempt ${message.receiveCount} failed`);
    },
  });
  consumer.start();
  await waitFor("the third attempt's success", () => consumer.stats.handled === 1, 10_000);
  await consumer.stop();
  assert.deepEqual(attempts, [1, 2, 3]);
  assert.equal(errors.length, 2);
  assert.equal((errors[0].error as Error).message, "attempt 1 failed");
  assert.equal(errors[0].message?.body, "flaky");
  const delays = queue.callsOf("visibility").flatMap((call) => call.entries)
    .map((entry) => entry.visibilityTimeoutSeconds);
  assert.deepEqual(delays, [0, 1]);
  assert.equal(consumer.stats.failed, 2);
});

Deno.test("a failed message stays hidden for its retry delay", async () => {
  const queue = new FakeQueue();
  queue.send("slow-retry");
  const { consumer } = consumerOn(queue, {
    retryDelaySeconds: () => 99,
    handleMessage: () => {
      throw new Error("no");
    },
  });
  consumer.start();
  await waitFor("the retry delay set", () => queue.callsOf("visibility").length === 1);
  await waitFor("another receive", () => queue.callsOf("receive").length >= 3);
  await consumer.stop();
  assert.deepEqual(queue.deliveries, ["slow-retry#1"]);
});

Deno.test("stop waits for running handlers, then deletes their messages", async () => {
  const queue = new FakeQueue();
  queue.send("a", "b");
  const gate = deferred<void>();
  let started = 0;
  const { consumer } = consumerOn(queue, {
    concurrency: 2,
    handleMessage: async () => {
      started++;
      await gate.promise;
    },
  });
  consumer.start();
  await waitFor("both running", () => started === 2);
  let stopped = false;
  const stopping = consumer.stop().then(() => (stopped = true));
  await waitFor("the poll to end", () => !consumer.running);
  assert.equal(stopped, false);
  gate.resolve();
  await stopping;
  assert.equal(queue.remaining, 0);
  assert.equal(consumer.stats.handled, 2);
});

Deno.test("stop({abort: true}) aborts handlers' signal and releases their messages", async () => {
  const queue = new FakeQueue();
  queue.send("interrupted");
  let started = false;
  const { consumer, errors } = consumerOn(queue, {
    handleMessage: (_message, { signal }) =>
      new Promise((_resolve, reject) => {
        started = true;
        signal.addEventListener("abort", () => reject(signal.reason));
      }),
  });
  consumer.start();
  await waitFor("the handler", () => started);
  await consumer.stop({ abort: true });
  assert.equal(consumer.stats.interrupted, 1);
  assert.equal(consumer.stats.failed, 0);
  assert.deepEqual(errors, []);
  const entries = queue.callsOf("visibility").flatMap((call) => call.entries);
  assert.deepEqual(entries.map((entry) => entry.visibilityTimeoutSeconds), [0]);
  assert.equal(queue.remaining, 1);
});

Deno.test("receive errors are reported and retried after a growing back-off", async () => {
  const queue = new FakeQueue();
  queue.receiveFailures.push(
    new CmqdError("NetworkError", "reset", { status: 0 }),
    new CmqdError("NoLeader", "electing", { status: 503 }),
    new CmqdError("NoLeader", "electing", { status: 503 }),
  );
  queue.send("after the storm");
  let handled = 0;
  const { consumer, errors } = consumerOn(queue, {
    receiveBackoff: { backoffMsMin: 20, backoffMsMax: 1_000 },
    handleMessage: () => void handled++,
  });
  consumer.start();
  await waitFor("handled", () => handled === 1);
  await consumer.stop();
  assert.deepEqual(errors.map((entry) => (entry.error as CmqdError).code), [
    "NetworkError",
    "NoLeader",
    "NoLeader",
  ]);
  assert.equal(consumer.stats.receiveErrors, 3);
  // Timers never fire early: the gaps are at least the jittered back-offs (10, 20, 40 ms).
  const times = queue.callsOf("receive").map((call) => call.atMs);
  assert.ok(times[1] - times[0] >= 10 && times[2] - times[1] >= 20 && times[3] - times[2] >= 40);
});

Deno.test("empty answers that come back early back off instead of spinning", async () => {
  const queue = new FakeQueue();
  const { consumer } = consumerOn(queue, { waitSeconds: 0, handleMessage: () => {} });
  consumer.start();
  await waitFor("four receives", () => queue.callsOf("receive").length >= 4);
  await consumer.stop();
  const times = queue.callsOf("receive").map((call) => call.atMs);
  // Idle back-off 50 ms doubling, jittered to at least half: 25, 50, 100 ms.
  assert.ok(times[1] - times[0] >= 25 && times[2] - times[1] >= 50 && times[3] - times[2] >= 100);
});

Deno.test("on a fifo queue each group is handled in order, a failed message first", async () => {
  const queue = new FakeQueue({ fifo: true });
  for (let index = 1; index <= 5; index++) {
    queue.send({ body: `a${index}`, groupId: "a" }, { body: `b${index}`, groupId: "b" });
  }
  queue.send({ body: "c1", groupId: "c" });
  const succeeded: string[] = [];
  const { consumer } = consumerOn(queue, {
    concurrency: 4,
    retryDelaySeconds: () => 0,
    handleMessage: (message) => {
      // a2 and b3 fail once: their groups must wait for them.
      if ((message.body === "a2" || message.body === "b3") && message.receiveCount === 1) {
        throw new Error("once");
      }
      succeeded.push(message.body);
    },
  });
  consumer.start();
  await waitFor("all eleven", () => succeeded.length === 11);
  await consumer.stop();
  for (const group of ["a", "b"]) {
    const order = succeeded.filter((body) => body.startsWith(group));
    assert.deepEqual(order, [1, 2, 3, 4, 5].map((index) => `${group}${index}`));
  }
});

Deno.test("for await yields messages and deletes each when the loop moves on", async () => {
  const queue = new FakeQueue();
  queue.send("x", "y", "z");
  const consumer = new Consumer(queue, "q", { waitSeconds: 1, concurrency: 2 });
  const seen: string[] = [];
  for await (const message of consumer) {
    seen.push(message.body);
    if (seen.length === 3) {
      message.complete(); // Handled: without this, leaving the loop would retry it.
      break;
    }
  }
  // Leaving the loop stopped the consumer and flushed the deletes.
  assert.equal(consumer.running, false);
  assert.deepEqual(seen.sort(), ["x", "y", "z"]);
  assert.equal(queue.remaining, 0);
});

Deno.test("leaving a for-await loop early retries the current message", async () => {
  const queue = new FakeQueue();
  queue.send("unfinished");
  const errors: unknown[] = [];
  const consumer = new Consumer(queue, "q", {
    waitSeconds: 1,
    retryDelaySeconds: () => 7,
    onError: (error) => errors.push(error),
  });
  await assert.rejects(async () => {
    for await (const _message of consumer.messages()) throw new Error("boom");
  }, /boom/);
  assert.equal(queue.remaining, 1);
  const entries = queue.callsOf("visibility").flatMap((call) => call.entries);
  assert.deepEqual(entries.map((entry) => entry.visibilityTimeoutSeconds), [7]);
  assert.deepEqual(errors, [], "the loop's own error reached the caller, not onError");
  assert.equal(consumer.stats.failed, 1);
});

Deno.test("fail() inside the loop reports and retries without leaving it", async () => {
  const queue = new FakeQueue();
  queue.send("bad", "good");
  const errors: unknown[] = [];
  const consumer = new Consumer(queue, "q", {
    waitSeconds: 1,
    retryDelaySeconds: () => 60,
    onError: (error) => errors.push(error),
  });
  const seen: string[] = [];
  for await (const message of consumer) {
    seen.push(message.body);
    if (message.body === "bad") message.fail(new Error("bad body"));
    if (seen.length === 2) break;
  }
  assert.deepEqual(seen, ["bad", "good"]);
  assert.equal((errors[0] as Error).message, "bad body");
  assert.equal(queue.remaining, 2, "bad waits for its retry, good was current when we left");
});

Deno.test("start without a handler, a second start and a restart are refused", async () => {
  const queue = new FakeQueue();
  assert.throws(() => new Consumer(queue, "q").start(), TypeError);
  const consumer = new Consumer(queue, "q", { waitSeconds: 0, handleMessage: () => {} });
  consumer.start();
  assert.throws(() => consumer.start(), TypeError);
  await consumer.stop();
  assert.throws(() => consumer.messages(), TypeError);
  assert.throws(() => new Consumer(queue, "q", { concurrency: 0 }), RangeError);
  assert.throws(() => new Consumer(queue, "q", { waitSeconds: 31 }), RangeError);
  assert.throws(() => new Consumer(queue, "q", { visibilityTimeoutSeconds: 0 }), RangeError);
});

/** `queue` behind a client that answers each receive after `delayMs`, counting what is in flight. */
function slowReceives(queue: FakeQueue, delayMs: number, running: () => number) {
  const seen = { most: 0, worstSlots: 0 };
  let inFlight = 0;
  let claimed = 0;
  const client: ConsumerClient = {
    async receiveMessages(name, request = {}, options) {
      const want = request.maxMessages ?? 1;
      inFlight++;
      claimed += want;
      seen.most = Math.max(seen.most, inFlight);
      seen.worstSlots = Math.max(seen.worstSlots, claimed + running());
      try {
        await sleep(delayMs);
        return await queue.receiveMessages(name, request, options);
      } finally {
        inFlight--;
        claimed -= want;
      }
    },
    deleteMessages: (name, handles) => queue.deleteMessages(name, handles),
    changeVisibility: (name, entries) => queue.changeVisibility(name, entries),
  };
  return { client, seen };
}

Deno.test("several receives in flight claim disjoint slots, never more than concurrency", async () => {
  for (const [options, lanes] of [[{}, 4], [{ receivesInFlight: 1 }, 1]] as const) {
    const queue = new FakeQueue();
    const bodies = Array.from({ length: 120 }, (_, index) => `m${index}`);
    queue.send(...bodies);
    let running = 0;
    const handled: string[] = [];
    const { client, seen } = slowReceives(queue, 10, () => running);
    const consumer = new Consumer(client, "q", {
      concurrency: 32,
      batchSize: 8,
      waitSeconds: 1,
      ...options,
      handleMessage: async (message) => {
        running++;
        await sleep(3);
        running--;
        handled.push(message.body);
      },
    });
    consumer.start();
    await waitFor("all handled", () => handled.length === bodies.length);
    await consumer.stop();
    assert.equal(seen.most, lanes, "receives in flight at once");
    assert.ok(seen.worstSlots <= 32, `${seen.worstSlots} slots claimed or busy`);
    assert.deepEqual(handled.toSorted(), bodies.toSorted());
    assert.equal(queue.remaining, 0);
  }
  assert.throws(() => new Consumer(new FakeQueue(), "q", { receivesInFlight: 0 }), RangeError);
  assert.throws(() => new Consumer(new FakeQueue(), "q", { receivesInFlight: 65 }), RangeError);
});

Deno.test("releases that fail at stop in an outage are reported once, not once per message", async () => {
  const queue = new FakeQueue();
  const held = 100;
  queue.send(...Array.from({ length: held }, (_, index) => `m${index}`));
  let down = false;
  const client: ConsumerClient = {
    receiveMessages: queue.receiveMessages.bind(queue),
    deleteMessages: queue.deleteMessages.bind(queue),
    changeVisibility: (name, entries) =>
      down
        ? Promise.reject(new CmqdError("NetworkError", "connection refused", { status: 0 }))
        : queue.changeVisibility(name, entries),
  };
  let started = 0;
  const { consumer, errors } = consumerOn(client, {
    concurrency: held,
    handleMessage: (_message, { signal }) =>
      new Promise((_resolve, reject) => {
        started++;
        signal.addEventListener("abort", () => reject(signal.reason));
      }),
  });
  consumer.start();
  await waitFor("every message held", () => started === held);
  down = true;
  await consumer.stop({ abort: true });
  assert.equal(consumer.stats.interrupted, held);
  assert.equal(consumer.stats.releasesUnanswered, held, "every failed release is counted");
  assert.equal(errors.length, 1, "the outage's failed releases are reported once");
  assert.equal((errors[0].error as CmqdError).code, "NetworkError");
  assert.ok(errors[0].message !== undefined, "with the message it was first seen on");
});

Deno.test("a release the broker answers ends a release outage: the next failure is reported afresh", async () => {
  const queue = new FakeQueue();
  queue.send("a", "b", "c");
  const answers = ["down", "up", "down"];
  let settled = 0;
  const client: ConsumerClient = {
    receiveMessages: queue.receiveMessages.bind(queue),
    deleteMessages: queue.deleteMessages.bind(queue),
    changeVisibility: (name, entries) => {
      const answer = answers.shift() === "down"
        ? Promise.reject(new CmqdError("NoLeader", "electing", { status: 503 }))
        : queue.changeVisibility(name, entries);
      return answer.finally(() => settled++);
    },
  };
  // Each handler gives its message up (it is released) when its own gate opens after the abort.
  const gates = new Map(["a", "b", "c"].map((body) => [body, deferred<void>()]));
  let started = 0;
  const { consumer, errors } = consumerOn(client, {
    concurrency: 3,
    handleMessage: (message, { signal }) =>
      new Promise((_resolve, reject) => {
        started++;
        signal.addEventListener("abort", () => {
          gates.get(message.body)!.promise.then(() => reject(signal.reason));
        });
      }),
  });
  consumer.start();
  await waitFor("three messages held", () => started === 3);
  const stopping = consumer.stop({ abort: true });
  for (const [index, body] of ["a", "b", "c"].entries()) {
    gates.get(body)!.resolve();
    await waitFor(`release ${index + 1} answered or failed`, () => settled === index + 1);
  }
  await stopping;
  assert.equal(consumer.stats.releasesUnanswered, 2);
  assert.deepEqual(
    errors.map(({ error, message }) => [(error as CmqdError).code, message?.body]),
    [["NoLeader", "a"], ["NoLeader", "c"]],
    "the first failure of each outage is reported, with its message",
  );
});
