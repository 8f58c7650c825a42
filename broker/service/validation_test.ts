import assert from "node:assert/strict";
import type { QueueAttributesInput } from "../../sdk/protocol.ts";
import { rejects, setup } from "../cluster/testing/mod.ts";

Deno.test("bad queue requests are answered precisely and change nothing", async (t) => {
  const context = setup();
  const { broker } = context;
  await broker.createQueue("fifo-dlq", { fifo: true });
  await broker.createQueue("dlq", {});
  const cases: [string, string, QueueAttributesInput, string, string?][] = [
    ["a bad name", "9lives", {}, "InvalidParameter", "queue"],
    ["a too long name", "a".repeat(65), {}, "InvalidParameter", "queue"],
    [
      "an out-of-range lock",
      "q",
      { visibilityTimeoutSeconds: 0 },
      "InvalidParameter",
      "visibilityTimeoutSeconds",
    ],
    ["a non-integer", "q", { maxBacklog: 1.5 }, "InvalidParameter", "maxBacklog"],
    [
      "an unknown attribute",
      "q",
      { colour: 1 } as QueueAttributesInput,
      "InvalidParameter",
      "colour",
    ],
    [
      "a rewind window beyond retention",
      "q",
      { retentionSeconds: 60, rewindSeconds: 61 },
      "InvalidParameter",
      "rewindSeconds",
    ],
    [
      "a missing dead-letter queue",
      "q",
      { deadLetter: { queue: "nope", maxReceiveCount: 3 } },
      "InvalidParameter",
      "deadLetter.queue",
    ],
    [
      "itself as dead-letter queue",
      "q",
      { deadLetter: { queue: "q", maxReceiveCount: 3 } },
      "InvalidParameter",
      "deadLetter.queue",
    ],
    [
      "a fifo dead-letter queue for a standard queue",
      "q",
      { deadLetter: { queue: "fifo-dlq", maxReceiveCount: 3 } },
      "InvalidParameter",
      "deadLetter.queue",
    ],
    [
      "a dead-letter policy without a rule",
      "q",
      { deadLetter: { queue: "dlq" } },
      "InvalidParameter",
      "deadLetter",
    ],
    [
      "a TTL not below retention",
      "q",
      { retentionSeconds: 300, deadLetter: { queue: "dlq", maxTimeToLiveSeconds: 300 } },
      "InvalidParameter",
      "deadLetter.maxTimeToLiveSeconds",
    ],
    [
      "a receive count out of range",
      "q",
      { deadLetter: { queue: "dlq", maxReceiveCount: 1001 } },
      "InvalidParameter",
      "deadLetter.maxReceiveCount",
    ],
  ];
  for (const [label, name, attributes, code, field] of cases) {
    await t.step(`create with ${label} is ${code}`, async () => {
      await rejects(context, () => broker.createQueue(name, attributes), { code, field });
    });
  }
  await t.step("update of fifo, of a missing queue, or out of range is rejected", async () => {
    await broker.createQueue("q", {});
    await rejects(context, () => broker.updateQueue("q", { fifo: true }), {
      code: "InvalidParameter",
      field: "fifo",
    });
    await rejects(context, () => broker.updateQueue("nope", {}), { code: "QueueNotFound" });
    await rejects(context, () => broker.updateQueue("q", { pollingWaitSeconds: 31 }), {
      code: "InvalidParameter",
      field: "pollingWaitSeconds",
    });
  });
  await t.step("list parameters out of range are rejected", async () => {
    await rejects(context, () => broker.listQueues({ limit: 0 }), {
      code: "InvalidParameter",
      field: "limit",
    });
    await rejects(context, () => broker.listQueues({ offset: -1 }), {
      code: "InvalidParameter",
      field: "offset",
    });
    await rejects(context, () => broker.listQueues({ after: 5 as unknown as string }), {
      code: "InvalidParameter",
      field: "after",
    });
    await rejects(context, () => broker.listQueues({ after: "a".repeat(65) }), {
      code: "InvalidParameter",
      field: "after",
    });
  });
  await t.step("a dead-letter policy can be set and removed by update", async () => {
    const set = await broker.updateQueue("q", { deadLetter: { queue: "dlq", maxReceiveCount: 2 } });
    assert.deepEqual(set.deadLetter, { queue: "dlq", maxReceiveCount: 2 });
    const removed = await broker.updateQueue("q", { deadLetter: null });
    assert.equal(removed.deadLetter, undefined);
  });
});

Deno.test("bad message requests are answered precisely and change nothing", async (t) => {
  const context = setup();
  const { broker } = context;
  await broker.createQueue("jobs", { maxMessageBytes: 1024 });
  const send = (messages: unknown) => () => broker.sendMessages("jobs", messages as never);
  const cases: [string, () => Promise<unknown>, string, string?][] = [
    ["an empty batch", send([]), "InvalidParameter", "messages"],
    ["257 messages", send(Array(257).fill({ body: "x" })), "BatchTooLarge", "messages"],
    [
      "a body over maxMessageBytes in UTF-8 bytes",
      send([{ body: "ok" }, { body: "é".repeat(513) }]),
      "MessageTooLarge",
      "messages.1.body",
    ],
    ["a missing body", send([{}]), "InvalidParameter", "messages.0.body"],
    [
      "a delay out of range",
      send([{ body: "x", delaySeconds: 43_201 }]),
      "InvalidParameter",
      "messages.0.delaySeconds",
    ],
    [
      "an empty groupId",
      send([{ body: "x", groupId: "" }]),
      "InvalidParameter",
      "messages.0.groupId",
    ],
    [
      "a too long dedupId",
      send([{ body: "x", dedupId: "d".repeat(129) }]),
      "InvalidParameter",
      "messages.0.dedupId",
    ],
    [
      "11 attributes",
      send([{
        body: "x",
        attributes: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, "v"])),
      }]),
      "InvalidParameter",
      "messages.0.attributes",
    ],
    // A lone surrogate would be stored as U+FFFD: another text than was sent, and two dedupIds or
    // groupIds differing only there would become one (the second message dropped as a repeat).
    [
      "a body with a lone surrogate",
      send([{ body: "A\ud800B" }]),
      "InvalidParameter",
      "messages.0.body",
    ],
    [
      "a dedupId with a lone surrogate",
      send([{ body: "x", dedupId: "\ud800" }]),
      "InvalidParameter",
      "messages.0.dedupId",
    ],
    [
      "a groupId with a lone surrogate",
      send([{ body: "x", groupId: "g\udbff" }]),
      "InvalidParameter",
      "messages.0.groupId",
    ],
    [
      "an attribute value with a lone surrogate",
      send([{ body: "x", attributes: { k: "\udc00" } }]),
      "InvalidParameter",
      "messages.0.attributes.k",
    ],
    [
      "a non-string attribute",
      send([{ body: "x", attributes: { k: 1 } }]),
      "InvalidParameter",
      "messages.0.attributes.k",
    ],
    [
      "an unknown field",
      send([{ body: "x", colour: "red" }]),
      "InvalidParameter",
      "messages.0.colour",
    ],
    [
      "a send to a missing queue",
      () => broker.sendMessages("nope", [{ body: "x" }]),
      "QueueNotFound",
    ],
    [
      "maxMessages 0",
      () => broker.receiveMessages("jobs", { maxMessages: 0 }),
      "InvalidParameter",
      "maxMessages",
    ],
    [
      "a wait over 30 s",
      () => broker.receiveMessages("jobs", { waitSeconds: 31 }),
      "InvalidParameter",
      "waitSeconds",
    ],
    [
      "a receive lock of 0",
      () => broker.receiveMessages("jobs", { visibilityTimeoutSeconds: 0 }),
      "InvalidParameter",
      "visibilityTimeoutSeconds",
    ],
    [
      "no handles to delete",
      () => broker.deleteMessages("jobs", []),
      "InvalidParameter",
      "receiptHandles",
    ],
    [
      "257 handles to delete",
      () => broker.deleteMessages("jobs", Array(257).fill("h")),
      "BatchTooLarge",
      "receiptHandles",
    ],
    [
      "a non-string handle",
      () => broker.deleteMessages("jobs", [5 as never]),
      "InvalidParameter",
      "receiptHandles.0",
    ],
    [
      "a visibility out of range",
      () =>
        broker.changeVisibility("jobs", [{ receiptHandle: "h", visibilityTimeoutSeconds: 43_201 }]),
      "InvalidParameter",
      "entries.0.visibilityTimeoutSeconds",
    ],
    [
      "a rewind on a queue without window",
      () => broker.rewind("jobs", { timestamp: 0 }),
      "InvalidParameter",
      "timestamp",
    ],
    [
      "a rewind with both points",
      () => broker.rewind("jobs", { timestamp: 0, sequence: 1 } as never),
      "InvalidParameter",
      "timestamp",
    ],
    [
      "a redrive to a missing queue",
      () => broker.redrive("jobs", { destination: "nope" }),
      "QueueNotFound",
    ],
    [
      "a redrive to itself",
      () => broker.redrive("jobs", { destination: "jobs" }),
      "InvalidParameter",
      "destination",
    ],
    ["a purge of a missing queue", () => broker.purge("nope"), "QueueNotFound"],
  ];
  for (const [label, call, code, field] of cases) {
    await t.step(`${label} is ${code}`, async () => {
      await rejects(context, call, { code, field });
    });
  }
  await t.step("the queue is still empty", async () => {
    assert.equal((await broker.getQueue("jobs")).activeMessages, 0);
  });
});
