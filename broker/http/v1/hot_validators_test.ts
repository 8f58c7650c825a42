import assert from "node:assert/strict";
import fc from "fast-check";
import {
  DeleteMessagesRequestSchema,
  QueueParamsSchema,
  ReceiveMessagesRequestSchema,
  SendMessagesRequestSchema,
} from "./schemas.ts";
import { PublishRequestSchema } from "./topic_schemas.ts";
import {
  plainDeleteRequest,
  plainPublishRequest,
  plainQueueName,
  plainReceiveRequest,
  plainSendRequest,
} from "./hot_validators.ts";
import {
  deleteBody,
  publishBody,
  queueName,
  receiveBody,
  sendBody,
} from "./_hot_input_arbitraries.ts";

const runs = { numRuns: 1000 };

/**
 * The promise: the recognizer accepts exactly what zod accepts (so the fast path never answers
 * what the zod route would refuse) and returns what zod returns. An attribute named `__proto__`
 * is refused by both (zod's record would drop it: see `userKeyed` in `schemas.ts`).
 */
function agrees<T>(
  recognize: (input: unknown) => T | null,
  schema: { safeParse(input: unknown): { success: boolean; data?: unknown } },
  input: unknown,
): void {
  const plain = recognize(input);
  const parsed = schema.safeParse(input);
  if (plain !== null) {
    assert.ok(parsed.success, `zod refuses what the recognizer took: ${JSON.stringify(input)}`);
    assert.deepStrictEqual(plain, parsed.data);
  } else if (parsed.success) {
    assert.fail(`the recognizer leaves a valid input to zod: ${JSON.stringify(input)}`);
  }
}

Deno.test("the send recognizer accepts exactly what the send schema accepts, with the same value", () => {
  fc.assert(
    fc.property(sendBody, (body) => agrees(plainSendRequest, SendMessagesRequestSchema, body)),
    runs,
  );
});

Deno.test("the receive recognizer accepts exactly what the receive schema accepts, with the same value", () => {
  fc.assert(
    fc.property(
      receiveBody,
      (body) => agrees(plainReceiveRequest, ReceiveMessagesRequestSchema, body),
    ),
    runs,
  );
});

Deno.test("the delete recognizer accepts exactly what the delete schema accepts, with the same value", () => {
  fc.assert(
    fc.property(
      deleteBody,
      (body) => agrees(plainDeleteRequest, DeleteMessagesRequestSchema, body),
    ),
    runs,
  );
});

Deno.test("the publish recognizer accepts exactly what the publish schema accepts, with the same value", () => {
  fc.assert(
    fc.property(publishBody, (body) => agrees(plainPublishRequest, PublishRequestSchema, body)),
    runs,
  );
});

Deno.test("the queue name recognizer accepts exactly the names the path schema accepts", () => {
  fc.assert(
    fc.property(queueName, (name) => {
      const parsed = QueueParamsSchema.safeParse({ queue: name });
      assert.equal(plainQueueName(name) !== null, parsed.success, name);
    }),
    runs,
  );
});

Deno.test("the generators reach both sides of every route's rules", () => {
  for (
    const [arbitrary, recognize] of [
      [sendBody, plainSendRequest],
      [receiveBody, plainReceiveRequest],
      [deleteBody, plainDeleteRequest],
      [publishBody, plainPublishRequest],
    ] as const
  ) {
    const samples = fc.sample(arbitrary as fc.Arbitrary<unknown>, { numRuns: 500, seed: 7 });
    const accepted = samples.filter((body) =>
      (recognize as (b: unknown) => unknown)(body) !== null
    );
    assert.ok(accepted.length > 25, `accepted ${accepted.length} of 500`);
    assert.ok(accepted.length < 450, `accepted ${accepted.length} of 500`);
  }
});

Deno.test("limits at their exact ends: at the limit is plain, one past it is left to zod", () => {
  const entries = (count: number) => ({
    messages: Array.from({ length: count }, () => ({ body: "" })),
  });
  assert.ok(plainSendRequest(entries(256)) !== null);
  assert.equal(plainSendRequest(entries(257)), null);
  assert.equal(plainSendRequest(entries(0)), null);
  assert.equal(plainReceiveRequest({ maxMessages: 0 }), null);
  assert.deepEqual(plainReceiveRequest({ maxMessages: 256, waitSeconds: 0 }), {
    maxMessages: 256,
    waitSeconds: 0,
  });
  assert.equal(plainReceiveRequest({ maxMessages: 1.5 }), null);
  assert.equal(plainDeleteRequest({ receiptHandles: [""] }), null);
  assert.equal(plainDeleteRequest({ receiptHandles: ["h"], extra: 1 }), null);
  const attributes = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, "v"]));
  assert.equal(plainSendRequest({ messages: [{ body: "x", attributes }] }), null);
  assert.equal(plainPublishRequest({ messages: [{ body: "x", attributes }] }), null);
  assert.ok(plainPublishRequest(entries(256)) !== null);
  assert.equal(plainPublishRequest(entries(257)), null);
  assert.equal(plainPublishRequest({ messages: [{ body: "x", tags: ["a", 1] }] }), null);
  assert.deepEqual(plainPublishRequest({ messages: [{ body: "x", tags: [], routingKey: "" }] }), {
    messages: [{ body: "x", tags: [], routingKey: "" }],
  });
});
