/**
 * The service's writes of new messages check the process's bound on held requests
 * (`heldRefusal`): a send or a publish proposed while a freeze longer than the bound is unnoticed
 * or just noticed is refused 503 `NotReady` and nothing is proposed; once the grace has passed,
 * or with no bound started, it goes through.
 */
import assert from "node:assert/strict";
import { memoryEngine } from "../cluster/testing/mod.ts";
import { BrokerError } from "../engine/mod.ts";
import { HeldRequests } from "./held_requests.ts";

Deno.test("a send or publish right after a freeze past the bound is refused NotReady and not proposed", async () => {
  const { broker, topics } = memoryEngine({ randomSalt: () => 42 });
  await broker.createQueue("money", {});
  await topics.createTopic("news", {});
  await topics.subscribe("news", "to-money", { endpoint: { queue: "money" } });
  const clock = { ms: 0 };
  const held = new HeldRequests({ msMax: 60_000, now: () => clock.ms, graceMs: 2_000 });
  held.start();
  try {
    clock.ms += 400_000; // frozen after a request arrived, before its write was proposed
    for (
      const write of <Array<() => Promise<unknown>>> [
        () => broker.sendMessages("money", [{ body: "late", dedupId: "pay-1" }]),
        () => topics.publish("news", [{ body: "late" }]),
      ]
    ) {
      const refused = await write().then(() => null, (error) => error);
      assert.ok(refused instanceof BrokerError, String(refused));
      assert.equal(refused.code, "NotReady");
      assert.equal(refused.retryAfterSeconds, 1);
      assert.match(refused.message, /^request held 400 s \(the node was frozen\?\)/);
    }
    const { messages } = await broker.receiveMessages("money", { maxMessages: 10 });
    assert.deepEqual(messages, [], "nothing was stored");
    held.tick(); // the freeze noticed; then the grace passes
    clock.ms += 2_500;
    held.tick();
    clock.ms += 500;
    await broker.sendMessages("money", [{ body: "fresh" }]);
  } finally {
    held.stop();
  }
  // No bound started: nothing refused.
  await topics.publish("news", [{ body: "published" }]);
  const stored = await broker.receiveMessages("money", { maxMessages: 10 });
  assert.deepEqual(stored.messages.map((message) => message.body).sort(), ["fresh", "published"]);
});
