/**
 * SetSubscriptionAttributes and ClearSubscriptionFilterTags of a subscription whose endpoint is a
 * queue change what flows into that queue: they need `send` on it, as the Subscribe would.
 */
import assert from "node:assert/strict";
import { adminKey, ok, sdkSubscribeDefaults, setup } from "./_test_setup.ts";
import { CmqTestClient } from "./_cmq_test_client.ts";
import { cmqCode } from "./errors.ts";
import type { AccessKey } from "./deps.ts";

const managerKey: AccessKey = {
  secretId: "AKIDmanager",
  secretKey: "manager-secret-key",
  allow: ["topic:payments:manage"],
};

const bothKey: AccessKey = {
  secretId: "AKIDboth",
  secretKey: "both-secret-key",
  allow: ["topic:payments:manage", "queue:inbox:send"],
};

Deno.test("changing a queue subscription's filter over CMQ needs send on the queue", async () => {
  const admin = setup({ keys: [adminKey, managerKey, bothKey], topics: true });
  const as = (credentials: AccessKey) =>
    new CmqTestClient({
      handler: (request) => admin.door.request(request),
      credentials,
      now: () => admin.clock.now(),
    });
  const manager = as(managerKey);
  ok(await admin.client.call("CreateQueue", { queueName: "inbox" }));
  ok(await admin.client.call("CreateTopic", { topicName: "payments" }));
  const name = { topicName: "payments", subscriptionName: "copy" };
  ok(
    await admin.client.call("Subscribe", {
      ...name,
      protocol: "queue",
      endpoint: "inbox",
      "filterTag.0": "paid",
      ...sdkSubscribeDefaults,
    }),
  );
  for (
    const [action, params] of [
      ["SetSubscriptionAttributes", { ...name, "filterTag.0": "paid", "filterTag.1": "refunded" }],
      ["ClearSubscriptionFilterTags", name],
    ] as const
  ) {
    const denied = await admin.refused(() => manager.call(action, params), cmqCode.accessDenied);
    assert.match(denied.body.message, /queue:inbox:send/, action);
  }
  const view = await admin.topics.getSubscription("payments", "copy");
  assert.deepEqual(view.filterTags, ["paid"], "unchanged");
  ok(await as(bothKey).call("ClearSubscriptionFilterTags", name));
  assert.deepEqual((await admin.topics.getSubscription("payments", "copy")).filterTags, []);
});
