/**
 * The Go SDK (`github.com/NETkiddy/cmq-go`, "consistent with the official SDKs"; Tencent
 * publishes no Go SDK): a POST body with no Content-Type, names as written and values
 * `url.QueryEscape`d, `RequestClient=SDK_GO_1.3`. Its ListSubscriptionByTopic names `searchWord `,
 * `offset `, `limit `, its SetSubscriptionAttributes and ClearSubscriptionFilterTags
 * `subscriptionName ` — with a trailing space — and signs them so (topic.go, subscription.go).
 */
import assert from "node:assert/strict";
import { cmqCode } from "./errors.ts";
import { answer, goQueryEscape, sdkRequest, topicWithSubscription } from "./_sdk_request.ts";
import { ok } from "./_test_setup.ts";

function goRequest(nowMs: number, params: Record<string, string>, key?: string): Request {
  return sdkRequest(nowMs, {
    method: "POST",
    params: { RequestClient: "SDK_GO_1.3", SignatureMethod: "HmacSHA1", ...params },
    hash: "sha1",
    key,
    encode: goQueryEscape,
  });
}

Deno.test("the Go SDK's names with a trailing space ('subscriptionName ', 'offset ') are read as the names", async () => {
  const { door, clock, client } = await topicWithSubscription();
  const set = await answer(
    door,
    goRequest(clock.now(), {
      Action: "SetSubscriptionAttributes",
      topicName: "news",
      "subscriptionName ": "feed",
      "filterTag.1": "b c",
    }),
  );
  assert.equal(set.code, 0, set.message);
  const attributes = ok(
    await client.call("GetSubscriptionAttributes", { topicName: "news", subscriptionName: "feed" }),
  );
  assert.deepEqual(attributes.filterTag, ["b c"]);

  const cleared = await answer(
    door,
    goRequest(clock.now(), {
      Action: "ClearSubscriptionFilterTags",
      topicName: "news",
      "subscriptionName ": "feed",
    }),
  );
  assert.equal(cleared.code, 0, cleared.message);

  const listed = await answer(
    door,
    goRequest(clock.now(), {
      Action: "ListSubscriptionByTopic",
      topicName: "news",
      "offset ": "1",
      "limit ": "1",
    }),
  );
  assert.equal(listed.code, 0, listed.message);
  assert.equal(listed.totalCount, 2);
  assert.deepEqual(
    listed.subscriptionList.map((s: { subscriptionName: string }) => s.subscriptionName),
    ["feed"],
  );

  const forged = await answer(
    door,
    goRequest(clock.now(), {
      Action: "ClearSubscriptionFilterTags",
      topicName: "news",
      "subscriptionName ": "feed",
    }, "not-the-key"),
  );
  assert.equal(forged.code, cmqCode.authenticationFailed);
});

Deno.test("a name given both with and without a trailing space is refused as repeated", async () => {
  const { door, clock } = await topicWithSubscription();
  const reply = await answer(
    door,
    goRequest(clock.now(), {
      Action: "ClearSubscriptionFilterTags",
      topicName: "news",
      subscriptionName: "feed",
      "subscriptionName ": "audit",
    }),
  );
  assert.equal(reply.code, cmqCode.invalidParameter);
  assert.match(reply.message, /subscriptionName is NOT a repeatable parameter/);
});

Deno.test("a value holding '&subscriptionName =' is refused when the request has no subscriptionName", async () => {
  // Signed, `topicName=news&subscriptionName =feed` reads the same as one topicName holding it.
  const { door, clock } = await topicWithSubscription();
  const reply = await answer(
    door,
    goRequest(clock.now(), {
      Action: "ClearSubscriptionFilterTags",
      topicName: "news&subscriptionName =feed",
    }),
  );
  assert.equal(reply.code, cmqCode.authenticationFailed);
  assert.match(reply.message, /subscriptionName =/);
});
