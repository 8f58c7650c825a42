/**
 * The README's default limits ("Operating cmqd", Limits), as a node runs the services (without
 * limits of its own): 10,000 queues and 10,000 topics per group, 10,000 long polls parked per
 * node, 8,000 of them of one access key. `limits_test.ts` checks what happens at a small limit; this file pins the defaults.
 */
import assert from "node:assert/strict";
import { BrokerError } from "./mod.ts";
import { flush, memoryEngine, rejects } from "../cluster/testing/mod.ts";

Deno.test("by default a group holds 10,000 queues and 10,000 topics", async () => {
  const context = memoryEngine();
  const names = Array.from({ length: 10_000 }, (_, index) => `q${index}`);
  for (let from = 0; from < names.length; from += 500) {
    await Promise.all(
      names.slice(from, from + 500).map((name) => context.broker.createQueue(name, {})),
    );
    await Promise.all(
      names.slice(from, from + 500).map((name) => context.topics.createTopic(name, {})),
    );
  }
  await rejects(context, () => context.broker.createQueue("one-more", {}), {
    code: "QueueLimitExceeded",
  });
  await rejects(context, () => context.topics.createTopic("one-more", {}), {
    code: "TopicLimitExceeded",
  });
});

Deno.test("by default a node parks 10,000 long polls; the next answers 503 NotReady", async () => {
  const context = memoryEngine();
  await context.broker.createQueue("jobs", {});
  const parked = Array.from(
    { length: 10_000 },
    () => context.broker.receiveMessages("jobs", { waitSeconds: 20 }),
  );
  await flush();
  assert.equal(context.broker.parkedReceivers, 10_000);
  await assert.rejects(
    context.broker.receiveMessages("jobs", { waitSeconds: 20 }),
    (error: unknown) =>
      error instanceof BrokerError && error.code === "NotReady" && error.retryAfterSeconds === 1,
  );
  context.clock.advance(20_000);
  assert.equal((await Promise.all(parked)).flatMap((answer) => answer.messages).length, 0);
});

Deno.test("by default one access key parks 8,000 long polls; its next answers 503 NotReady while another key parks", async () => {
  const context = memoryEngine();
  await context.broker.createQueue("jobs", {});
  const poll = (keyId: string) =>
    context.broker.receiveMessages("jobs", { waitSeconds: 20 }, undefined, { keyId });
  const refused = (error: unknown) =>
    error instanceof BrokerError && error.code === "NotReady" && error.retryAfterSeconds === 1;
  const parked = Array.from({ length: 8_000 }, () => poll("A"));
  await flush();
  assert.equal(context.broker.parkedReceivers, 8_000);
  await assert.rejects(poll("A"), refused);
  parked.push(poll("B"));
  await flush();
  assert.equal(context.broker.parkedReceivers, 8_001);
  context.clock.advance(20_000);
  await Promise.all(parked);
});
