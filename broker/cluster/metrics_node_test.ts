/**
 * A node's `/metrics` counts the long polls parked on it (what the scale probe reads to know its
 * polls are waiting).
 */
import assert from "node:assert/strict";
import { SimFileSystem } from "../../storage/mod.ts";
import { startOneNode, until } from "./testing/mod.ts";

Deno.test("/metrics reports the receives parked on the node", async () => {
  const node = await startOneNode(new SimFileSystem());
  const parked = async () => {
    const text = await (await node.app.request("/metrics")).text();
    return Number(/^cmqd_parked_receives (\d+)$/m.exec(text)?.[1]);
  };
  try {
    await node.broker.createQueue("idle", {});
    assert.equal(await parked(), 0);
    const polls = [1, 2, 3].map(() => node.broker.receiveMessages("idle", { waitSeconds: 20 }));
    await until(async () => (await parked()) === 3, "three parked receives");
    await node.broker.sendMessages("idle", [{ body: "one" }]);
    await until(async () => (await parked()) === 2, "one receive answered");
    await node.close();
    const answers = await Promise.all(polls);
    assert.equal(answers.flatMap((answer) => answer.messages).length, 1);
  } finally {
    await node.close();
  }
});
