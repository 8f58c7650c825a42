/**
 * `__proto__` as a user key (a message attribute, a queue tag) is refused by the service, which
 * every door calls, with the field naming it; other keys that name things of `Object.prototype`
 * are ordinary data: stored, replicated and answered as sent.
 */
import assert from "node:assert/strict";
import { rejects, setup } from "../cluster/testing/mod.ts";

/** A map with an own `__proto__` key, as `JSON.parse` makes one from a request body. */
function withProto(extra: Record<string, string> = {}): Record<string, string> {
  return { ...JSON.parse('{"__proto__": "v"}'), ...extra };
}

/** Keys that name properties every plain object inherits. */
const inheritedNames = ["constructor", "prototype", "toString", "hasOwnProperty", "valueOf"];

Deno.test("service: an attribute named __proto__ is refused on sends and publishes", async () => {
  const context = setup();
  const { broker, topics } = context;
  await broker.createQueue("q", {});
  await topics.createTopic("t", {});
  const attributes = withProto({ a: "b" });
  assert.ok(Object.hasOwn(attributes, "__proto__"));
  const field = "messages.1.attributes.__proto__";
  await rejects(
    context,
    () => broker.sendMessages("q", [{ body: "x" }, { body: "y", attributes }]),
    { code: "InvalidParameter", field },
  );
  await rejects(
    context,
    () => topics.publish("t", [{ body: "x" }, { body: "y", attributes }]),
    { code: "InvalidParameter", field },
  );
  await assert.rejects(
    () => broker.sendMessages("q", [{ body: "x", attributes }]),
    /messages\.0\.attributes\.__proto__: reserved name/,
  );
});

Deno.test("service: a tag named __proto__ is refused on create, update and tag changes", async () => {
  const context = setup();
  const { broker } = context;
  await broker.createQueue("q", { tags: { env: "prod" } });
  const before = await broker.getQueue("q");
  const refusal = { code: "InvalidParameter", field: "tags.__proto__" };
  await rejects(context, () => broker.createQueue("other", { tags: withProto() }), refusal);
  await rejects(context, () => broker.updateQueue("q", { tags: withProto() }), refusal);
  await rejects(context, () => broker.changeQueueTags("q", { set: withProto() }), refusal);
  // Removing it is no harm (a queue may hold one written before it was refused).
  await broker.changeQueueTags("q", { remove: ["__proto__"] });
  assert.deepEqual(await broker.getQueue("q"), before);
});

Deno.test("service: keys named after inherited properties are stored and answered as sent", async () => {
  const { broker } = setup();
  const map = Object.fromEntries(inheritedNames.map((name) => [name, `${name} value`]));
  await broker.createQueue("q", { tags: map });
  assert.deepEqual((await broker.getQueue("q")).tags, map);
  await broker.changeQueueTags("q", { remove: ["constructor"], set: { valueOf: "changed" } });
  const { constructor: _, ...changed } = { ...map, valueOf: "changed" };
  assert.deepEqual((await broker.getQueue("q")).tags, changed);
  await broker.sendMessages("q", [{ body: "x", attributes: map }]);
  const [message] = (await broker.receiveMessages("q", {})).messages;
  assert.deepEqual(message.attributes, map);
  for (const name of inheritedNames) assert.ok(Object.hasOwn(message.attributes!, name), name);
});
