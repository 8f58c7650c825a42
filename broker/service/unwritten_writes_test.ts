/**
 * Queue writes that provably change nothing answer without a log entry (no replicated write, no
 * fdatasync on a majority), and only after the replica's read barrier: a node whose barrier is
 * refused (it no longer leads) answers that refusal, never a stale "nothing to do". Writes that
 * change something are written as before.
 */
import assert from "node:assert/strict";
import { BrokerError } from "../engine/mod.ts";
import { ReplicationError } from "../replication/mod.ts";
import { laggingLeader, memoryEngine } from "../cluster/testing/mod.ts";

/** An engine whose read barriers are counted (and can be refused). */
function engine() {
  const parts = memoryEngine({ randomSalt: () => 42 });
  const barriers = { count: 0, refusal: null as ReplicationError | null };
  Object.assign(parts.replica, {
    readBarrier: () => {
      barriers.count++;
      return barriers.refusal === null ? Promise.resolve() : Promise.reject(barriers.refusal);
    },
  });
  /** The entries `action` wrote, and the barriers it waited for. */
  async function written(action: () => Promise<unknown>) {
    const [entries, waits] = [parts.replica.lastIndex, barriers.count];
    await action();
    return { entries: parts.replica.lastIndex - entries, barriers: barriers.count - waits };
  }
  return { ...parts, barriers, written };
}

Deno.test("an identical create of an existing queue writes nothing, nor does one that differs", async () => {
  const { broker, written } = engine();
  const attributes = { visibilityTimeoutSeconds: 45, tags: { team: "a" } };
  assert.deepEqual(await written(() => broker.createQueue("jobs", attributes)), {
    entries: 1,
    barriers: 0,
  });
  let again;
  assert.deepEqual(
    await written(async () => again = await broker.createQueue("jobs", attributes)),
    { entries: 0, barriers: 1 },
  );
  assert.equal(again!.created, false);
  assert.equal(again!.queue.visibilityTimeoutSeconds, 45);
  // Without tags a create matches whatever tags the queue has, as the written create does.
  const untagged = await written(() =>
    broker.createQueue("jobs", { visibilityTimeoutSeconds: 45 })
  );
  assert.equal(untagged.entries, 0);
  const differs = await written(() =>
    assert.rejects(
      () => broker.createQueue("jobs", { visibilityTimeoutSeconds: 46 }),
      (error: BrokerError) => error.code === "QueueAlreadyExists",
    )
  );
  assert.deepEqual(differs, { entries: 0, barriers: 1 });
});

Deno.test("an update or tag change that leaves the queue as it is writes nothing", async () => {
  const { broker, written } = engine();
  await broker.createQueue("jobs", { visibilityTimeoutSeconds: 45, tags: { team: "a" } });
  const before = await broker.getQueue("jobs");
  for (
    const [what, action] of [
      ["no attributes", () => broker.updateQueue("jobs", {})],
      ["the values it has", () => broker.updateQueue("jobs", { visibilityTimeoutSeconds: 45 })],
      ["no policy removed", () => broker.updateQueue("jobs", { deadLetter: null })],
      ["an absent tag removed", () => broker.changeQueueTags("jobs", { remove: ["nope"] })],
      ["a tag set to its value", () => broker.changeQueueTags("jobs", { set: { team: "a" } })],
    ] as const
  ) {
    assert.deepEqual(await written(action), { entries: 0, barriers: 1 }, what);
  }
  assert.deepEqual(await broker.getQueue("jobs"), before, "modifiedAt kept: nothing changed");
  const changed = await written(() => broker.updateQueue("jobs", { visibilityTimeoutSeconds: 46 }));
  assert.equal(changed.entries, 1);
  const untagged = await written(() => broker.changeQueueTags("jobs", { remove: ["team"] }));
  assert.equal(untagged.entries, 1);
  assert.equal((await broker.getQueue("jobs")).tags, undefined);
});

Deno.test("a purge or redrive of a queue that holds no message writes nothing", async () => {
  const { broker, written } = engine();
  await broker.createQueue("dead", {});
  await broker.createQueue("jobs", { deadLetter: { queue: "dead", maxReceiveCount: 1 } });
  const { createdAt } = await broker.getQueue("dead");
  let answers: unknown[] = [];
  const empty = await written(async () => {
    answers = [
      await broker.purge("dead"),
      await broker.redrive("dead", {}),
      await broker.redrive("dead", { destination: "jobs" }, { ifCreatedAt: createdAt }),
    ];
  });
  assert.deepEqual(empty, { entries: 0, barriers: 3 });
  assert.deepEqual(answers, [{ purged: 0 }, { moved: 0 }, { moved: 0 }]);
  // A queue recreated since the mover read it: the write answers that, as before.
  await assert.rejects(
    () => broker.redrive("dead", {}, { ifCreatedAt: createdAt - 1 }),
    (error: BrokerError) => error.code === "QueueNotFound",
  );
  // A message in the queue, even a locked one, is written for.
  await broker.sendMessages("jobs", [{ body: "a" }]);
  await broker.receiveMessages("jobs", { visibilityTimeoutSeconds: 60, waitSeconds: 0 });
  let purged;
  assert.equal((await written(async () => purged = await broker.purge("jobs"))).entries, 1);
  assert.deepEqual(purged, { purged: 1 });
});

Deno.test("a write that changes nothing answers the read barrier's refusal, never the local state", async () => {
  const { broker, topics, barriers, written } = engine();
  await broker.createQueue("jobs", {});
  await topics.createTopic("news", {});
  barriers.refusal = new ReplicationError("NoLeader", "not the leader", { retryAfterSeconds: 1 });
  for (
    const action of [
      () => broker.createQueue("jobs", {}),
      () => broker.createQueue("jobs", { visibilityTimeoutSeconds: 99 }),
      () => topics.createTopic("news", { maxMessageBytes: 2048 }),
      () => broker.updateQueue("jobs", {}),
      () => broker.changeQueueTags("jobs", { remove: ["nope"] }),
      () => broker.purge("jobs"),
      () => broker.redrive("jobs", {}),
    ]
  ) {
    await assert.rejects(
      () => written(action),
      (error: BrokerError) => error instanceof BrokerError && error.code === "NoLeader",
    );
  }
});

Deno.test("a create conflicting with what exists is refused after the read barrier, unwritten", async () => {
  const { broker, topics, written } = engine();
  await broker.createQueue("jobs", { visibilityTimeoutSeconds: 45, tags: { team: "a" } });
  await broker.createQueue("other", {});
  await topics.createTopic("news", { maxMessageBytes: 1024 });
  await topics.subscribe("news", "s", { endpoint: { queue: "jobs" } });
  for (
    const [action, code, message] of [
      [
        () => broker.createQueue("jobs", { visibilityTimeoutSeconds: 46 }),
        "QueueAlreadyExists",
        "queue 'jobs' exists with different attributes",
      ],
      [
        () => broker.createQueue("jobs", { visibilityTimeoutSeconds: 45, tags: { team: "b" } }),
        "QueueAlreadyExists",
        "queue 'jobs' exists with different attributes",
      ],
      [
        () => topics.createTopic("news", { maxMessageBytes: 2048 }),
        "TopicAlreadyExists",
        "topic 'news' exists with different attributes",
      ],
      [
        () => topics.subscribe("news", "s", { endpoint: { queue: "other" } }),
        "SubscriptionAlreadyExists",
        "subscription 's' exists with different attributes",
      ],
      [
        () => topics.subscribe("news", "s", { endpoint: { queue: "jobs" }, filterTags: ["x"] }),
        "SubscriptionAlreadyExists",
        "subscription 's' exists with different attributes",
      ],
    ] as const
  ) {
    let refusal: unknown;
    const counts = await written(() => action().catch((error) => refusal = error));
    assert.deepEqual(counts, { entries: 0, barriers: 1 }, message);
    assert.ok(refusal instanceof BrokerError, message);
    assert.deepEqual([refusal.code, refusal.message], [code, message]);
  }
  // A queue with its own, different, settings after the barrier: answered at once, no second.
  assert.deepEqual(
    await written(() =>
      broker.createQueue("jobs", {}, { afterReadBarrier: true }).catch((error) => error.code)
    ),
    { entries: 0, barriers: 0 },
  );
});

Deno.test("a conflict the local state shows but the read barrier undoes is created", async () => {
  const old = memoryEngine({ randomSalt: () => 42 });
  await old.broker.createQueue("jobs", { visibilityTimeoutSeconds: 45 });
  await old.broker.createQueue("other", {});
  await old.topics.createTopic("news", { maxMessageBytes: 1024 });
  await old.topics.subscribe("news", "s", { endpoint: { queue: "jobs" } });
  const applied = old.replica.lastIndex;
  // Deleted and acknowledged, but not yet applied by the new leader.
  await old.topics.unsubscribe("news", "s");
  await old.broker.deleteQueue("jobs");
  await old.topics.deleteTopic("news");
  const node = laggingLeader(old, applied);
  const queue = await node.broker.createQueue("jobs", { visibilityTimeoutSeconds: 46 });
  assert.deepEqual([queue.created, queue.queue.visibilityTimeoutSeconds], [true, 46]);
  const topic = await node.topics.createTopic("news", { maxMessageBytes: 2048 });
  assert.deepEqual([topic.created, topic.topic.maxMessageBytes], [true, 2048]);
  const subscription = await node.topics.subscribe("news", "s", { endpoint: { queue: "other" } });
  assert.equal(subscription.created, true);
  assert.equal(old.replica.lastIndex, applied + 3 + 3, "each create written");
});
