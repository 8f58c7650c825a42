import assert from "node:assert/strict";
import { pushRequest } from "./push_request.ts";

// A callback written for Tencent Cloud CMQ, as CMQ's documentation of HTTP push describes the
// request: both formats come as `text/plain`; the JSON format's body is `TopicOwner` (the owner's
// app id, a number in CMQ's example), `topicName`, `subscriptionName`, `msgId`, `msgBody` and
// `publishTime`, an integer that, like every other CMQ time, is Unix seconds; the tags come in
// `x-cmq-message-tag` as CMQ's example writes them, `a, b`. The callback reads what it is given
// the way such a handler does and refuses (as a 4xx) whatever it can't read.

interface CmqPush {
  owner: number;
  topic: string;
  subscription: string;
  messageId: string;
  body: string;
  published: Date;
  tags: string[];
  requestId: string;
}

/** Answers like a CMQ callback (200, or 415/400 for what it can't read); returns what it read. */
async function cmqCallback(
  request: Request,
  format: "JSON" | "SIMPLIFIED",
): Promise<{ status: number; push?: CmqPush }> {
  // Handlers written for CMQ read the body as text (Express's `text()` parser, Spring's
  // `consumes = "text/plain"`): another media type is not theirs to read.
  const mediaType = request.headers.get("content-type")?.split(";")[0].trim();
  if (mediaType !== "text/plain") return { status: 415 };
  const text = await request.text();
  const tagHeader = request.headers.get("x-cmq-message-tag");
  const tags = tagHeader === null ? [] : tagHeader.split(", ").map(decodeURIComponent);
  const messageId = request.headers.get("x-cmq-message-id") ?? "";
  const requestId = request.headers.get("x-cmq-request-id") ?? "";
  if (format === "SIMPLIFIED") {
    return {
      status: 200,
      push: {
        owner: -1,
        topic: "",
        subscription: "",
        messageId,
        body: text,
        published: new Date(NaN),
        tags,
        requestId,
      },
    };
  }
  const json = JSON.parse(text);
  const owner = json.TopicOwner;
  if (typeof owner !== "number" || !Number.isInteger(owner)) return { status: 400 };
  for (const field of ["topicName", "subscriptionName", "msgId", "msgBody"]) {
    if (typeof json[field] !== "string") return { status: 400 };
  }
  if (!Number.isSafeInteger(json.publishTime)) return { status: 400 };
  return {
    status: 200,
    push: {
      owner,
      topic: json.topicName,
      subscription: json.subscriptionName,
      messageId: json.msgId,
      body: json.msgBody,
      published: new Date(json.publishTime * 1000),
      tags,
      requestId,
    },
  };
}

const target = {
  topic: "payments",
  subscription: "merchant",
  subscriptionIncarnation: 7,
  url: "http://merchant.test/cmq",
  format: "json" as const,
  failing: false,
};
// 2026-12-06T03:51:44.789Z: a time that is no whole second.
const publishedAtMs = Date.UTC(2026, 11, 6, 3, 51, 44, 789);
const delivery = {
  sequence: 1,
  attempt: 1,
  messageId: "m42",
  body: '{"order": 7}',
  tags: ["paid", "vip"],
  publishTime: publishedAtMs,
};

function asRequest(target: Parameters<typeof pushRequest>[0], d = delivery): Request {
  const { url, init } = pushRequest(target, d);
  return new Request(url, init);
}

Deno.test("a callback written for CMQ reads a JSON push: publishTime in seconds, TopicOwner, text/plain", async () => {
  const answer = await cmqCallback(asRequest(target), "JSON");
  assert.equal(answer.status, 200, "the callback can read the push");
  const push = answer.push!;
  // The date the callback reads is the second the message was published (before, publishTime was
  // milliseconds, which a CMQ handler read as a date over 50,000 years from now).
  assert.equal(push.published.toISOString(), "2026-12-06T03:51:44.000Z");
  assert.equal(push.owner, 0, "no accounts: owner 0");
  assert.equal(push.topic, "payments");
  assert.equal(push.subscription, "merchant");
  assert.equal(push.messageId, "m42");
  assert.equal(push.body, '{"order": 7}');
  assert.deepEqual(push.tags, ["paid", "vip"]);
});

Deno.test("a JSON push keeps cmqd's millisecond time, tags and routing key under their own names", () => {
  const { init } = pushRequest(target, { ...delivery, routingKey: "orders.eu" });
  assert.deepEqual(JSON.parse(init.body), {
    TopicOwner: 0,
    topicName: "payments",
    subscriptionName: "merchant",
    msgId: "m42",
    msgBody: '{"order": 7}',
    publishTime: Math.floor(publishedAtMs / 1000),
    publishTimeMs: publishedAtMs,
    msgTag: ["paid", "vip"],
    routingKey: "orders.eu",
  });
  assert.equal(init.headers["content-type"], "text/plain; charset=utf-8");
});

Deno.test("a callback written for CMQ reads a SIMPLIFIED push: the body, the ids and tags in headers", async () => {
  const answer = await cmqCallback(asRequest({ ...target, format: "simplified" }), "SIMPLIFIED");
  assert.equal(answer.status, 200);
  assert.equal(answer.push!.body, '{"order": 7}');
  assert.equal(answer.push!.messageId, "m42");
  assert.equal(answer.push!.requestId, "m42-7-1");
  assert.deepEqual(answer.push!.tags, ["paid", "vip"]);
});

Deno.test("x-cmq-message-tag lists tags as CMQ does, each still percent-encoded", () => {
  const tagged = { ...delivery, tags: ["支付", "a,b", "c d"] };
  const { init } = pushRequest({ ...target, format: "simplified" }, tagged);
  const header = init.headers["x-cmq-message-tag"];
  assert.equal(header, "%E6%94%AF%E4%BB%98, a%2Cb, c%20d");
  // Split as an HTTP list (at commas, spaces trimmed) or at ", " as CMQ's example shows: the same.
  assert.deepEqual(header.split(",").map((t) => decodeURIComponent(t.trim())), tagged.tags);
  assert.deepEqual(header.split(", ").map(decodeURIComponent), tagged.tags);
  new Headers(init.headers); // every header value is a valid ByteString
  const untagged = pushRequest(target, { ...delivery, tags: [] });
  assert.equal(untagged.init.headers["x-cmq-message-tag"], undefined);
});
