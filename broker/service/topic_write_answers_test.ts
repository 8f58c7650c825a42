/**
 * A topic or subscription write answers with the state its own entry made, not with the state
 * after every entry applied with it: entries proposed together are applied in one batch before
 * any proposer reads on, so a read after the proposal settled showed what the next entries did
 * (a delete of the topic: a 404 for a create or subscribe that took effect; another update: its
 * attributes instead of this one's).
 */
import assert from "node:assert/strict";
import { memoryEngine } from "../cluster/testing/mod.ts";

Deno.test("a subscribe applied just before its topic's delete answers created, not 404", async () => {
  const { broker, topics } = memoryEngine({ randomSalt: () => 42 });
  await broker.createQueue("jobs", {});
  await topics.createTopic("news", {});
  const [subscribed, deleted] = await Promise.allSettled([
    topics.subscribe("news", "to-jobs", { endpoint: { queue: "jobs" } }),
    topics.deleteTopic("news"),
  ]);
  assert.equal(deleted.status, "fulfilled");
  assert.equal(
    subscribed.status,
    "fulfilled",
    String((subscribed as PromiseRejectedResult).reason),
  );
  assert.equal(subscribed.value.created, true);
  assert.equal(subscribed.value.subscription.name, "to-jobs");
  assert.deepEqual(subscribed.value.subscription.endpoint, { queue: "jobs" });
});

Deno.test("a topic create or update applied just before the topic's delete answers its view", async () => {
  const { topics } = memoryEngine({ randomSalt: () => 42 });
  await topics.createTopic("news", {});
  const [again, updated, deleted] = await Promise.allSettled([
    topics.createTopic("news", {}),
    topics.updateTopic("news", { retentionSeconds: 600 }),
    topics.deleteTopic("news"),
  ]);
  assert.equal(deleted.status, "fulfilled");
  assert.equal(again.status, "fulfilled", String((again as PromiseRejectedResult).reason));
  // An identical create writes no entry: it is answered after the read barrier, and by then the
  // delete proposed beside it has applied, so it creates the topic again (a state within it).
  assert.equal(again.value.created, true);
  assert.equal(again.value.topic.retentionSeconds, 86_400);
  assert.equal(updated.status, "fulfilled", String((updated as PromiseRejectedResult).reason));
  assert.equal(updated.value.retentionSeconds, 600);
});

Deno.test("two updates of one subscription proposed together each answer their own filter", async () => {
  const { broker, topics } = memoryEngine({ randomSalt: () => 42 });
  await broker.createQueue("jobs", {});
  await topics.createTopic("news", {});
  await topics.subscribe("news", "to-jobs", { endpoint: { queue: "jobs" } });
  const [first, second] = await Promise.all([
    topics.updateSubscription("news", "to-jobs", { filterTags: ["sports"] }),
    topics.updateSubscription("news", "to-jobs", { filterTags: ["weather"] }),
  ]);
  assert.deepEqual(first.filterTags, ["sports"]);
  assert.deepEqual(second.filterTags, ["weather"]);
  const [created, patched] = await Promise.all([
    topics.subscribe("news", "late", { endpoint: { queue: "jobs" }, filterTags: ["a"] }),
    topics.updateSubscription("news", "to-jobs", { filterTags: [] }),
  ]);
  assert.deepEqual(created.subscription.filterTags, ["a"]);
  assert.deepEqual(patched.filterTags, []);
});
