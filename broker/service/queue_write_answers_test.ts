/**
 * A queue create, update or tag change answers with the queue its own entry made, not with the
 * queue after every entry applied with it: entries proposed together are applied in one batch
 * before any proposer reads on, so a read after the proposal settled showed what the next
 * entries did (a delete of the queue: a 404 for a write that took effect; another update: its
 * attributes instead of this one's).
 */
import assert from "node:assert/strict";
import { memoryEngine } from "../cluster/testing/mod.ts";

function reason(settled: PromiseSettledResult<unknown>): string {
  return settled.status === "rejected" ? String(settled.reason) : "";
}

Deno.test("an identical create answers as of its read barrier: a delete or update applied meanwhile is seen", async () => {
  // An identical create of an existing queue writes no entry: it answers once the read barrier
  // has shown the queue (`unwritten_writes.ts`), so a write proposed while it waits for the
  // barrier comes first, and the create answers what that write left.
  const { broker } = memoryEngine({ randomSalt: () => 42 });
  await broker.createQueue("jobs", { visibilityTimeoutSeconds: 30 });
  const [again, deleted] = await Promise.allSettled([
    broker.createQueue("jobs", { visibilityTimeoutSeconds: 30 }),
    broker.deleteQueue("jobs"),
  ]);
  assert.equal(deleted.status, "fulfilled", reason(deleted));
  assert.equal(again.status, "fulfilled", reason(again));
  assert.equal(again.value.created, true, "made anew after the delete");
  assert.equal(again.value.queue.visibilityTimeoutSeconds, 30);
  const [same, patched] = await Promise.allSettled([
    broker.createQueue("jobs", { visibilityTimeoutSeconds: 30 }),
    broker.updateQueue("jobs", { visibilityTimeoutSeconds: 60 }),
  ]);
  assert.equal(patched.status, "fulfilled", reason(patched));
  assert.equal(patched.value.visibilityTimeoutSeconds, 60);
  assert.equal(same.status, "rejected", "the queue differs from the create after the update");
  assert.equal((same.reason as { code: string }).code, "QueueAlreadyExists");
});

Deno.test("a queue update applied just before the queue's delete answers its view, not 404", async () => {
  const { broker } = memoryEngine({ randomSalt: () => 42 });
  await broker.createQueue("jobs", {});
  const [updated, deleted] = await Promise.allSettled([
    broker.updateQueue("jobs", { visibilityTimeoutSeconds: 60 }),
    broker.deleteQueue("jobs"),
  ]);
  assert.equal(deleted.status, "fulfilled", reason(deleted));
  assert.equal(updated.status, "fulfilled", reason(updated));
  assert.equal(updated.value.name, "jobs");
  assert.equal(updated.value.visibilityTimeoutSeconds, 60);
  await broker.createQueue("jobs", {});
  const [first, second] = await Promise.all([
    broker.updateQueue("jobs", { visibilityTimeoutSeconds: 60 }),
    broker.updateQueue("jobs", { visibilityTimeoutSeconds: 90 }),
  ]);
  assert.equal(first.visibilityTimeoutSeconds, 60);
  assert.equal(second.visibilityTimeoutSeconds, 90);
  // The answer is the view a read gives, field for field.
  await broker.sendMessages("jobs", [{ body: "a" }, { body: "b", delaySeconds: 60 }]);
  const alone = await broker.updateQueue("jobs", { visibilityTimeoutSeconds: 120 });
  assert.deepEqual(alone, await broker.getQueue("jobs"));
  assert.equal(alone.activeMessages, 1);
  assert.equal(alone.delayedMessages, 1);
});

Deno.test("a queue tag change applied just before the queue's delete answers its view, not 404", async () => {
  const { broker } = memoryEngine({ randomSalt: () => 42 });
  await broker.createQueue("jobs", { tags: { team: "a" } });
  const [changed, deleted] = await Promise.allSettled([
    broker.changeQueueTags("jobs", { set: { env: "prod" } }),
    broker.deleteQueue("jobs"),
  ]);
  assert.equal(deleted.status, "fulfilled", reason(deleted));
  assert.equal(changed.status, "fulfilled", reason(changed));
  assert.deepEqual(changed.value.tags, { team: "a", env: "prod" });
  await broker.createQueue("jobs", {});
  const [first, second] = await Promise.all([
    broker.changeQueueTags("jobs", { set: { owner: "ana" } }),
    broker.changeQueueTags("jobs", { remove: ["owner"], set: { cost: "42" } }),
  ]);
  assert.deepEqual(first.tags, { owner: "ana" });
  assert.deepEqual(second.tags, { cost: "42" });
});
