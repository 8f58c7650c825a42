/**
 * Generated bad input at the CMQ v2 door (`/v2/index.php`), through a whole node's app over the
 * real engine: parameters repeated, numbered oddly, valued oddly, in the query, the form body or
 * both; actions missing or in odd casing; wrong content types and bytes that are not UTF-8. Each
 * request gets CMQ's answer (HTTP 200, `{code, message}`), never the internal error 6000 nor
 * anything logged, and a refusal (`code` not 0) proposes nothing.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  contentTypes,
  fuzzNode,
  requestOf,
  type RequestParts,
  runs,
  showParts,
  withInvalidUtf8,
} from "../_door_fuzz.ts";

const actionNames = [
  "SendMessage",
  "BatchSendMessage",
  "ReceiveMessage",
  "BatchReceiveMessage",
  "DeleteMessage",
  "BatchDeleteMessage",
  "CreateQueue",
  "ListQueue",
  "GetQueueAttributes",
  "SetQueueAttributes",
  "DeleteQueue",
  "RewindQueue",
  "CreateTopic",
  "ListTopic",
  "GetTopicAttributes",
  "SetTopicAttributes",
  "DeleteTopic",
  "PublishMessage",
  "BatchPublishMessage",
  "Subscribe",
  "Unsubscribe",
  "ListSubscriptionByTopic",
  "GetSubscriptionAttributes",
  "SetSubscriptionAttributes",
  "ClearSubscriptionFilterTags",
  "sendmessage",
  "SENDMESSAGE",
  "",
  "__proto__",
  "constructor",
  "toString",
  "Send%00Message",
];

const paramNames = [
  "queueName",
  "msgBody",
  "receiptHandle",
  "delaySeconds",
  "pollingWaitSeconds",
  "visibilityTimeout",
  "maxMsgHeapNum",
  "maxMsgSize",
  "msgRetentionSeconds",
  "rewindSeconds",
  "startConsumeTime",
  "numOfMsg",
  "offset",
  "limit",
  "searchWord",
  "topicName",
  "subscriptionName",
  "endpoint",
  "protocol",
  "notifyStrategy",
  "notifyContentFormat",
  "filterType",
  "filterTag",
  "bindingKey",
  "msgTag",
  "routingKey",
  "tag",
  "Nonce",
  "Timestamp",
  "SecretId",
  "Signature",
  "SignatureMethod",
  "Region",
  "__proto__",
  "constructor",
];

/** Numbered forms of a name: `.0`, `.1` and odd ones. */
const suffixes = ["", "", "", ".0", ".1", ".2", ".-1", ".01", ".", "..0", ".99999999999", ".1e3"];

const values = [
  "",
  "jobs",
  "feed",
  "audit",
  "missing",
  "0",
  "1",
  "-1",
  "-0",
  "16",
  "17",
  "30",
  "31",
  "1e3",
  "1e400",
  "NaN",
  "Infinity",
  "0x10",
  " 5",
  "5 ",
  "+5",
  "1.5",
  "99999999999999999999",
  "%zz",
  "%",
  "%00",
  "%ED%A0%80",
  "%C3",
  "%F0%9F%98%80",
  "%2B",
  "+",
  "a+b",
  "é",
  "a".repeat(70),
  "b".repeat(70_000),
  "queue",
  "http",
  "https",
  "http://",
  "https://example.test/x",
  "EXPONENTIAL_DECAY_RETRY",
  "JSON",
  "SIMPLIFIED",
  "abc.def",
  "AAAA",
  "__proto__",
];

const pairs = fc.array(
  fc.tuple(
    fc.constantFrom(...paramNames),
    fc.constantFrom(...suffixes),
    fc.constantFrom(...values),
  ).map(([name, suffix, value]) => `${name}${suffix}=${value}`),
  { maxLength: 8 },
);

const action = fc.option(fc.constantFrom(...actionNames).map((name) => `Action=${name}`), {
  nil: undefined,
  freq: 8,
});

/** A form text: the action (or none, or twice), the parameters, odd separators. */
const form = fc.tuple(
  action,
  fc.option(action, { freq: 6 }),
  fc.constantFrom(
    "queueName=jobs",
    "queueName=jobs",
    "topicName=feed",
    "topicName=feed&subscriptionName=audit",
    "",
  ),
  pairs,
  fc.constantFrom("&", "&", "&", "&&", ";"),
).map(([first, second, named, rest, separator]) =>
  [first, named, ...rest, second].filter((piece) => piece !== undefined && piece !== null).join(
    separator,
  )
);

const requests: fc.Arbitrary<RequestParts> = fc.tuple(
  fc.constantFrom("GET", "POST", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"),
  form,
  form,
  fc.option(fc.constantFrom(...contentTypes), { nil: undefined }),
  fc.boolean(),
  fc.nat(),
).chain(([method, query, body, type, broken, at]) =>
  (broken ? withInvalidUtf8(fc.constant(body)) : fc.constant<string | Uint8Array<ArrayBuffer>>(
    body,
  )).map((bytes) => ({
    method,
    path: `/v2/index.php${at % 3 === 0 ? "" : `?${query}`}`,
    headers: type === undefined ? [] : [["content-type", type]] as [string, string][],
    body: bytes,
  }))
);

async function seeded() {
  const node = fuzzNode();
  for (
    const query of [
      "Action=CreateQueue&queueName=jobs",
      "Action=SendMessage&queueName=jobs&msgBody=a",
      "Action=SendMessage&queueName=jobs&msgBody=b",
      "Action=CreateTopic&topicName=feed",
      "Action=Subscribe&topicName=feed&subscriptionName=audit&protocol=queue&endpoint=jobs",
    ]
  ) {
    const answer = await node.send(requestOf({
      method: "GET",
      path: `/v2/index.php?${query}`,
      headers: [],
    }));
    assert.equal(JSON.parse(answer.text).code, 0, `${query}: ${answer.text}`);
  }
  return node;
}

Deno.test("generated requests at the CMQ door get CMQ's answer, and a refusal changes nothing", async () => {
  await using node = await seeded();
  await fc.assert(
    fc.asyncProperty(requests, async (parts) => {
      await node.check(requestOf(parts), showParts(parts));
    }),
    runs(0x5eed11, 400),
  );
});

/** Well-formed actions with one odd value: the refusals that reach the service's checks. */
const oneOddValue = fc.tuple(
  fc.constantFrom(
    "Action=SendMessage&queueName=jobs&msgBody=x",
    "Action=BatchSendMessage&queueName=jobs&msgBody.0=x",
    "Action=ReceiveMessage&queueName=jobs&pollingWaitSeconds=0",
    "Action=BatchReceiveMessage&queueName=jobs&numOfMsg=2&pollingWaitSeconds=0",
    "Action=DeleteMessage&queueName=jobs",
    "Action=BatchDeleteMessage&queueName=jobs",
    "Action=SetQueueAttributes&queueName=jobs",
    "Action=RewindQueue&queueName=jobs",
    "Action=CreateQueue&queueName=fresh",
    "Action=PublishMessage&topicName=feed&msgBody=x",
    "Action=BatchPublishMessage&topicName=feed&msgBody.0=x",
    "Action=SetTopicAttributes&topicName=feed",
    "Action=SetSubscriptionAttributes&topicName=feed&subscriptionName=audit",
    "Action=Subscribe&topicName=feed&subscriptionName=fresh&protocol=queue&endpoint=jobs",
    "Action=ListQueue",
    "Action=ListTopic",
  ),
  fc.constantFrom(...paramNames),
  fc.constantFrom(...suffixes),
  fc.constantFrom(...values),
).map(([base, name, suffix, value]): RequestParts => ({
  method: "POST",
  path: "/v2/index.php",
  headers: [],
  body: `${base}&${name}${suffix}=${value}`,
}));

Deno.test("one odd parameter on a well-formed action is refused cleanly or served", async () => {
  await using node = await seeded();
  await fc.assert(
    fc.asyncProperty(oneOddValue, async (parts) => {
      await node.check(requestOf(parts), showParts(parts));
    }),
    runs(0x5eed12, 400),
  );
});
