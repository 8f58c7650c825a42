/**
 * A signed CMQ request altered so that the same string to sign reads as other parameters (one
 * parameter's value swallowing the next) is refused and changes nothing; honest values holding
 * `&` still pass.
 */
import assert from "node:assert/strict";
import { cmqCode } from "./errors.ts";
import { messageActions } from "./message_actions.ts";
import { parseParams } from "./params.ts";
import { queueActions } from "./queue_actions.ts";
import { type SignedRequest, stringToSign } from "./signature.ts";
import { parametersRead, signedSplitOf } from "./signed_split.ts";
import { subscriptionActions } from "./subscription_actions.ts";
import { topicActions } from "./topic_actions.ts";
import { adminKey, setup } from "./_test_setup.ts";

/** The signed entries with `name`'s value swallowing the parameter `swallowed` after it. */
function swallow(name: string, swallowed: string) {
  return (entries: [string, string][]): [string, string][] => {
    const taken = entries.find(([each]) => each === swallowed);
    assert.ok(taken !== undefined, `no ${swallowed} to swallow`);
    return entries.filter(([each]) => each !== swallowed).map(([each, value]) => [
      each,
      each === name ? `${value}&${taken[0]}=${taken[1]}` : value,
    ]);
  };
}

Deno.test("a value swallowing the next parameter signs like the two: the request is 4100 and sends nothing", async () => {
  const { client, broker, refused } = setup({ keys: [adminKey] });
  await broker.createQueue("jobs", {});
  const params = { queueName: "jobs", "msgBody.1": "a", "msgBody.2": "b" };
  const reply = await refused(
    () =>
      client.call("BatchSendMessage", params, { afterSigning: swallow("msgBody.1", "msgBody.2") }),
    cmqCode.authenticationFailed,
  );
  assert.match(reply.body.message as string, /msgBody\.1 holds '&msgBody\.2='/);
  assert.equal((await broker.getQueue("jobs")).activeMessages, 0);
  // An optional parameter swallowed by the one before it (its delay lost).
  await refused(
    () =>
      client.call("SendMessage", {
        queueName: "jobs",
        msgBody: "x",
        delaySeconds: "600",
        UserpollingWaitSeconds: "30",
      }, { afterSigning: swallow("UserpollingWaitSeconds", "delaySeconds") }),
    cmqCode.authenticationFailed,
  );
  // As sent, both are served.
  assert.equal((await client.call("BatchSendMessage", params)).body.code, 0);
  assert.equal((await broker.getQueue("jobs")).activeMessages, 2);
});

Deno.test("a publish's tag or a subscription's filter swallowed by the value before it is 4100", async () => {
  const { client, topics, refused } = setup({ keys: [adminKey], topics: true });
  await topics.createTopic("news", {});
  const publish = { topicName: "news", msgBody: "x", "msgTag.1": "paid" };
  await refused(
    () => client.call("PublishMessage", publish, { afterSigning: swallow("msgBody", "msgTag.1") }),
    cmqCode.authenticationFailed,
  );
  const subscribe = {
    topicName: "news",
    subscriptionName: "hook",
    protocol: "http",
    endpoint: "https://example.com/hook",
    "filterTag.1": "paid",
  };
  await refused(
    () => client.call("Subscribe", subscribe, { afterSigning: swallow("endpoint", "filterTag.1") }),
    cmqCode.authenticationFailed,
  );
  assert.equal((await topics.listSubscriptions("news", {})).total, 0);
});

Deno.test("a parameter name holding '&' or '=' is 4100 with credentials", async () => {
  const { client, broker, refused } = setup({ keys: [adminKey] });
  await broker.createQueue("jobs", {});
  await refused(
    () =>
      client.call("SendMessage", {
        queueName: "jobs",
        msgBody: "x",
        "UserpollingWaitSeconds=30&delaySeconds": "600",
      }),
    cmqCode.authenticationFailed,
  );
});

Deno.test("a name renamed with '_' (signed as '.', not read by the door) is 4100 and changes nothing", async () => {
  const { client, broker, topics, refused } = setup({ keys: [adminKey], topics: true });
  await broker.createQueue("jobs", {});
  const rename = (from: string) => (entries: [string, string][]): [string, string][] =>
    entries.map(([name, value]) => [name === from ? from.replace(".", "_") : name, value]);
  const batch = { queueName: "jobs", "msgBody.1": "a", "msgBody.2": "b" };
  await refused(
    () => client.call("BatchSendMessage", batch, { afterSigning: rename("msgBody.2") }),
    cmqCode.authenticationFailed,
  );
  assert.equal((await broker.getQueue("jobs")).activeMessages, 0);
  await topics.createTopic("news", {});
  const subscribe = {
    topicName: "news",
    subscriptionName: "feed",
    protocol: "queue",
    endpoint: "jobs",
    "filterTag.1": "paid",
  };
  const reply = await refused(
    () => client.call("Subscribe", subscribe, { afterSigning: rename("filterTag.1") }),
    cmqCode.authenticationFailed,
  );
  assert.match(reply.body.message as string, /filterTag_1/);
  assert.equal((await topics.listSubscriptions("news", {})).total, 0);
  // A name with '_' the action does not read stays ignored.
  const sent = await client.call("SendMessage", {
    queueName: "jobs",
    msgBody: "x",
    Request_Id: "7",
  });
  assert.equal(sent.body.code, 0, sent.body.message);
});

Deno.test("honest values holding '&' and '=' are served: URLs, a parameter the request carries, one the action does not read", async () => {
  const { client, broker } = setup({ keys: [adminKey] });
  await broker.createQueue("jobs", {});
  for (
    const body of [
      "https://example.com/?a=1&b=2",
      "&queueName=jobs",
      "a&offset=20&limit=5",
      "a&=b&&c=",
    ]
  ) {
    const reply = await client.call("SendMessage", { queueName: "jobs", msgBody: body });
    assert.equal(reply.body.code, 0, `${body}: ${reply.body.message}`);
  }
  assert.equal((await broker.getQueue("jobs")).activeMessages, 4);
});

Deno.test("the split a check finds is one the string to sign really has", () => {
  const request = (body: string): SignedRequest => ({
    method: "POST",
    host: "h",
    path: "/v2/index.php",
    params: parseParams("", body),
  });
  const two = request("Action=BatchSendMessage&queueName=q&msgBody.1=a&msgBody.2=b");
  const one = request("Action=BatchSendMessage&queueName=q&msgBody.1=a%26msgBody.2%3Db");
  const options = { skipFileValues: false };
  assert.equal(stringToSign(one, options), stringToSign(two, options));
  assert.equal(signedSplitOf(two.params), null);
  assert.notEqual(signedSplitOf(one.params), null);
  // Written with `_`, as the signature writes it with `.`.
  const underscore = request("Action=BatchSendMessage&queueName=q&msgBody.1=a%26msgBody_2%3Db");
  assert.notEqual(signedSplitOf(underscore.params), null);
});

Deno.test("every action of the door says which parameters it reads", () => {
  for (const map of [queueActions, messageActions, topicActions, subscriptionActions]) {
    for (const name of map.keys()) assert.ok(parametersRead.has(name), name);
  }
});
