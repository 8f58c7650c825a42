/**
 * The bad-input table of the native door: for every endpoint, malformed JSON, wrong types,
 * each limit's min-1 and max+1, unknown fields, invalid names, wrong media types. Each case
 * names the exact status, code and field the API contract promises. Used by the door tests against a
 * recording service (nothing may reach it) and against the real engine (nothing may change).
 *
 * @module
 */
import {
  deadLetterLimits,
  listLimits,
  messageLimits,
  queueLimits,
  redriveMessagesMax,
} from "../../service/mod.ts";

/** One bad request and the answer it must get. */
export interface BadInputCase {
  name: string;
  method: string;
  path: string;
  /** A string is sent verbatim; anything else as JSON. Undefined: no body. */
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
  code: string;
  field?: string;
  /** Text the error message must contain (the rule it names), when the case pins it. */
  message?: string;
}

/** The queue every case addresses (tests create it first when running on the engine). */
export const queueName = "q";
const queue = `/v1/queues/${queueName}`;

const badNames = ["9starts-with-digit", "has.dot", "a".repeat(65), "%20space", "_under"];

function rangeCases(options: {
  method: string;
  path: string;
  field: string;
  range: { min: number; max: number };
  wrap: (value: unknown) => unknown;
}): BadInputCase[] {
  const { method, path, field, range, wrap } = options;
  const invalid = (value: unknown, label: string, message?: string): BadInputCase => ({
    name: `${method} ${path} ${field} ${label}`,
    method,
    path,
    body: wrap(value),
    status: 400,
    code: "InvalidParameter",
    field,
    message,
  });
  return [
    invalid(range.min - 1, "min-1", `must be at least ${range.min}`),
    invalid(range.max + 1, "max+1", `must be at most ${range.max}`),
    invalid(range.min + 0.5, "not an integer"),
    invalid(String(range.min), "a string"),
    invalid(null, "null"),
    ...beyondSafeCases(range, invalid),
  ];
}

/**
 * Integers past 2^53 (as JSON can send them): the answer names the field's own bounds, not the
 * safe-integer range every integer of JavaScript has.
 */
export function beyondSafeCases<T>(
  range: { min: number; max: number },
  invalid: (value: unknown, label: string, message: string) => T,
): T[] {
  const above = `must be at most ${range.max}`;
  const below = `must be at least ${range.min}`;
  return [
    invalid(1e300, "1e300", above),
    invalid(2 ** 53 + 2, "2^53+2", above),
    invalid(-1e300, "-1e300", below),
  ];
}

function nameCases(method: string, suffix: string, body?: unknown): BadInputCase[] {
  return badNames.map((bad) => ({
    name: `${method} ${suffix} with queue name ${bad.slice(0, 20)}`,
    method,
    path: `/v1/queues/${bad}${suffix}`,
    body,
    status: 400,
    code: "InvalidParameter",
    field: "queue",
  }));
}

function bodyShapeCases(method: string, path: string): BadInputCase[] {
  const base = { method, path };
  return [
    {
      ...base,
      name: `${method} ${path} malformed JSON`,
      body: '{"a":',
      status: 400,
      code: "MalformedRequest",
    },
    {
      ...base,
      name: `${method} ${path} JSON array`,
      body: [],
      status: 400,
      code: "InvalidParameter",
      field: "body",
    },
    {
      ...base,
      name: `${method} ${path} JSON number`,
      body: "42",
      status: 400,
      code: "InvalidParameter",
      field: "body",
    },
    {
      ...base,
      name: `${method} ${path} text/plain`,
      body: "{}",
      headers: { "content-type": "text/plain" },
      status: 415,
      code: "UnsupportedMediaType",
    },
    {
      ...base,
      name: `${method} ${path} form-encoded`,
      body: "a=1",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      status: 415,
      code: "UnsupportedMediaType",
    },
    {
      ...base,
      name: `${method} ${path} unknown field`,
      body: { unknownField: 1 },
      status: 400,
      code: "InvalidParameter",
      field: "unknownField",
    },
  ];
}

function attributeCases(method: "PUT" | "PATCH"): BadInputCase[] {
  const cases: BadInputCase[] = [...bodyShapeCases(method, queue), ...nameCases(method, "", {})];
  for (const [field, range] of Object.entries(queueLimits)) {
    cases.push(...rangeCases({ method, path: queue, field, range, wrap: (v) => ({ [field]: v }) }));
  }
  cases.push({
    name: `${method} fifo not a boolean`,
    method,
    path: queue,
    body: { fifo: "yes" },
    status: 400,
    code: "InvalidParameter",
    field: "fifo",
  });
  // Tag shapes; the tag limits are the service's (tags_test.ts, on the engine).
  for (
    const [label, tags, field] of [["a string", "env", "tags"], [
      "a number value",
      { env: 1 },
      "tags.env",
    ]]
  ) {
    cases.push({
      name: `${method} tags ${label}`,
      method,
      path: queue,
      body: { tags },
      status: 400,
      code: "InvalidParameter",
      field: field as string,
    });
  }
  cases.push({
    name: `${method} a tag named __proto__`,
    method,
    path: queue,
    body: { tags: { env: "prod", ["__proto__"]: "x" } },
    status: 400,
    code: "InvalidParameter",
    field: "tags.__proto__",
    message: "reserved name",
  });
  const deadLetter = (policy: object) => ({ deadLetter: { queue: "dead", ...policy } });
  for (const [field, range] of Object.entries(deadLetterLimits)) {
    cases.push(...rangeCases({
      method,
      path: queue,
      field: `deadLetter.${field}`,
      range,
      wrap: (v) => deadLetter({ [field]: v }),
    }));
  }
  cases.push(
    {
      name: `${method} deadLetter queue invalid`,
      method,
      path: queue,
      body: { deadLetter: { queue: "1bad" } },
      status: 400,
      code: "InvalidParameter",
      field: "deadLetter.queue",
    },
    {
      name: `${method} deadLetter without queue`,
      method,
      path: queue,
      body: { deadLetter: { maxReceiveCount: 3 } },
      status: 400,
      code: "InvalidParameter",
      field: "deadLetter.queue",
    },
    {
      name: `${method} deadLetter without a limit`,
      method,
      path: queue,
      body: { deadLetter: { queue: "dead" } },
      status: 400,
      code: "InvalidParameter",
      field: "deadLetter",
    },
    {
      name: `${method} deadLetter unknown field`,
      method,
      path: queue,
      body: deadLetter({ maxReceives: 3 }),
      status: 400,
      code: "InvalidParameter",
      field: "deadLetter.maxReceives",
    },
  );
  return cases;
}

function listCases(): BadInputCase[] {
  const list = (query: string, field: string): BadInputCase => ({
    name: `GET /v1/queues?${query}`,
    method: "GET",
    path: `/v1/queues?${query}`,
    status: 400,
    code: "InvalidParameter",
    field,
  });
  return [
    list(`limit=${listLimits.limit.min - 1}`, "limit"),
    list(`limit=${listLimits.limit.max + 1}`, "limit"),
    // Past 2^53, and past the 16 digits the query rule once took: the route's own bounds.
    { ...list("limit=9999999999999999", "limit"), message: `at most ${listLimits.limit.max}` },
    {
      ...list(`limit=${"9".repeat(400)}`, "limit"),
      name: "GET /v1/queues?limit=<400 nines>",
      message: `at most ${listLimits.limit.max}`,
    },
    {
      ...list(`offset=${"9".repeat(20)}`, "offset"),
      message: `at most ${Number.MAX_SAFE_INTEGER}`,
    },
    list("limit=abc", "limit"),
    list("limit=", "limit"),
    list("limit=1.5", "limit"),
    list("offset=-1", "offset"),
    list("offset=x", "offset"),
    list(`prefix=${"a".repeat(65)}`, "prefix"),
    list("pefix=a", "pefix"),
  ];
}

/** Query parameters on routes that take none (a delay in the query must not be ignored). */
function unknownQueryCases(): BadInputCase[] {
  const query = (method: string, path: string, field: string, body?: unknown): BadInputCase => ({
    name: `${method} ${path} with an unknown query parameter`,
    method,
    path,
    body,
    status: 400,
    code: "InvalidParameter",
    field,
  });
  return [
    query("POST", `${queue}/messages?delaySeconds=60`, "delaySeconds", {
      messages: [{ body: "x" }],
    }),
    query("POST", `${queue}/messages/receive?waitSeconds=5`, "waitSeconds", {}),
    query("GET", `${queue}?verbose=1`, "verbose"),
    query("PUT", `${queue}?fifo=true`, "fifo", {}),
    query("POST", `${queue}/purge?all`, "all"),
  ];
}

function sendCases(): BadInputCase[] {
  const path = `${queue}/messages`;
  const send = (name: string, messages: unknown, field: string): BadInputCase => ({
    name: `send ${name}`,
    method: "POST",
    path,
    body: { messages },
    status: 400,
    code: "InvalidParameter",
    field,
  });
  const ok = { body: "x" };
  const entries = (count: number) => Array.from({ length: count }, () => ok);
  const attributes = (count: number) =>
    Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, "v"]));
  return [
    ...bodyShapeCases("POST", path),
    ...nameCases("POST", "/messages", { messages: [ok] }),
    {
      name: "send without messages",
      method: "POST",
      path,
      body: {},
      status: 400,
      code: "InvalidParameter",
      field: "messages",
    },
    send("empty batch", [], "messages"),
    {
      ...send("batch max+1", entries(messageLimits.batchEntriesMax + 1), "messages"),
      status: 413,
      code: "BatchTooLarge",
    },
    send("messages not an array", { body: "x" }, "messages"),
    send("entry not an object", ["x"], "messages.0"),
    send("entry without body", [ok, {}], "messages.1.body"),
    send("body a number", [{ body: 5 }], "messages.0.body"),
    ...rangeCases({
      method: "POST",
      path,
      field: "messages.3.delaySeconds",
      range: messageLimits.delaySeconds,
      wrap: (v) => ({ messages: [ok, ok, ok, { body: "x", delaySeconds: v }] }),
    }).map((c) => ({ ...c, name: `send ${c.name}` })),
    send("empty groupId", [{ body: "x", groupId: "" }], "messages.0.groupId"),
    send(
      "groupId max+1",
      [{ body: "x", groupId: "g".repeat(messageLimits.groupIdCharsMax + 1) }],
      "messages.0.groupId",
    ),
    send("empty dedupId", [{ body: "x", dedupId: "" }], "messages.0.dedupId"),
    send(
      "dedupId max+1",
      [{ body: "x", dedupId: "d".repeat(messageLimits.dedupIdCharsMax + 1) }],
      "messages.0.dedupId",
    ),
    send(
      "attributes max+1",
      [{ body: "x", attributes: attributes(messageLimits.attributesMax + 1) }],
      "messages.0.attributes",
    ),
    send(
      "attribute value a number",
      [{ body: "x", attributes: { a: 1 } }],
      "messages.0.attributes.a",
    ),
    send(
      "attribute key max+1",
      [{ body: "x", attributes: { ["k".repeat(messageLimits.attributeKeyCharsMax + 1)]: "v" } }],
      "messages.0.attributes",
    ),
    send(
      "attribute value max+1",
      [{ body: "x", attributes: { k: "v".repeat(messageLimits.attributeValueCharsMax + 1) } }],
      "messages.0.attributes.k",
    ),
    send("attributes an array", [{ body: "x", attributes: ["a"] }], "messages.0.attributes"),
    // A computed key is an own property, as JSON.parse makes it (zod's record would drop it).
    {
      ...send(
        "attribute named __proto__",
        [{ body: "x" }, { body: "x", attributes: { ["__proto__"]: "v", a: "b" } }],
        "messages.1.attributes.__proto__",
      ),
      message: "reserved name",
    },
    send("unknown entry field", [{ body: "x", delay: 3 }], "messages.0.delay"),
  ];
}

function receiveCases(): BadInputCase[] {
  const path = `${queue}/messages/receive`;
  const receive = (field: string, range: { min: number; max: number }) =>
    rangeCases({ method: "POST", path, field, range, wrap: (v) => ({ [field]: v }) });
  const handles = (count: number) => Array.from({ length: count }, (_, i) => `h${i}`);
  const invalid = (name: string, body: unknown, field: string): BadInputCase => ({
    name: `receive ${name}`,
    method: "POST",
    path,
    body,
    status: 400,
    code: "InvalidParameter",
    field,
  });
  return [
    ...bodyShapeCases("POST", path),
    ...nameCases("POST", "/messages/receive", {}),
    ...receive("maxMessages", { min: 1, max: messageLimits.batchEntriesMax }),
    ...receive("visibilityTimeoutSeconds", queueLimits.visibilityTimeoutSeconds),
    ...receive("waitSeconds", messageLimits.waitSeconds),
    {
      ...invalid(
        "deleteReceiptHandles max+1",
        { deleteReceiptHandles: handles(messageLimits.batchEntriesMax + 1) },
        "deleteReceiptHandles",
      ),
      status: 413,
      code: "BatchTooLarge",
    },
    invalid(
      "deleteReceiptHandles of numbers",
      { deleteReceiptHandles: [1] },
      "deleteReceiptHandles.0",
    ),
    invalid("deleteReceiptHandles a string", { deleteReceiptHandles: "h" }, "deleteReceiptHandles"),
  ];
}

function deleteAndVisibilityCases(): BadInputCase[] {
  const deletePath = `${queue}/messages/delete`;
  const visibilityPath = `${queue}/messages/visibility`;
  const invalid = (path: string, name: string, body: unknown, field: string): BadInputCase => ({
    name: `${path.split("/").pop()} ${name}`,
    method: "POST",
    path,
    body,
    status: 400,
    code: "InvalidParameter",
    field,
  });
  const handles = (count: number) => Array.from({ length: count }, (_, i) => `h${i}`);
  const entry = { receiptHandle: "h", visibilityTimeoutSeconds: 10 };
  return [
    ...bodyShapeCases("POST", deletePath),
    ...nameCases("POST", "/messages/delete", { receiptHandles: ["h"] }),
    invalid(deletePath, "without handles", {}, "receiptHandles"),
    invalid(deletePath, "empty", { receiptHandles: [] }, "receiptHandles"),
    {
      ...invalid(deletePath, "max+1", { receiptHandles: handles(257) }, "receiptHandles"),
      status: 413,
      code: "BatchTooLarge",
    },
    invalid(deletePath, "empty handle", { receiptHandles: ["h", ""] }, "receiptHandles.1"),
    invalid(deletePath, "number handle", { receiptHandles: [7] }, "receiptHandles.0"),
    ...bodyShapeCases("POST", visibilityPath),
    ...nameCases("POST", "/messages/visibility", { entries: [entry] }),
    invalid(visibilityPath, "without entries", {}, "entries"),
    invalid(visibilityPath, "empty", { entries: [] }, "entries"),
    {
      ...invalid(
        visibilityPath,
        "max+1",
        { entries: Array.from({ length: messageLimits.batchEntriesMax + 1 }, () => entry) },
        "entries",
      ),
      status: 413,
      code: "BatchTooLarge",
    },
    invalid(
      visibilityPath,
      "entry without handle",
      { entries: [{ visibilityTimeoutSeconds: 1 }] },
      "entries.0.receiptHandle",
    ),
    invalid(
      visibilityPath,
      "entry without timeout",
      { entries: [{ receiptHandle: "h" }] },
      "entries.0.visibilityTimeoutSeconds",
    ),
    invalid(
      visibilityPath,
      "unknown entry field",
      { entries: [{ ...entry, extra: 1 }] },
      "entries.0.extra",
    ),
    ...rangeCases({
      method: "POST",
      path: visibilityPath,
      field: "entries.1.visibilityTimeoutSeconds",
      range: messageLimits.visibilityTimeoutSeconds,
      wrap: (v) => ({ entries: [entry, { receiptHandle: "h", visibilityTimeoutSeconds: v }] }),
    }),
  ];
}

function operationCases(): BadInputCase[] {
  const rewind = `${queue}/rewind`;
  const redrive = `${queue}/redrive`;
  const invalid = (path: string, name: string, body: unknown, field: string): BadInputCase => ({
    name: `${path.split("/").pop()} ${name}`,
    method: "POST",
    path,
    body,
    status: 400,
    code: "InvalidParameter",
    field,
  });
  return [
    ...bodyShapeCases("POST", rewind),
    ...nameCases("POST", "/rewind", { sequence: 1 }),
    invalid(rewind, "with neither", {}, "timestamp"),
    invalid(rewind, "with both", { timestamp: 1, sequence: 1 }, "timestamp"),
    invalid(rewind, "timestamp negative", { timestamp: -1 }, "timestamp"),
    invalid(rewind, "timestamp a string", { timestamp: "2024-01-01" }, "timestamp"),
    invalid(rewind, "sequence fractional", { sequence: 1.5 }, "sequence"),
    ...["timestamp", "sequence"].flatMap((field) =>
      beyondSafeCases({ min: 0, max: Number.MAX_SAFE_INTEGER }, (value, label, message) => ({
        ...invalid(rewind, `${field} ${label}`, { [field]: value }, field),
        message,
      }))
    ),
    ...bodyShapeCases("POST", redrive),
    ...nameCases("POST", "/redrive", {}),
    invalid(redrive, "destination invalid", { destination: "1bad" }, "destination"),
    ...rangeCases({
      method: "POST",
      path: redrive,
      field: "maxMessages",
      range: { min: 1, max: redriveMessagesMax },
      wrap: (v) => ({ maxMessages: v }),
    }),
    invalid(redrive, "maxMessages a string", { maxMessages: "5" }, "maxMessages"),
    // Takes no fields: a body that is not `{}` is refused, never a purge.
    ...bodyShapeCases("POST", `${queue}/purge`),
    ...nameCases("POST", "/purge"),
    ...nameCases("GET", ""),
    ...nameCases("DELETE", ""),
  ];
}

/** Every bad-input case of the door. */
export function badInputCases(): BadInputCase[] {
  return [
    ...attributeCases("PUT"),
    ...attributeCases("PATCH"),
    ...listCases(),
    ...unknownQueryCases(),
    ...sendCases(),
    ...receiveCases(),
    ...deleteAndVisibilityCases(),
    ...operationCases(),
  ];
}

/** The `RequestInit` of a case. */
export function requestOf(badCase: BadInputCase): RequestInit {
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (badCase.body !== undefined) {
    body = typeof badCase.body === "string" ? badCase.body : JSON.stringify(badCase.body);
    headers["content-type"] = "application/json";
  }
  return { method: badCase.method, body, headers: { ...headers, ...badCase.headers } };
}
