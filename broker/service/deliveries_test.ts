import assert from "node:assert/strict";
import { receivableAtOnce } from "./deliveries.ts";

Deno.test("receivableAtOnce counts the messages visible at once, one per group on a FIFO queue", () => {
  const messages = [
    { body: "a", delaySeconds: 0, groupId: "g1" },
    { body: "b", delaySeconds: 5, groupId: "g2" },
    { body: "c", delaySeconds: 0, groupId: "g1" },
    { body: "d", delaySeconds: 0 },
    { body: "e", delaySeconds: 0, groupId: "g3" },
  ];
  assert.equal(receivableAtOnce(messages, false), 4);
  // g1 once, the queue-wide group once (no groupId), g3; g2 is delayed.
  assert.equal(receivableAtOnce(messages, true), 3);
  assert.equal(receivableAtOnce([{ body: "x", delaySeconds: 1 }], false), 0);
  assert.equal(receivableAtOnce([], true), 0);
});
