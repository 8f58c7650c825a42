import assert from "node:assert/strict";
import { rejects, setup } from "../cluster/testing/mod.ts";

function manyTags(count: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, index) => [`k${index}`, "v"]));
}

Deno.test("service: tags on create, replaced by update, changed key by key", async () => {
  const context = setup();
  const { broker } = context;
  const created = await broker.createQueue("q", { tags: { env: "prod" } });
  assert.deepEqual(created.queue.tags, { env: "prod" });
  // Both start from {env: prod}; each proposes only its change, so neither is lost.
  await Promise.all([
    broker.changeQueueTags("q", { set: { owner: "ana" } }),
    broker.changeQueueTags("q", { set: { cost: "42" }, remove: ["env"] }),
  ]);
  assert.deepEqual((await broker.getQueue("q")).tags, { cost: "42", owner: "ana" });
  assert.deepEqual((await broker.updateQueue("q", { tags: { only: "one" } })).tags, {
    only: "one",
  });
  assert.equal((await broker.updateQueue("q", { tags: {} })).tags, undefined);
});

Deno.test("service: bad tags are refused before anything is proposed", async () => {
  const context = setup();
  const { broker } = context;
  await broker.createQueue("q", { tags: manyTags(50) });
  const before = await broker.getQueue("q");
  await rejects(context, () => broker.createQueue("other", { tags: manyTags(51) }), {
    code: "InvalidParameter",
    field: "tags",
  });
  await rejects(context, () => broker.changeQueueTags("q", { set: { extra: "1" } }), {
    code: "InvalidParameter",
    field: "tags",
  });
  await rejects(context, () => broker.changeQueueTags("q", { set: { "a*": "1" } }), {
    code: "InvalidParameter",
    field: "tags.a*",
  });
  await rejects(context, () => broker.updateQueue("q", { tags: { k0: "\u0000" } }), {
    code: "InvalidParameter",
    field: "tags.k0",
  });
  await rejects(context, () => broker.changeQueueTags("nope", { set: { a: "1" } }), {
    code: "QueueNotFound",
  });
  // A conflicting create is refused when it applies (it reaches the log), not before.
  await assert.rejects(
    () => broker.createQueue("q", { tags: { k0: "other" } }),
    (error: { code?: string }) => error.code === "QueueAlreadyExists",
  );
  assert.deepEqual(await broker.getQueue("q"), before);
});
