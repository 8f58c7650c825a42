import assert from "node:assert/strict";
import { receivableAtOnce } from "./deliveries.ts";

const none = () => false;

Deno.test("receivableAtOnce counts the messages visible at once, one per group on a FIFO queue", () => {
  const messages = [
    { body: "a", delaySeconds: 0, groupId: "g1" },
    { body: "b", delaySeconds: 5, groupId: "g2" },
    { body: "c", delaySeconds: 0, groupId: "g1" },
    { body: "d", delaySeconds: 0 },
    { body: "e", delaySeconds: 0, groupId: "g3" },
  ];
  assert.equal(receivableAtOnce(messages, false, none), 4);
  // g1 once, the queue-wide group once (no groupId), g3; g2 is delayed.
  assert.equal(receivableAtOnce(messages, true, none), 3);
  assert.equal(receivableAtOnce([{ body: "x", delaySeconds: 1 }], false, none), 0);
  assert.equal(receivableAtOnce([], true, none), 0);
});

Deno.test("receivableAtOnce counts no FIFO group that already holds a message, nor one whose first message is delayed", () => {
  const messages = [
    { body: "a", delaySeconds: 0, groupId: "held" },
    { body: "b", delaySeconds: 5, groupId: "late" },
    { body: "c", delaySeconds: 0, groupId: "late" },
    { body: "d", delaySeconds: 0 },
    { body: "e", delaySeconds: 0, groupId: "new" },
  ];
  // "held" has a message in the queue already (in flight, delayed or waiting: its head, which
  // the new one queues behind); "late" starts with a delayed message, which blocks the group.
  const holds = (group: string) => group === "held" || group === "";
  assert.equal(receivableAtOnce(messages, true, holds), 1);
  assert.equal(receivableAtOnce(messages, true, none), 3);
  // A standard queue has no groups: each message visible at once counts.
  assert.equal(receivableAtOnce(messages, false, holds), 4);
});
