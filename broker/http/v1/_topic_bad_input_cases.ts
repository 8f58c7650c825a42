/**
 * The bad-input table of the topic endpoints: malformed bodies, wrong types, each limit's
 * min-1 and max+1, unknown fields, invalid names, every tag and key rule, wrong filter kinds,
 * bad endpoints, missing topics and subscriptions. Each case names the exact status, code and
 * field. The test runs them against the real engine, set up by `topicFixture`, and checks that
 * nothing was proposed and nothing changed.
 *
 * @module
 */
import { listLimits, messageLimits, topicFilterLimits, topicLimits } from "../../service/mod.ts";
import { type BadInputCase, beyondSafeCases } from "./_bad_input_cases.ts";

/** A tag topic `t` with a queue subscription `s` (to queue `q`), a routing-key topic `rk`. */
export const topicFixture = {
  queue: "q",
  tagTopic: "t",
  keyTopic: "rk",
  subscription: "s",
} as const;

const tag = `/v1/topics/${topicFixture.tagTopic}`;
const keyed = `/v1/topics/${topicFixture.keyTopic}`;
const subscription = `${tag}/subscriptions/${topicFixture.subscription}`;
const newSubscription = `${tag}/subscriptions/fresh`;
const newKeyedSubscription = `${keyed}/subscriptions/fresh`;
const badNames = ["9starts-with-digit", "has.dot", "a".repeat(65), "%20space", "_under"];

function invalid(
  name: string,
  request: { method: string; path: string; body?: unknown; headers?: Record<string, string> },
  field: string,
): BadInputCase {
  return { name, ...request, status: 400, code: "InvalidParameter", field };
}

function bodyShapeCases(method: string, path: string): BadInputCase[] {
  return [
    {
      name: `${method} ${path} malformed JSON`,
      method,
      path,
      body: '{"a":',
      status: 400,
      code: "MalformedRequest",
    },
    invalid(`${method} ${path} JSON array`, { method, path, body: [] }, "body"),
    invalid(`${method} ${path} JSON number`, { method, path, body: "42" }, "body"),
    {
      name: `${method} ${path} text/plain`,
      method,
      path,
      body: "{}",
      headers: { "content-type": "text/plain" },
      status: 415,
      code: "UnsupportedMediaType",
    },
    invalid(
      `${method} ${path} unknown field`,
      { method, path, body: { unknownField: 1 } },
      "unknownField",
    ),
  ];
}

function rangeCases(
  method: string,
  path: string,
  field: string,
  range: { min: number; max: number },
) {
  const values: [unknown, string, string?][] = [
    [range.min - 1, "min-1", `must be at least ${range.min}`],
    [range.max + 1, "max+1", `must be at most ${range.max}`],
    [range.min + 0.5, "not an integer"],
    [String(range.min), "a string"],
    [null, "null"],
    ...beyondSafeCases(range, (value, label, message): [unknown, string, string] => [
      value,
      label,
      message,
    ]),
  ];
  return values.map(([value, label, message]) => ({
    ...invalid(
      `${method} ${path} ${field} ${label}`,
      { method, path, body: { [field]: value } },
      field,
    ),
    message,
  }));
}

function nameCases(
  method: string,
  pathOf: (name: string) => string,
  field: string,
  body?: unknown,
) {
  return badNames.map((bad) =>
    invalid(
      `${method} ${field} name ${bad.slice(0, 20)}`,
      { method, path: pathOf(bad), body },
      field,
    )
  );
}

function topicCases(): BadInputCase[] {
  const cases: BadInputCase[] = [];
  for (const method of ["PUT", "PATCH"]) {
    cases.push(...bodyShapeCases(method, tag));
    cases.push(...nameCases(method, (name) => `/v1/topics/${name}`, "topic", {}));
    cases.push(...rangeCases(method, tag, "maxMessageBytes", topicLimits.maxMessageBytes));
    cases.push(...rangeCases(method, tag, "retentionSeconds", topicLimits.retentionSeconds));
    cases.push(
      invalid(
        `${method} filterType unknown`,
        { method, path: tag, body: { filterType: "fanout" } },
        "filterType",
      ),
    );
  }
  cases.push(
    invalid("PATCH filterType is immutable", {
      method: "PATCH",
      path: tag,
      body: { filterType: "routingKey" },
    }, "filterType"),
    notFound("GET", "/v1/topics/missing", "TopicNotFound"),
    notFound("PATCH", "/v1/topics/missing", "TopicNotFound", {}),
    notFound("DELETE", "/v1/topics/missing", "TopicNotFound"),
    ...nameCases("GET", (name) => `/v1/topics/${name}`, "topic"),
    ...nameCases("DELETE", (name) => `/v1/topics/${name}`, "topic"),
    invalid("list limit 0", { method: "GET", path: "/v1/topics?limit=0" }, "limit"),
    invalid("list limit 1001", { method: "GET", path: "/v1/topics?limit=1001" }, "limit"),
    invalid("list limit not a number", { method: "GET", path: "/v1/topics?limit=ten" }, "limit"),
    {
      ...invalid("list limit past 2^53", {
        method: "GET",
        path: `/v1/topics?limit=${"9".repeat(20)}`,
      }, "limit"),
      message: `must be at most ${listLimits.limit.max}`,
    },
    invalid("list offset negative", { method: "GET", path: "/v1/topics?offset=-1" }, "offset"),
    invalid("list unknown parameter", { method: "GET", path: "/v1/topics?sort=name" }, "sort"),
    invalid(
      "list prefix too long",
      { method: "GET", path: `/v1/topics?prefix=${"a".repeat(65)}` },
      "prefix",
    ),
  );
  return cases;
}

function notFound(method: string, path: string, code: string, body?: unknown): BadInputCase {
  return { name: `${method} ${path} → ${code}`, method, path, body, status: 404, code };
}

function publishCase(name: string, messages: unknown, field: string, path = tag): BadInputCase {
  return invalid(`publish ${name}`, {
    method: "POST",
    path: `${path}/messages`,
    body: { messages },
  }, field);
}

function publishCases(): BadInputCase[] {
  const longTag = "x".repeat(topicFilterLimits.tagCodePointsMax + 1);
  const sixTags = Array.from({ length: topicFilterLimits.tagsMax + 1 }, (_, i) => `t${i}`);
  const manyAttributes = Object.fromEntries(
    Array.from({ length: messageLimits.attributesMax + 1 }, (_, i) => [`k${i}`, "v"]),
  );
  const seventeenWords = Array.from({ length: topicFilterLimits.keyWordsMax + 1 }, () => "w").join(
    ".",
  );
  return [
    ...bodyShapeCases("POST", `${tag}/messages`),
    invalid(
      "publish without messages",
      { method: "POST", path: `${tag}/messages`, body: {} },
      "messages",
    ),
    publishCase("empty batch", [], "messages"),
    {
      name: "publish 257 messages",
      method: "POST",
      path: `${tag}/messages`,
      body: {
        messages: Array.from({ length: messageLimits.batchEntriesMax + 1 }, () => ({ body: "x" })),
      },
      status: 413,
      code: "BatchTooLarge",
      field: "messages",
    },
    {
      name: "publish a body over maxMessageBytes",
      method: "POST",
      path: `${tag}/messages`,
      body: {
        messages: [{ body: "ok" }, { body: "é".repeat(topicLimits.maxMessageBytes.default) }],
      },
      status: 413,
      code: "MessageTooLarge",
      field: "messages.1.body",
    },
    publishCase("without body", [{ tags: ["a"] }], "messages.0.body"),
    publishCase("body a number", [{ body: 7 }], "messages.0.body"),
    // As a queue send: stored as UTF-8 it would be pushed and copied as U+FFFD.
    publishCase("a body with a lone surrogate", [{ body: "ok\ud800" }], "messages.0.body"),
    publishCase(
      "unknown message field",
      [{ body: "x", delaySeconds: 1 }],
      "messages.0.delaySeconds",
    ),
    publishCase("tags not an array", [{ body: "x", tags: "paid" }], "messages.0.tags"),
    publishCase("a tag not a string", [{ body: "x", tags: [7] }], "messages.0.tags.0"),
    publishCase("six tags", [{ body: "x", tags: sixTags }], "messages.0.tags"),
    publishCase("a 17-character tag", [{ body: "x", tags: ["ok", longTag] }], "messages.0.tags.1"),
    publishCase("an empty tag", [{ body: "x", tags: [""] }], "messages.0.tags.0"),
    publishCase(
      "a tag with a control character",
      [{ body: "x", tags: ["a\nb"] }],
      "messages.0.tags.0",
    ),
    publishCase(
      "a routing key on a tag topic",
      [{ body: "x", routingKey: "a.b" }],
      "messages.0.routingKey",
    ),
    publishCase(
      "eleven attributes",
      [{ body: "x", attributes: manyAttributes }],
      "messages.0.attributes",
    ),
    {
      ...publishCase(
        "an attribute named __proto__",
        [{ body: "x" }, { body: "x", attributes: { ["__proto__"]: "v", a: "b" } }],
        "messages.1.attributes.__proto__",
      ),
      message: "reserved name",
    },
    publishCase(
      "tags on a routing-key topic",
      [{ body: "x", tags: ["a"] }],
      "messages.0.tags",
      keyed,
    ),
    publishCase(
      "a wildcard routing key",
      [{ body: "x", routingKey: "a.*" }],
      "messages.0.routingKey",
      keyed,
    ),
    publishCase(
      "an empty word",
      [{ body: "x", routingKey: "a..b" }],
      "messages.0.routingKey",
      keyed,
    ),
    publishCase(
      "17 words",
      [{ body: "x", routingKey: seventeenWords }],
      "messages.0.routingKey",
      keyed,
    ),
    publishCase(
      "a 65-byte key",
      [{ body: "x", routingKey: "k".repeat(65) }],
      "messages.0.routingKey",
      keyed,
    ),
    publishCase(
      "a key not a string",
      [{ body: "x", routingKey: 5 }],
      "messages.0.routingKey",
      keyed,
    ),
    notFound("POST", "/v1/topics/missing/messages", "TopicNotFound", { messages: [{ body: "x" }] }),
    ...nameCases("POST", (name) => `/v1/topics/${name}/messages`, "topic", {
      messages: [{ body: "x" }],
    }),
  ];
}

function subscribeCase(
  name: string,
  body: unknown,
  field: string,
  path = newSubscription,
): BadInputCase {
  return invalid(`subscribe ${name}`, { method: "PUT", path, body }, field);
}

function subscriptionCases(): BadInputCase[] {
  const queue = { queue: topicFixture.queue };
  const url = { url: "https://hook.example/notify" };
  return [
    ...bodyShapeCases("PUT", newSubscription),
    subscribeCase("without a body", undefined, "endpoint"),
    subscribeCase("without an endpoint", { filterTags: ["a"] }, "endpoint"),
    subscribeCase("an empty endpoint", { endpoint: {} }, "endpoint"),
    subscribeCase("both queue and url", { endpoint: { ...queue, ...url } }, "endpoint"),
    subscribeCase("an unknown endpoint field", { endpoint: { lambda: "f" } }, "endpoint.lambda"),
    subscribeCase("a missing queue", { endpoint: { queue: "nope" } }, "endpoint.queue"),
    subscribeCase("a bad queue name", { endpoint: { queue: "9q" } }, "endpoint.queue"),
    subscribeCase("an ftp url", { endpoint: { url: "ftp://host/x" } }, "endpoint.url"),
    subscribeCase("a relative url", { endpoint: { url: "/notify" } }, "endpoint.url"),
    subscribeCase(
      "a url with credentials",
      { endpoint: { url: "https://u:p@host/x" } },
      "endpoint.url",
    ),
    subscribeCase(
      "a url with a fragment",
      { endpoint: { url: "https://host/x#y" } },
      "endpoint.url",
    ),
    // What the URL parser would quietly clean up, so the parsed URL no longer shows it.
    subscribeCase(
      "a url with an empty fragment",
      { endpoint: { url: "https://host/x#" } },
      "endpoint.url",
    ),
    subscribeCase(
      "a url with empty credentials",
      { endpoint: { url: "http://:@host/x" } },
      "endpoint.url",
    ),
    // Without the `//` (or with more), the parser finds the host elsewhere than a reader does.
    subscribeCase(
      "a url without the // after its scheme",
      { endpoint: { url: "http:127.0.0.1/x" } },
      "endpoint.url",
    ),
    subscribeCase(
      "a url with one / after its scheme",
      { endpoint: { url: "http:/127.0.0.1/x" } },
      "endpoint.url",
    ),
    subscribeCase(
      "a url with empty credentials behind one /",
      { endpoint: { url: "http:/:@host/x" } },
      "endpoint.url",
    ),
    subscribeCase(
      "a url with empty credentials behind three /",
      { endpoint: { url: "https:///:@host/x" } },
      "endpoint.url",
    ),
    // The parser keeps port 0, which nothing listens on; it used to be pushed to port 80.
    subscribeCase(
      "a url with port 0",
      { endpoint: { url: "http://127.0.0.1:0/x" } },
      "endpoint.url",
    ),
    subscribeCase(
      "a url with a line break",
      { endpoint: { url: "https://host/a\r\nb" } },
      "endpoint.url",
    ),
    subscribeCase(
      "a url with a backslash",
      { endpoint: { url: "http:\\\\host\\x" } },
      "endpoint.url",
    ),
    subscribeCase(
      "a url with a lone surrogate",
      { endpoint: { url: "https://host/\ud800" } },
      "endpoint.url",
    ),
    subscribeCase(
      "a url over 1024 bytes",
      { endpoint: { url: `https://h/${"a".repeat(1020)}` } },
      "endpoint.url",
    ),
    subscribeCase("a url not a string", { endpoint: { url: 7 } }, "endpoint.url"),
    subscribeCase("six filter tags", {
      endpoint: queue,
      filterTags: ["a", "b", "c", "d", "e", "f"],
    }, "filterTags"),
    subscribeCase(
      "an empty filter tag",
      { endpoint: queue, filterTags: ["a", ""] },
      "filterTags.1",
    ),
    subscribeCase("filter tags not strings", { endpoint: queue, filterTags: [1] }, "filterTags.0"),
    subscribeCase(
      "binding keys on a tag topic",
      { endpoint: queue, bindingKeys: ["a.#"] },
      "bindingKeys",
    ),
    subscribeCase(
      "filter tags on a routing-key topic",
      { endpoint: queue, filterTags: ["a"] },
      "filterTags",
      newKeyedSubscription,
    ),
    subscribeCase(
      "a binding key with an empty word",
      { endpoint: queue, bindingKeys: ["a..b"] },
      "bindingKeys.0",
      newKeyedSubscription,
    ),
    subscribeCase(
      "a glued wildcard",
      { endpoint: queue, bindingKeys: ["a.#", "order*"] },
      "bindingKeys.1",
      newKeyedSubscription,
    ),
    subscribeCase(
      "an empty binding key",
      { endpoint: queue, bindingKeys: [""] },
      "bindingKeys.0",
      newKeyedSubscription,
    ),
    subscribeCase(
      "six binding keys",
      { endpoint: queue, bindingKeys: ["a", "b", "c", "d", "e", "f"] },
      "bindingKeys",
      newKeyedSubscription,
    ),
    subscribeCase(
      "an unknown retry policy",
      { endpoint: url, retryPolicy: "linear" },
      "retryPolicy",
    ),
    subscribeCase("an unknown format", { endpoint: url, format: "xml" }, "format"),
    subscribeCase(
      "a retry policy on a queue endpoint",
      { endpoint: queue, retryPolicy: "backoff" },
      "retryPolicy",
    ),
    subscribeCase("a format on a queue endpoint", { endpoint: queue, format: "json" }, "format"),
    ...nameCases("PUT", (name) => `${tag}/subscriptions/${name}`, "subscription", {
      endpoint: queue,
    }),
    notFound("PUT", "/v1/topics/missing/subscriptions/s", "TopicNotFound", { endpoint: queue }),
    invalid("PATCH endpoint is immutable", {
      method: "PATCH",
      path: subscription,
      body: { endpoint: url },
    }, "endpoint"),
    invalid("PATCH retry policy of a queue subscription", {
      method: "PATCH",
      path: subscription,
      body: { retryPolicy: "backoff" },
    }, "retryPolicy"),
    invalid(
      "PATCH an unknown field",
      { method: "PATCH", path: subscription, body: { queue: "q" } },
      "queue",
    ),
    notFound("PATCH", `${tag}/subscriptions/missing`, "SubscriptionNotFound", {}),
    notFound("GET", `${tag}/subscriptions/missing`, "SubscriptionNotFound"),
    notFound("DELETE", `${tag}/subscriptions/missing`, "SubscriptionNotFound"),
    notFound("GET", "/v1/topics/missing/subscriptions", "TopicNotFound"),
    notFound("GET", "/v1/topics/missing/subscriptions/s", "TopicNotFound"),
    notFound("DELETE", "/v1/topics/missing/subscriptions/s", "TopicNotFound"),
    invalid(
      "list subscriptions limit 0",
      { method: "GET", path: `${tag}/subscriptions?limit=0` },
      "limit",
    ),
    ...nameCases("GET", (name) => `${tag}/subscriptions/${name}`, "subscription"),
    ...nameCases("DELETE", (name) => `${tag}/subscriptions/${name}`, "subscription"),
  ];
}

/** Every bad input of the topic endpoints. */
export function topicBadInputCases(): BadInputCase[] {
  return [...topicCases(), ...publishCases(), ...subscriptionCases()];
}
