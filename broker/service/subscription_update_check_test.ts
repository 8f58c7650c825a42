/**
 * `updateSubscription` with `mayWriteQueue`: a filter change of a queue subscription asks it about
 * the queue, and the write names the endpoint the check saw, so a subscription made again with
 * another endpoint between the check and the apply is not changed unchecked.
 */
import assert from "node:assert/strict";
import { memoryEngine } from "../cluster/testing/mod.ts";
import { BrokerError, CommandType, encodeTopicCommand } from "../engine/mod.ts";

Deno.test("a filter change asks mayWriteQueue about the endpoint queue; push settings do not", async () => {
  const { broker, topics } = memoryEngine();
  await broker.createQueue("jobs", {});
  await topics.createTopic("news", {});
  await topics.subscribe("news", "to-jobs", { endpoint: { queue: "jobs" }, filterTags: ["a"] });
  const asked: string[] = [];
  const refuse = (queue: string) => {
    asked.push(queue);
    throw new BrokerError("AccessDenied", `no send on ${queue}`);
  };
  await assert.rejects(
    () => topics.updateSubscription("news", "to-jobs", { filterTags: [] }, refuse),
    /no send on jobs/,
  );
  assert.deepEqual(asked, ["jobs"]);
  assert.deepEqual((await topics.getSubscription("news", "to-jobs")).filterTags, ["a"]);
  await topics.subscribe("news", "hook", { endpoint: { url: "https://example.com/h" } });
  const view = await topics.updateSubscription("news", "hook", { filterTags: ["b"] }, refuse);
  assert.deepEqual(view.filterTags, ["b"], "a URL endpoint writes into no queue");
  assert.deepEqual(asked, ["jobs"]);
});

Deno.test("a subscription made again with a queue endpoint after the check is not changed by the checked write", async () => {
  const { broker, topics, replica } = memoryEngine();
  await broker.createQueue("jobs", {});
  await topics.createTopic("news", {});
  await topics.subscribe("news", "s", { endpoint: { url: "https://example.com/h" } });
  // Proposed together, applied in one batch after every check ran: the update's check sees the
  // URL subscription, its apply the queue one.
  const gone = topics.unsubscribe("news", "s");
  const remade = replica.propose(
    CommandType.Subscribe,
    encodeTopicCommand({
      topic: "news",
      subscription: "s",
      attributes: { endpoint: { queue: "jobs" }, filterTags: ["only-this"] },
    }),
  );
  const widened = topics.updateSubscription("news", "s", { filterTags: [] }, () => {
    throw new Error("not asked: the check saw a URL endpoint");
  });
  const [unsubscribed, subscribed, updated] = await Promise.allSettled([gone, remade, widened]);
  assert.equal(unsubscribed.status, "fulfilled");
  assert.equal(subscribed.status, "fulfilled");
  assert.equal(updated.status, "rejected");
  assert.match(String((updated as PromiseRejectedResult).reason), /endpoint.*immutable/);
  assert.deepEqual((await topics.getSubscription("news", "s")).filterTags, ["only-this"]);
});
