import assert from "node:assert/strict";
import type { ReceiveMessagesResponse } from "../../sdk/protocol.ts";
import { flush, setup } from "../cluster/testing/mod.ts";

/** Parks `count` receives on `queue` and tracks which have answered. */
async function parkMany(
  broker: ReturnType<typeof setup>["broker"],
  queue: string,
  count: number,
  request: { maxMessages?: number; waitSeconds?: number } = {},
) {
  const answered: ReceiveMessagesResponse[] = [];
  const pending = Array.from(
    { length: count },
    () =>
      broker.receiveMessages(queue, { waitSeconds: 20, ...request }).then((response) => {
        answered.push(response);
        return response;
      }),
  );
  await flush();
  assert.equal(broker.parkedReceivers, count);
  return { answered, pending };
}

Deno.test("a send wakes as many parked receives as it has messages, not all of them", async (t) => {
  const { broker, replica, clock } = setup();
  await broker.createQueue("jobs", { visibilityTimeoutSeconds: 5 });
  /** Ends the polls of a step at their deadline. */
  const expire = async (pending: Promise<unknown>[]) => {
    clock.advance(20_000);
    await Promise.all(pending);
  };

  await t.step("one message, 1,000 parked receives: one receive entry, one receiver", async () => {
    const { answered, pending } = await parkMany(broker, "jobs", 1_000);
    const before = replica.lastIndex;
    await broker.sendMessages("jobs", [{ body: "only one" }]);
    for (let turn = 0; turn < 5; turn++) await flush();
    assert.equal(replica.lastIndex - before, 2, "the send and one receive");
    assert.equal(answered.length, 1);
    assert.deepEqual(answered[0].messages.map((message) => message.body), ["only one"]);
    assert.equal(broker.parkedReceivers, 999);
    await broker.deleteMessages("jobs", [answered[0].messages[0].receiptHandle]);
    await expire(pending);
  });

  await t.step("three messages, receivers of one each: three receivers, one each", async () => {
    const { answered, pending } = await parkMany(broker, "jobs", 10, { maxMessages: 1 });
    const before = replica.lastIndex;
    await broker.sendMessages("jobs", ["a", "b", "c"].map((body) => ({ body })));
    for (let turn = 0; turn < 10; turn++) await flush();
    assert.equal(replica.lastIndex - before, 4, "the send and three receives");
    assert.deepEqual(answered.map((response) => response.messages.length), [1, 1, 1]);
    assert.equal(broker.parkedReceivers, 7);
    await expire(pending.filter((_, index) => index >= 3));
  });

  await t.step("a lock that ends wakes one of the parked receives, not all", async () => {
    await broker.createQueue("locks", { visibilityTimeoutSeconds: 5 });
    await broker.sendMessages("locks", ["a", "b", "c"].map((body) => ({ body })));
    assert.equal((await broker.receiveMessages("locks", { maxMessages: 3 })).messages.length, 3);
    const { answered, pending } = await parkMany(broker, "locks", 100, { maxMessages: 16 });
    const before = replica.lastIndex;
    clock.advance(5_000);
    for (let turn = 0; turn < 10; turn++) await flush();
    assert.equal(replica.lastIndex - before, 1, "one receive takes all three");
    assert.equal(answered.length, 1);
    assert.equal(answered[0].messages.length, 3);
    assert.equal(broker.parkedReceivers, 99);
    broker.close();
    await Promise.all(pending);
    assert.equal(clock.timerCount, 0);
  });
});
