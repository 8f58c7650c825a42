import assert from "node:assert/strict";
import { consumerOn, FakeQueue, firstLockChangeHangs } from "./_fake_queue.ts";
import { waitFor } from "./_test_helpers.ts";
import {
  Acknowledger,
  changeCallsMax,
  type ConsumerClient,
  type VisibilityOutcome,
} from "./consumer_acks.ts";
import { CmqdError } from "./errors.ts";
import type { CallOptions } from "./requester.ts";
import type { ReceivedMessage } from "./protocol.ts";

/**
 * Acks of two received messages `a` and `b` through a client whose delete and visibility calls
 * answer 200 with the bodies given (as a non-conforming server or proxy might), whatever they
 * were asked. The fake hands out `m1#1` (a) and `m2#1` (b).
 */
async function acksAnswering(answers: { delete?: unknown; visibility?: unknown }) {
  const queue = new FakeQueue();
  queue.send("a", "b");
  const [a, b] = (await queue.receiveMessages("q", { maxMessages: 2 })).messages;
  const client: ConsumerClient = {
    receiveMessages: queue.receiveMessages.bind(queue),
    deleteMessages: () => Promise.resolve(answers.delete as never),
    changeVisibility: () => Promise.resolve(answers.visibility as never),
  };
  const reports: { error: unknown; message?: ReceivedMessage }[] = [];
  const counted: number[] = [];
  const acks = new Acknowledger({
    client,
    queue: "q",
    deleteLingerMs: 60_000,
    report: (error, message) => reports.push({ error, message }),
    onDeleted: (count) => counted.push(count),
  });
  /** Starts a lock change; `outcome` is set once it settles. */
  const change = (message: ReceivedMessage, seconds: number) => {
    const record: { outcome?: VisibilityOutcome } = {};
    void acks.changeVisibility(message, seconds).then((outcome) => record.outcome = outcome);
    return record;
  };
  return { a, b, acks, reports, counted, change };
}

Deno.test("a delete answered without its failures or its count takes the missing as none", async (t) => {
  await t.step("no failures: the count holds, nothing is reported", async () => {
    const { a, b, acks, reports, counted } = await acksAnswering({ delete: { deleted: 2 } });
    acks.delete(a);
    acks.delete(b);
    await acks.flush();
    assert.deepEqual(counted, [2]);
    assert.deepEqual(reports, []);
  });
  await t.step("no count: the failures are reported, nothing is counted", async () => {
    const { a, b, acks, reports, counted } = await acksAnswering({
      delete: {
        failures: [{ receiptHandle: "m2#1", code: "ReceiptHandleStale", message: "x" }],
      },
    });
    acks.delete(a);
    acks.delete(b);
    await acks.flush();
    assert.deepEqual(counted, [0]);
    assert.equal(reports.length, 1);
    assert.ok(reports[0].error instanceof CmqdError);
    assert.equal(reports[0].error.code, "ReceiptHandleStale");
    assert.equal(reports[0].message, b);
  });
});

Deno.test("a lock change answered without its entries or its failures takes the missing as none", async (t) => {
  await t.step("no failures: every change holds", async () => {
    const visibleAt = Date.now() + 30_000;
    const { a, acks, change } = await acksAnswering({
      visibility: { entries: [{ receiptHandle: "m1#1", visibleAt }] },
    });
    const renewal = change(a, 30);
    await acks.flush();
    await Promise.resolve();
    assert.deepEqual(renewal.outcome, { ok: true, visibleAt });
  });
  await t.step("no entries: the failed change lost its lock", async () => {
    const { a, acks, change } = await acksAnswering({
      visibility: {
        failures: [{ receiptHandle: "m1#1", code: "MessageNotInflight", message: "x" }],
      },
    });
    const renewal = change(a, 30);
    await acks.flush();
    await Promise.resolve();
    assert.equal(renewal.outcome?.ok, false);
    assert.ok(renewal.outcome !== undefined && !renewal.outcome.ok && renewal.outcome.lockLost);
  });
});

Deno.test("a delete or lock change answered 200 with a body of another shape fails as UnexpectedResponse", async (t) => {
  const bodies = [
    null,
    "ok",
    { deleted: 1, failures: 7, entries: 7 },
    { deleted: "1", entries: {}, failures: "x" },
    { deleted: 0, failures: [null], entries: [null] },
  ];
  for (const body of bodies) {
    await t.step(`answered ${JSON.stringify(body)}`, async () => {
      const { a, b, acks, reports, change } = await acksAnswering({
        delete: body,
        visibility: body,
      });
      acks.delete(a);
      const renewal = change(b, 30);
      const release = change(b, 0);
      await acks.flush();
      await Promise.resolve();
      for (const { outcome } of [renewal, release]) {
        assert.ok(outcome !== undefined && !outcome.ok, "every lock change settles, failed");
        assert.equal(outcome.lockLost, false, "the lock may still hold");
        assert.ok(outcome.error instanceof CmqdError);
        assert.equal(outcome.error.code, "UnexpectedResponse");
        assert.match(outcome.error.message, /lock change/);
      }
      // The delete is reported for its message (its lock runs out, it comes back), not thrown.
      assert.equal(reports.length, 1);
      assert.ok(reports[0].error instanceof CmqdError);
      assert.equal(reports[0].error.code, "UnexpectedResponse");
      assert.match(reports[0].error.message, /delete/);
      assert.equal(reports[0].message, a);
    });
  }
});

Deno.test("a lock change the answer names in neither its entries nor its failures is unconfirmed, not renewed", async (t) => {
  const answers = [
    { entries: [], failures: [] },
    {},
    { entries: [{ receiptHandle: "m2#1", visibleAt: 1 }], failures: [] },
  ];
  for (const visibility of answers) {
    await t.step(`answered ${JSON.stringify(visibility)}`, async () => {
      const { a, acks, change } = await acksAnswering({ visibility });
      const renewal = change(a, 30);
      await acks.flush();
      await Promise.resolve();
      const outcome = renewal.outcome;
      assert.ok(outcome !== undefined && !outcome.ok, "not counted as applied");
      assert.equal(outcome.lockLost, false, "nor as refused: the lock may still hold");
      assert.ok(outcome.error instanceof CmqdError);
      assert.equal(outcome.error.code, "UnexpectedResponse");
      assert.match(outcome.error.message, /neither entries nor failures/);
    });
  }
});

/**
 * Acks of received messages `a` (`m1#1`) and `b` (`m2#1`) through a client whose first lock
 * change never answers (a node that accepted the connection and says nothing, whatever its
 * signal does) and whose later ones apply every entry. `calls` records each call as made.
 */
async function acksWithAHungCall(options: { changeCallMsMax?: number } = {}) {
  const queue = new FakeQueue();
  queue.send("a", "b");
  const [a, b] = (await queue.receiveMessages("q", { maxMessages: 2 })).messages;
  const { client, calls } = firstLockChangeHangs(queue);
  const reports: unknown[] = [];
  const acks = new Acknowledger({
    client,
    queue: "q",
    deleteLingerMs: 60_000,
    report: (error) => reports.push(error),
    onDeleted: () => {},
    ...options,
  });
  const change = (message: ReceivedMessage, seconds: number, lockDeadlineMs?: number) => {
    const record: { outcome?: VisibilityOutcome } = {};
    void acks.changeVisibility(message, seconds, lockDeadlineMs)
      .then((outcome) => record.outcome = outcome);
    return record;
  };
  return { a, b, acks, calls, change };
}

Deno.test("a lock change that never answers holds up later changes of its own message only", async () => {
  const { a, b, calls, change } = await acksWithAHungCall();
  const renewalOfA = change(a, 30);
  await waitFor("a's renewal on the wire", () => calls.length === 1);
  const renewalOfB = change(b, 30);
  const releaseOfA = change(a, 0);
  await waitFor("b's renewal answered", () => renewalOfB.outcome !== undefined);
  assert.equal(renewalOfB.outcome?.ok, true);
  // a's release waits for a's renewal: sent beside b's, it could land before the renewal and
  // be undone by it.
  assert.deepEqual(calls.map((call) => call.handles), [["m1#1"], ["m2#1"]]);
  assert.equal(renewalOfA.outcome, undefined);
  assert.equal(releaseOfA.outcome, undefined);
});

Deno.test("a lock change unanswered when its lock runs out is given up: aborted, unconfirmed, and the message's next change goes", async () => {
  const { a, acks, calls, change } = await acksWithAHungCall();
  const renewal = change(a, 30, Date.now() + 50);
  const release = change(a, 0);
  await waitFor("the renewal given up", () => renewal.outcome !== undefined);
  const outcome = renewal.outcome;
  assert.ok(outcome !== undefined && !outcome.ok, "not renewed");
  assert.equal(outcome.lockLost, false, "unconfirmed: the lock may hold or not");
  assert.ok(outcome.error instanceof CmqdError);
  assert.equal(outcome.error.code, "Timeout");
  assert.equal(calls[0].signal?.aborted, true, "the call is aborted through its signal");
  await acks.flush();
  assert.deepEqual(calls.map((call) => call.handles), [["m1#1"], ["m1#1"]]);
  assert.equal(release.outcome?.ok, true);
});

Deno.test("a lock change with no lock deadline is given up too: a hung call holds no call slot for good", async () => {
  // The client never settles the call, its abort signal notwithstanding (a custom client, or a
  // transport that ignores the signal: the client's own timeout can't end it then).
  const { a, b, acks, calls, change } = await acksWithAHungCall({ changeCallMsMax: 100 });
  const release = change(a, 0);
  await waitFor("the release given up", () => release.outcome !== undefined);
  const outcome = release.outcome;
  assert.ok(outcome !== undefined && !outcome.ok, "not confirmed");
  assert.equal(outcome.lockLost, false);
  assert.equal(outcome.givenUp, true);
  assert.equal(calls[0].signal?.aborted, true, "the call is aborted through its signal");
  // Its slot is free again: flush (stop) does not wait for the hung call either.
  const renewal = change(b, 30);
  await acks.flush();
  assert.equal(renewal.outcome?.ok, true);
});

Deno.test("a lock change under a long lock is given up at changeCallMsMax, not at half of the lock", async () => {
  // A release (or renewal) of a 12 h lock to a node that never answers: given up at half of the
  // time left, it would hold its call slot, and flush (the consumer's stop), for 6 h.
  const { a, acks, calls, change } = await acksWithAHungCall({ changeCallMsMax: 100 });
  const release = change(a, 0, Date.now() + 12 * 3600_000);
  await waitFor("the release given up", () => release.outcome !== undefined);
  const outcome = release.outcome;
  assert.ok(outcome !== undefined && !outcome.ok, "not confirmed");
  assert.equal(outcome.lockLost, false, "unconfirmed");
  assert.equal(outcome.givenUp, true);
  assert.ok(outcome.error instanceof CmqdError);
  assert.match(outcome.error.message, /within 100 ms/);
  assert.equal(calls[0].signal?.aborted, true, "the call is aborted through its signal");
  await acks.flush();
});

Deno.test("an explicit delete that never answers is given up at deleteCallMsMax: flush (stop) ends", async () => {
  // A client whose delete never settles, its signal notwithstanding (a custom client, or one
  // whose timeoutMs is Infinity against a node that never answers).
  const queue = new FakeQueue();
  queue.send("a", "b");
  const [a, b] = (await queue.receiveMessages("q", { maxMessages: 2 })).messages;
  const signals: AbortSignal[] = [];
  const client: ConsumerClient = {
    receiveMessages: queue.receiveMessages.bind(queue),
    changeVisibility: queue.changeVisibility.bind(queue),
    deleteMessages: (_queue, _handles, options) => {
      if (options?.signal !== undefined) signals.push(options.signal);
      return new Promise(() => {});
    },
  };
  const reports: { error: unknown; message?: ReceivedMessage }[] = [];
  let deleted = 0;
  const acks = new Acknowledger({
    client,
    queue: "q",
    deleteLingerMs: 60_000,
    deleteCallMsMax: 100,
    report: (error, message) => reports.push({ error, message }),
    onDeleted: (count) => deleted += count,
  });
  acks.delete(a);
  acks.delete(b);
  await acks.flush();
  assert.equal(signals.length, 1, "one delete call, given a signal");
  assert.equal(signals[0].aborted, true, "the call is aborted through its signal");
  assert.equal(deleted, 0);
  assert.deepEqual(reports.map((report) => report.message?.id), [a.id, b.id]);
  for (const { error } of reports) {
    assert.ok(error instanceof CmqdError);
    assert.equal(error.code, "Timeout");
    assert.match(error.message, /no answer to a delete within 100 ms/);
  }
});

Deno.test("a lock-change call asks the client to leave a silent node in time for another to answer before it is given up", async () => {
  const queue = new FakeQueue();
  queue.send("a");
  const [a] = (await queue.receiveMessages("q")).messages;
  // The head timeout each call was given, for clients with a head timeout of their own of…
  const asked = async (own: number | undefined, lockDeadlineMs?: number) => {
    let options: CallOptions | undefined;
    const client: ConsumerClient = {
      receiveMessages: queue.receiveMessages.bind(queue),
      deleteMessages: queue.deleteMessages.bind(queue),
      changeVisibility: (name, entries, given) => {
        options = given;
        return queue.changeVisibility(name, entries);
      },
      ...(own === undefined ? {} : { headTimeoutMs: own }),
    };
    const acks = new Acknowledger({
      client,
      queue: "q",
      deleteLingerMs: 0,
      report: () => {},
      onDeleted: () => {},
    });
    const outcome = await acks.changeVisibility(a, 30, lockDeadlineMs);
    assert.equal(outcome.ok, true);
    assert.ok(options?.signal instanceof AbortSignal);
    return options?.headTimeoutMs;
  };
  // 20 s of lock left: given up after 10 s, so a node silent for 5 s is left (and avoided).
  const asked20s = await asked(5_000, Date.now() + 20_000);
  assert.ok(asked20s !== undefined && asked20s <= 5_000 && asked20s >= 4_000, `${asked20s}`);
  // A client's own shorter head timeout is kept, and so is one turned off.
  assert.equal(await asked(5_000, Date.now() + 40_000), undefined);
  assert.equal(await asked(2_000, Date.now() + 20_000), undefined);
  assert.equal(await asked(Infinity, Date.now() + 20_000), undefined);
  // A custom client without one, or a change with no lock to bound it: nothing asked.
  assert.equal(await asked(undefined, Date.now() + 20_000), undefined);
  assert.equal(await asked(5_000), undefined);
  // However soon the lock runs out, the call has its least time (250 ms), half of it for a node.
  assert.equal(await asked(5_000, Date.now() + 50), 125);
});

Deno.test("a client whose delete or lock change throws instead of rejecting is reported, not thrown", async () => {
  const queue = new FakeQueue();
  queue.send("a", "b");
  const [a, b] = (await queue.receiveMessages("q", { maxMessages: 2 })).messages;
  const thrown = new TypeError("the custom client failed synchronously");
  const client: ConsumerClient = {
    receiveMessages: queue.receiveMessages.bind(queue),
    deleteMessages: () => {
      throw thrown;
    },
    changeVisibility: () => {
      throw thrown;
    },
  };
  const reports: { error: unknown; message?: ReceivedMessage }[] = [];
  const acks = new Acknowledger({
    client,
    queue: "q",
    deleteLingerMs: 0,
    report: (error, message) => reports.push({ error, message }),
    onDeleted: () => {},
  });
  // Both calls leave from timers: a throw there would end the process.
  acks.delete(a);
  let outcome: VisibilityOutcome | undefined;
  void acks.changeVisibility(b, 30).then((settled) => outcome = settled);
  await waitFor("the delete reported", () => reports.length === 1);
  await waitFor("the lock change settled", () => outcome !== undefined);
  assert.deepEqual(reports, [{ error: thrown, message: a }]);
  assert.deepEqual(outcome, { ok: false, lockLost: false, error: thrown });
  // And from flush (stop).
  acks.delete(b);
  void acks.changeVisibility(a, 0).then((settled) => outcome = settled);
  await acks.flush();
  await Promise.resolve();
  assert.deepEqual(reports[1], { error: thrown, message: b });
  assert.deepEqual(outcome, { ok: false, lockLost: false, error: thrown });
});

/**
 * Acks of `count` received messages through a slow node: each lock-change call waits until the
 * test answers it (`answer(index)`, applied by the fake queue then). `calls` records each call.
 */
async function acksOnASlowNode(count: number) {
  const queue = new FakeQueue();
  queue.send(...Array.from({ length: count }, (_, index) => `m${index}`));
  const { messages } = await queue.receiveMessages("q", { maxMessages: count });
  const calls: { handles: string[]; answer: () => void }[] = [];
  const client: ConsumerClient = {
    receiveMessages: queue.receiveMessages.bind(queue),
    deleteMessages: queue.deleteMessages.bind(queue),
    changeVisibility: (name, entries) =>
      new Promise((resolve) => {
        calls.push({
          handles: entries.map((entry) => entry.receiptHandle),
          answer: () => resolve(queue.changeVisibility(name, entries)),
        });
      }),
  };
  const acks = new Acknowledger({
    client,
    queue: "q",
    deleteLingerMs: 60_000,
    report: () => {},
    onDeleted: () => {},
  });
  const outcomes: (VisibilityOutcome | undefined)[] = [];
  /** A lock change of message `index` (a renewal unless told), with 30 s of lock left. */
  const change = async (index: number, renewal = true) => {
    void acks.changeVisibility(messages[index], 30, Date.now() + 30_000, renewal)
      .then((outcome) => outcomes[index] = outcome);
    await new Promise((resolve) => setTimeout(resolve, 5)); // The next one in another tick.
  };
  return { acks, calls, outcomes, change };
}

Deno.test("lock-change calls on the wire are bounded; changes due meanwhile leave together", async () => {
  const { acks, calls, outcomes, change } = await acksOnASlowNode(12);
  // Twelve renewals due in twelve ticks while the node has answered none: one call each before.
  for (let index = 0; index < 12; index++) await change(index);
  assert.equal(calls.length, changeCallsMax);
  assert.deepEqual(calls.map((call) => call.handles), [["m1#1"], ["m2#1"], ["m3#1"], ["m4#1"]]);
  // One answered: the eight waiting leave in one call.
  calls[0].answer();
  await waitFor("the next call", () => calls.length === changeCallsMax + 1);
  assert.equal(calls[changeCallsMax].handles.length, 8);
  for (const call of calls.slice(1)) call.answer();
  await acks.flush();
  assert.equal(calls.length, changeCallsMax + 1);
  assert.ok(outcomes.length === 12 && outcomes.every((outcome) => outcome?.ok === true));
});

Deno.test("retry delays and releases on the wire never take the calls a renewal needs", async () => {
  const { acks, calls, outcomes, change } = await acksOnASlowNode(4);
  for (let index = 0; index < 3; index++) await change(index, false);
  assert.equal(calls.length, 2, "two calls of other changes at most; the third waits");
  await change(3); // A renewal goes at once, the waiting release riding along.
  assert.deepEqual(calls.map((call) => call.handles), [["m1#1"], ["m2#1"], ["m4#1", "m3#1"]]);
  for (const call of calls) call.answer();
  await acks.flush();
  assert.ok(outcomes.every((outcome) => outcome?.ok === true));
});

Deno.test("a client whose timeoutMs or headTimeoutMs getter throws is read as having none: nothing thrown in a timer", async () => {
  // A wrapper of a CmqdClient (an instrumenting Proxy that passes itself as the getters' `this`
  // reads its private fields off the wrong object) throws on reading them. Read in a timer's
  // callback, the throw ended the process.
  const queue = new FakeQueue();
  queue.send("a");
  const client: ConsumerClient = {
    receiveMessages: queue.receiveMessages.bind(queue),
    deleteMessages: queue.deleteMessages.bind(queue),
    changeVisibility: queue.changeVisibility.bind(queue),
    get timeoutMs(): number {
      throw new TypeError("Cannot read private member #requester");
    },
    get headTimeoutMs(): number {
      throw new TypeError("Cannot read private member #requester");
    },
  };
  const { consumer, errors } = consumerOn(client, {
    visibilityTimeoutSeconds: 1,
    // Past half the lock: renewed (a lock-change call); its delete goes alone (a poll is parked).
    handleMessage: () => waitFor("a renewal", () => consumer.stats.renewed >= 1, 10_000),
  });
  consumer.start();
  await waitFor("the message deleted", () => consumer.stats.deleted === 1, 10_000);
  await consumer.stop();
  assert.deepEqual(errors, []);
  assert.equal(queue.remaining, 0);
});

Deno.test("a 400 naming one handle of an explicit delete fails that message only: the others are deleted", async () => {
  // The broker checks each handle and refuses the whole request for the first bad one
  // (`receiptHandles.N`), before deleting anything: the others can go again without it.
  const queue = new FakeQueue();
  queue.send("a", "b", "c");
  const [a, b, c] = (await queue.receiveMessages("q", { maxMessages: 3 })).messages;
  const calls: string[][] = [];
  const refusal = (index: number) =>
    new CmqdError("InvalidParameter", "must be a string", {
      status: 400,
      field: `receiptHandles.${index}`,
    });
  const client: ConsumerClient = {
    receiveMessages: queue.receiveMessages.bind(queue),
    changeVisibility: queue.changeVisibility.bind(queue),
    deleteMessages: (name, handles) => {
      calls.push(handles);
      const index = handles.indexOf(b.receiptHandle);
      return index < 0 ? queue.deleteMessages(name, handles) : Promise.reject(refusal(index));
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
  for (const message of [a, b, c]) acks.delete(message);
  await acks.flush();
  assert.deepEqual(calls, [[a, b, c], [a, c]].map((list) => list.map((m) => m.receiptHandle)));
  assert.equal(deleted, 2);
  assert.equal(reports.length, 1, "only the refused handle's message is reported");
  assert.equal(reports[0].message, b);
  assert.ok(reports[0].error instanceof CmqdError);
  assert.equal(reports[0].error.field, "receiptHandles.1");
  assert.equal(queue.remaining, 1);
});
