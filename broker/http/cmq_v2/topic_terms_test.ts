/**
 * What CMQ topic clients see of cmqd's field names and filter types: errors name parameters as
 * the request sent them (not the service's fields), and clearing the tags of a routing-key
 * topic's subscription is a no-op.
 */
import assert from "node:assert/strict";
import { adminKey, ok, sdkSubscribeDefaults, setup } from "./_test_setup.ts";

Deno.test("errors name parameters as the client sent them, not the service's fields", async () => {
  const { client, refused } = setup({ topics: true });
  ok(await client.call("CreateQueue", { queueName: "eu" }));
  ok(await client.call("CreateTopic", { topicName: "tagged" }));
  ok(await client.call("CreateTopic", { topicName: "routed", filterType: 2 }));
  const messageOf = async (params: Record<string, string | number>) =>
    (await refused(() => client.call(params.Action as string, params), 4000)).body.message;
  // A tag list numbered from 0: its second entry is msgTag.1 (the service says messages.0.tags.1).
  const tag = await messageOf({
    Action: "PublishMessage",
    topicName: "tagged",
    msgBody: "x",
    "msgTag.0": "ok",
    "msgTag.1": "x".repeat(17),
  });
  assert.match(tag, /\bmsgTag\.1: at most 16 characters/);
  const key = await messageOf({
    Action: "PublishMessage",
    topicName: "routed",
    msgBody: "x",
    routingKey: "a".repeat(65),
  });
  assert.match(key, /^\(\d+\)routingKey: /);
  const subscribe = {
    Action: "Subscribe",
    topicName: "routed",
    subscriptionName: "eu",
    protocol: "queue",
    endpoint: "eu",
    ...sdkSubscribeDefaults,
  };
  const filterTag = await messageOf({ ...subscribe, "filterTag.1": "paid" });
  assert.match(filterTag, /^\(\d+\)filterTag: the topic filters by routingKey; use bindingKey$/);
  const bindingKey = await messageOf({ ...subscribe, "bindingKey.1": "a".repeat(65) });
  assert.match(bindingKey, /\bbindingKey\.1: /);
  // An http URL not written `http://`: the parser would read `http:/:@host/` as `http://host/`.
  const url = await messageOf({
    ...subscribe,
    subscriptionName: "hook",
    protocol: "http",
    endpoint: "http:/:@host/x",
  });
  assert.match(url, /^\(\d+\)endpoint: must have exactly two slashes after 'http:'$/);
  for (const message of [tag, key, filterTag, bindingKey, url]) {
    assert.doesNotMatch(message, /messages\.|filterTags|bindingKeys/, message);
  }
});

Deno.test("ClearSubscriptionFilterTags on a routing-key topic's subscription changes nothing and succeeds", async () => {
  const { client, refused } = setup({ topics: true });
  ok(await client.call("CreateQueue", { queueName: "eu" }));
  ok(await client.call("CreateTopic", { topicName: "routed", filterType: 2 }));
  ok(
    await client.call("Subscribe", {
      topicName: "routed",
      subscriptionName: "eu",
      protocol: "queue",
      endpoint: "eu",
      "bindingKey.1": "*.eu",
      ...sdkSubscribeDefaults,
    }),
  );
  const clear = { topicName: "routed", subscriptionName: "eu" };
  ok(await client.call("ClearSubscriptionFilterTags", clear));
  const attributes = ok(await client.call("GetSubscriptionAttributes", clear));
  assert.deepEqual(attributes.bindingKey, ["*.eu"]);
  await refused(
    () => client.call("ClearSubscriptionFilterTags", { ...clear, subscriptionName: "nope" }),
    4440,
  );
});

Deno.test("the Java SDK's ClearFilterTags, sent as Action ClearSUbscriptionFIlterTags, clears the tags", async () => {
  const { client, refused } = setup({ topics: true, client: { style: "java" } });
  ok(await client.call("CreateQueue", { queueName: "eu" }));
  ok(await client.call("CreateTopic", { topicName: "tagged" }));
  const subscription = { topicName: "tagged", subscriptionName: "eu" };
  ok(
    await client.call("Subscribe", {
      ...subscription,
      protocol: "queue",
      endpoint: "eu",
      "filterTag.1": "eu",
      ...sdkSubscribeDefaults,
    }),
  );
  ok(await client.call("ClearSUbscriptionFIlterTags", subscription));
  assert.deepEqual(ok(await client.call("GetSubscriptionAttributes", subscription)).filterTag, []);
  await refused(
    () => client.call("ClearSUbscriptionFIlterTags", { ...subscription, subscriptionName: "nope" }),
    4440,
  );
});

/** The JSON type of every field as the Go SDK's type assertions (`.(string)`, `.(float64)`) read it. */
function jsonTypes(body: Record<string, unknown>, fields: string[]): Record<string, string> {
  return Object.fromEntries(
    fields.map((field) => [field, Array.isArray(body[field]) ? "array" : typeof body[field]]),
  );
}

Deno.test("GetSubscriptionAttributes answers topicOwner as a string, as CMQ documents and the Go SDK asserts", async () => {
  // The Go SDK (SDK_GO_1.3) POSTs without a Content-Type, signs every parameter, and reads each
  // field with a type assertion that panics on any other JSON type: `topicOwner` is
  // `.(string)` (CMQ documents it as the owner's app id, a String), the times and the count
  // `.(float64)`, the lists `.([]interface{})`.
  const { client } = setup({
    topics: true,
    keys: [adminKey],
    client: { style: "java", requestClient: "SDK_GO_1.3" },
  });
  ok(await client.call("CreateQueue", { queueName: "eu" }));
  ok(await client.call("CreateTopic", { topicName: "tagged", filterType: 1, maxMsgSize: 65536 }));
  const subscription = { topicName: "tagged", subscriptionName: "eu" };
  ok(
    await client.call("Subscribe", {
      ...subscription,
      endpoint: "eu",
      protocol: "queue",
      notifyStrategy: "BACKOFF_RETRY",
      notifyContentFormat: "JSON",
      "filterTag.1": "eu",
    }),
  );
  const answer = ok(await client.call("GetSubscriptionAttributes", subscription));
  assert.deepEqual(
    jsonTypes(answer, [
      "topicOwner",
      "endpoint",
      "protocol",
      "notifyStrategy",
      "notifyContentFormat",
      "createTime",
      "lastModifyTime",
      "msgCount",
      "filterTag",
      "bindingKey",
    ]),
    {
      topicOwner: "string",
      endpoint: "string",
      protocol: "string",
      notifyStrategy: "string",
      notifyContentFormat: "string",
      createTime: "number",
      lastModifyTime: "number",
      msgCount: "number",
      filterTag: "array",
      bindingKey: "array",
    },
  );
  // cmqd has no accounts: the app id is the same for every topic, and reads as a number too.
  assert.equal(answer.topicOwner, "0");
});
