/**
 * Deletes and visibility changes whose every handle the state machine would refuse whatever it
 * applies first are answered by the leader without a log entry, with the state machine's own
 * failures; a handle that may still verify at apply is proposed as before.
 */
import assert from "node:assert/strict";
import { setup } from "../cluster/testing/mod.ts";

/** `handle` with one character of its tag changed (still well formed). */
function forged(handle: string): string {
  const at = handle.length - 2;
  return handle.slice(0, at) + (handle[at] === "A" ? "B" : "A") + handle.slice(at + 1);
}

Deno.test("a forged handle, or one of an earlier queue incarnation, is refused without a log entry", async () => {
  const { broker, replica } = setup();
  await broker.createQueue("early", {});
  await broker.createQueue("jobs", {});
  await broker.createQueue("gone", {});
  for (const queue of ["early", "jobs", "gone"]) {
    await broker.sendMessages(queue, [{ body: queue }, { body: `${queue} 2` }]);
  }
  const handleOf = async (queue: string) =>
    (await broker.receiveMessages(queue, { maxMessages: 1 })).messages[0].receiptHandle;
  const [early, jobs, gone] = [
    await handleOf("early"),
    await handleOf("jobs"),
    await handleOf("gone"),
  ];
  await broker.deleteQueue("gone");
  await broker.createQueue("gone", {});
  const cases: [string, string, string][] = [
    ["jobs", forged(jobs), "receipt handle does not verify"],
    ["jobs", early, "not a receipt handle of queue 'jobs'"],
    ["gone", gone, "not a receipt handle of queue 'gone'"],
  ];
  for (const [queue, handle, message] of cases) {
    const before = replica.lastIndex;
    const failure = { receiptHandle: handle, code: "ReceiptHandleInvalid", message };
    assert.deepEqual(await broker.deleteMessages(queue, [handle]), {
      deleted: 0,
      failures: [failure],
    });
    assert.deepEqual(
      await broker.changeVisibility(queue, [{
        receiptHandle: handle,
        visibilityTimeoutSeconds: 5,
      }]),
      { entries: [], failures: [failure] },
    );
    assert.equal(replica.lastIndex, before, `${message}: nothing written`);
  }
  // A handle of a later incarnation than the queue's may verify when applied: proposed, and
  // the state machine refuses it with the same failure.
  const before = replica.lastIndex;
  const later = await broker.deleteMessages("early", [jobs]);
  assert.equal(replica.lastIndex, before + 1);
  assert.equal(later.failures[0].message, "not a receipt handle of queue 'early'");
  // Beside a genuine handle, a forged one is proposed with it, and only the genuine one deletes.
  const mixed = await broker.deleteMessages("jobs", [forged(jobs), jobs]);
  assert.equal(mixed.deleted, 1);
  assert.deepEqual(mixed.failures.map((failure) => failure.message), [
    "receipt handle does not verify",
  ]);
  assert.equal((await broker.getQueue("jobs")).inflightMessages, 0);
});
