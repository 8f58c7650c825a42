/**
 * The broker service's dead letters and their redrive, rewind and purge.
 */
import assert from "node:assert/strict";
import { BrokerError, CommandType, encodeTick } from "../engine/mod.ts";
import { rejects, setup } from "../cluster/testing/mod.ts";

Deno.test("dead-lettering moves messages with their id and redrive brings them back", async () => {
  const { broker, clock, replica } = setup();
  await broker.createQueue("dlq", {});
  await broker.createQueue("work", {
    visibilityTimeoutSeconds: 1,
    retentionSeconds: 600,
    deadLetter: { queue: "dlq", maxReceiveCount: 2, maxTimeToLiveSeconds: 300 },
  });
  const [sent] = (await broker.sendMessages("work", [{ body: "poison" }])).messages;
  for (let round = 0; round < 2; round++) {
    assert.equal((await broker.receiveMessages("work", {})).messages.length, 1);
    clock.advance(1_000);
  }
  assert.equal((await broker.receiveMessages("work", {})).messages.length, 0);
  const dead = (await broker.receiveMessages("dlq", { visibilityTimeoutSeconds: 1 })).messages[0];
  assert.equal(dead.id, sent.id);
  assert.equal(dead.body, "poison");
  clock.advance(1_000);
  assert.deepEqual(await broker.redrive("dlq", {}), { moved: 1 });
  const back = (await broker.receiveMessages("work", {})).messages[0];
  assert.equal(back.id, sent.id);
  assert.equal(back.receiveCount, 1);
  await broker.deleteMessages("work", [back.receiptHandle]);
  // Older than maxTimeToLiveSeconds: the next Tick moves it.
  await broker.sendMessages("work", [{ body: "old" }]);
  clock.advance(301_000);
  assert.equal(replica.machine.needsTick(clock.now()), true);
  await replica.propose(CommandType.Tick, encodeTick());
  assert.equal((await broker.getQueue("dlq")).activeMessages, 1);
  assert.equal((await broker.receiveMessages("dlq", {})).messages[0].body, "old");
});

Deno.test("a redrive without maxMessages moves up to 100,000 messages; 1 and 100,000 are accepted, 0 and 100,001 not", async () => {
  const { broker, replica } = setup();
  await broker.createQueue("dlq", {});
  await broker.sendMessages("dlq", [{ body: "stays" }]); // an empty queue's redrive: no entry
  const proposed = () => {
    const entry = replica.entry(replica.lastIndex);
    assert.equal(entry.type, CommandType.RedriveAfterHousekeeping);
    return JSON.parse(new TextDecoder().decode(entry.payload)).maxMessages;
  };
  await broker.redrive("dlq", {});
  assert.equal(proposed(), 100_000);
  for (const maxMessages of [1, 100_000]) {
    await broker.redrive("dlq", { maxMessages });
    assert.equal(proposed(), maxMessages);
  }
  for (const maxMessages of [0, 100_001]) {
    await rejects({ replica }, () => broker.redrive("dlq", { maxMessages }), {
      code: "InvalidParameter",
      field: "maxMessages",
    });
  }
});

Deno.test("rewind delivers deleted messages again and purge keeps them rewindable", async () => {
  const { broker, clock } = setup();
  await broker.createQueue("ledger", { rewindSeconds: 3_600 });
  const start = clock.now();
  await broker.sendMessages("ledger", [{ body: "1" }, { body: "2" }]);
  clock.advance(10_000);
  await broker.sendMessages("ledger", [{ body: "3" }]);
  const received = await broker.receiveMessages("ledger", { maxMessages: 3 });
  await broker.deleteMessages("ledger", received.messages.map((message) => message.receiptHandle));
  assert.equal((await broker.getQueue("ledger")).rewindableMessages, 3);
  const bySequence = await broker.rewind("ledger", { sequence: 2 });
  assert.deepEqual(bySequence, { from: { timestamp: start, sequence: 2 }, messages: 2 });
  assert.deepEqual(await broker.purge("ledger"), { purged: 2 });
  const byTime = await broker.rewind("ledger", { timestamp: start + 1 });
  assert.deepEqual(byTime, { from: { timestamp: start + 10_000, sequence: 3 }, messages: 1 });
  const again = await broker.receiveMessages("ledger", { maxMessages: 3 });
  assert.deepEqual(again.messages.map((message) => message.body), ["3"]);
  await assert.rejects(
    () => broker.rewind("ledger", { timestamp: clock.now() - 3_601_000 }),
    (error: BrokerError) => error.code === "InvalidParameter",
  );
});

Deno.test("a rewind timestamp that looks like Unix seconds is refused with a hint on the unit", async () => {
  const context = setup();
  const { broker, clock } = context;
  await broker.createQueue("ledger", { rewindSeconds: 3_600 });
  const seconds = Math.floor(clock.now() / 1000) - 60;
  await rejects(context, () => broker.rewind("ledger", { timestamp: seconds }), {
    code: "InvalidParameter",
    field: "timestamp",
  });
  const refusal = await broker.rewind("ledger", { timestamp: seconds }).catch((error) => error);
  assert.match(
    refusal.message,
    new RegExp(`before the rewind window .*Unix epoch milliseconds.*${seconds} looks like seconds`),
  );
  // A millisecond time before the window gets no such hint.
  const early = await broker.rewind("ledger", { timestamp: clock.now() - 3_601_000 })
    .catch((error) => error);
  assert.match(early.message, /before the rewind window/);
  assert.doesNotMatch(early.message, /seconds/);
});

Deno.test("a message purged during its delay and rewound is visible at once (as the README says)", async () => {
  const { broker, clock } = setup();
  await broker.createQueue("ledger", { rewindSeconds: 3_600 });
  const start = clock.now();
  await broker.sendMessages("ledger", [{ body: "later", delaySeconds: 600 }]);
  assert.deepEqual((await broker.receiveMessages("ledger", {})).messages, [], "delayed");
  assert.deepEqual(await broker.purge("ledger"), { purged: 1 });
  clock.advance(1_000);
  assert.equal((await broker.rewind("ledger", { timestamp: start })).messages, 1);
  const again = await broker.receiveMessages("ledger", {});
  assert.deepEqual(again.messages.map((message) => message.body), ["later"]);
});

Deno.test("a rewind to a time after now is refused and undeletes nothing (a milliseconds-for-seconds slip)", async () => {
  const { broker, clock, replica } = setup();
  await broker.createQueue("ledger", { rewindSeconds: 3_600 });
  await broker.sendMessages("ledger", [{ body: "1" }]);
  const received = await broker.receiveMessages("ledger", {});
  await broker.deleteMessages("ledger", [received.messages[0].receiptHandle]);
  const before = replica.lastIndex;
  await assert.rejects(
    () => broker.rewind("ledger", { timestamp: clock.now() + 1 }),
    (error: BrokerError) =>
      error.code === "InvalidParameter" && /timestamp: in the future/.test(error.message),
  );
  assert.equal(replica.lastIndex, before);
  assert.deepEqual(await broker.rewind("ledger", { timestamp: clock.now() }), {
    from: { timestamp: clock.now(), sequence: 1 },
    messages: 1,
  });
});
