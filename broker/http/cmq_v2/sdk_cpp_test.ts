/**
 * The C++ SDK (`tencentyun/cmq-cpp-sdk`): its client's sign method starts empty, so unless the
 * application calls `setSignMethod` it sends `SignatureMethod=HmacSHA256` and signs with HMAC-SHA1
 * (src/cmq_client.cpp, src/cmq_tool.cpp). Its SetSubscriptionAttributes sends `notifyStrategy`
 * and `notifyContentFormat` always, empty when the application set none (src/Subscription.cpp).
 */
import assert from "node:assert/strict";
import { cmqCode } from "./errors.ts";
import { answer, sdkRequest, topicWithSubscription } from "./_sdk_request.ts";
import { adminKey, ok, setup } from "./_test_setup.ts";

function cppRequest(nowMs: number, params: Record<string, string>, key?: string): Request {
  // The C++ SDK's default: named HmacSHA256, signed with HMAC-SHA1.
  return sdkRequest(nowMs, {
    method: "POST",
    params: { RequestClient: "SDK_CPP_1.3", SignatureMethod: "HmacSHA256", ...params },
    hash: "sha1",
    key,
    encode: encodeURIComponent,
  });
}

Deno.test("the C++ SDK's default signature (SignatureMethod HmacSHA256, signed HMAC-SHA1) verifies", async () => {
  const { door, clock } = setup({ keys: [adminKey] });
  const created = await answer(
    door,
    cppRequest(clock.now(), { Action: "CreateQueue", queueName: "jobs" }),
  );
  assert.equal(created.code, 0, created.message);
  const forged = await answer(
    door,
    cppRequest(clock.now(), { Action: "DeleteQueue", queueName: "jobs" }, "not-the-key"),
  );
  assert.equal(forged.code, cmqCode.authenticationFailed);
  // Any other client naming HmacSHA256 must sign with it.
  const other = await answer(
    door,
    sdkRequest(clock.now(), {
      method: "POST",
      params: {
        Action: "DeleteQueue",
        queueName: "jobs",
        RequestClient: "SDK_Python_1.3",
        SignatureMethod: "HmacSHA256",
      },
      hash: "sha1",
      encode: encodeURIComponent,
    }),
  );
  assert.equal(other.code, cmqCode.authenticationFailed);
});

Deno.test("the C++ SDK's SetSubscriptionAttributes with empty notifyStrategy/notifyContentFormat changes only the filter", async () => {
  const { door, clock, client } = await topicWithSubscription();
  const reply = await answer(
    door,
    cppRequest(clock.now(), {
      Action: "SetSubscriptionAttributes",
      topicName: "news",
      subscriptionName: "feed",
      notifyStrategy: "",
      notifyContentFormat: "",
      "filterTag.1": "z",
    }),
  );
  assert.equal(reply.code, 0, reply.message);
  const attributes = ok(
    await client.call("GetSubscriptionAttributes", { topicName: "news", subscriptionName: "feed" }),
  );
  assert.deepEqual(attributes.filterTag, ["z"]);
});

Deno.test("the C++ SDK's Subscribe built as C++11 ('bindingKey,1') keeps its binding key", async () => {
  // Its Subscribe is sent only with binding keys (the SDK's braces), so to a routing-key topic.
  const { door, clock, client } = setup({ keys: [adminKey], topics: true });
  ok(await client.call("CreateQueue", { queueName: "inbox" }));
  ok(await client.call("CreateTopic", { topicName: "routes", filterType: 2 }));
  const subscribe = (subscriptionName: string, keys: Record<string, string>) =>
    answer(
      door,
      cppRequest(clock.now(), {
        Action: "Subscribe",
        topicName: "routes",
        subscriptionName,
        protocol: "queue",
        endpoint: "inbox",
        notifyStrategy: "BACKOFF_RETRY",
        notifyContentFormat: "JSON",
        ...keys,
      }),
    );
  const reply = await subscribe("eu", { "bindingKey,1": "eu.*" });
  assert.equal(reply.code, 0, reply.message);
  const attributes = ok(
    await client.call("GetSubscriptionAttributes", { topicName: "routes", subscriptionName: "eu" }),
  );
  assert.deepEqual(attributes.bindingKey, ["eu.*"]);
  // Given both ways, the name is repeated.
  const twice = await subscribe("us", { "bindingKey,1": "us.*", "bindingKey.1": "#" });
  assert.equal(twice.code, cmqCode.invalidParameter);
  assert.match(twice.message, /bindingKey\.1 is NOT a repeatable parameter/);
});
