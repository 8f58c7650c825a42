/**
 * fast-check generators of the hot routes' inputs for the equivalence tests: mostly near-valid
 * bodies (every field drawn from valid values, the values around each limit, wrong types, and
 * now and then an unknown key), plus arbitrary JSON. The point is to land on both sides of
 * every rule the zod schemas and the hand-written recognizers must agree on.
 *
 * @module
 */
import fc from "fast-check";
import { messageLimits, queueLimits } from "../../service/mod.ts";

/** Values of a wrong type for any field. */
const wrongType = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.constant([]),
  fc.constant({}),
  fc.double({ noNaN: true }),
  fc.constantFrom(-0, 2 ** 53, -(2 ** 53), 1e300, 0.5),
);

/** An integer field of `min..max`: inside, at and just past both ends, or of a wrong type. */
function integerField(min: number, max: number) {
  return fc.oneof(
    { weight: 12, arbitrary: fc.integer({ min, max }) },
    { weight: 2, arbitrary: fc.constantFrom(min, max, min - 1, max + 1) },
    { weight: 1, arbitrary: fc.string() },
    { weight: 1, arbitrary: wrongType },
  );
}

/** A string field of `min..max` characters, around its ends, or of a wrong type. */
function stringField(min: number, max: number) {
  return fc.oneof(
    { weight: 12, arbitrary: fc.string({ minLength: min, maxLength: Math.min(max, 24) }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(min, max, max + 1, Math.max(0, min - 1)).map((length) =>
        "h".repeat(length)
      ),
    },
    { weight: 1, arbitrary: wrongType },
  );
}

/**
 * An object with some of `fields` (each present or absent, but `required` mostly present) and
 * sometimes an unknown key.
 */
function objectOf(fields: Record<string, fc.Arbitrary<unknown>>, required: string[] = []) {
  const extra = fc.oneof(
    { weight: 12, arbitrary: fc.constant({}) },
    {
      weight: 1,
      arbitrary: fc.dictionary(
        fc.oneof(fc.string(), fc.constantFrom("__proto__", "constructor", "0", "Body")),
        fc.jsonValue(),
        { maxKeys: 2 },
      ),
    },
  );
  const known = fc.oneof(
    { weight: 12, arbitrary: fc.record(fields, { requiredKeys: required }) },
    { weight: 1, arbitrary: fc.record(fields, { requiredKeys: [] }) },
  );
  return fc.tuple(known, extra).map(([known, unknown]) => {
    // JSON text, as the body reader hands it over: `__proto__` becomes an own key.
    return JSON.parse(JSON.stringify({ ...unknown, ...known }));
  });
}

/**
 * A batch of `entry`: 0 to a few entries, or exactly at and past the batch limit (copies of
 * `plain`, a valid entry: generating hundreds of entries per run would only cost time).
 */
function batchOf(entry: fc.Arbitrary<unknown>, plain: unknown) {
  const limit = messageLimits.batchEntriesMax;
  return fc.oneof(
    { weight: 12, arbitrary: fc.array(entry, { minLength: 0, maxLength: 4 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(limit, limit + 1).map((count) => Array(count).fill(plain)),
    },
    { weight: 1, arbitrary: wrongType },
  );
}

const attributes = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.dictionary(
      stringField(1, messageLimits.attributeKeyCharsMax).filter((key) => typeof key === "string")
        .map(String),
      stringField(0, messageLimits.attributeValueCharsMax),
      { maxKeys: messageLimits.attributesMax + 1 },
    ),
  },
  // `__proto__` is refused as a key, by zod and (leaving it to zod) the recognizers alike.
  {
    weight: 1,
    arbitrary: fc.constantFrom('{"__proto__": "v"}', '{"a": "b", "__proto__": ""}')
      .map((text): unknown => JSON.parse(text)),
  },
  { weight: 1, arbitrary: wrongType },
);

/** One entry of a send batch. */
export const sendEntry = objectOf({
  body: fc.oneof({ weight: 12, arbitrary: fc.string() }, { weight: 1, arbitrary: wrongType }),
  delaySeconds: integerField(messageLimits.delaySeconds.min, messageLimits.delaySeconds.max),
  groupId: stringField(1, messageLimits.groupIdCharsMax),
  dedupId: stringField(1, messageLimits.dedupIdCharsMax),
  attributes,
}, ["body"]);

/** Bodies of `POST /v1/queues/{queue}/messages`. */
export const sendBody = fc.oneof(
  { weight: 8, arbitrary: objectOf({ messages: batchOf(sendEntry, { body: "b" }) }, ["messages"]) },
  { weight: 1, arbitrary: fc.jsonValue() },
);

/** One entry of a publish batch: tags and routing keys of any strings (the service checks them). */
export const publishEntry = objectOf({
  body: fc.oneof({ weight: 12, arbitrary: fc.string() }, { weight: 1, arbitrary: wrongType }),
  tags: fc.oneof(
    { weight: 12, arbitrary: fc.array(fc.string({ maxLength: 20 }), { maxLength: 7 }) },
    { weight: 1, arbitrary: fc.array(fc.oneof(fc.string(), wrongType), { maxLength: 3 }) },
    { weight: 1, arbitrary: wrongType },
  ),
  routingKey: fc.oneof(
    { weight: 12, arbitrary: fc.string({ maxLength: 30 }) },
    { weight: 1, arbitrary: wrongType },
  ),
  attributes,
}, ["body"]);

/** Bodies of `POST /v1/topics/{topic}/messages`. */
export const publishBody = fc.oneof(
  {
    weight: 8,
    arbitrary: objectOf({ messages: batchOf(publishEntry, { body: "b" }) }, ["messages"]),
  },
  { weight: 1, arbitrary: fc.jsonValue() },
);

const handle = fc.oneof(
  { weight: 12, arbitrary: fc.string({ minLength: 1, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constant("") },
  { weight: 1, arbitrary: wrongType },
);

/** Bodies of `POST /v1/queues/{queue}/messages/receive`. */
export const receiveBody = fc.oneof(
  {
    weight: 8,
    arbitrary: objectOf({
      maxMessages: integerField(1, messageLimits.batchEntriesMax),
      visibilityTimeoutSeconds: integerField(
        queueLimits.visibilityTimeoutSeconds.min,
        queueLimits.visibilityTimeoutSeconds.max,
      ),
      waitSeconds: integerField(messageLimits.waitSeconds.min, messageLimits.waitSeconds.max),
      deleteReceiptHandles: batchOf(handle, "h"),
    }),
  },
  { weight: 1, arbitrary: fc.jsonValue() },
);

/** Bodies of `POST /v1/queues/{queue}/messages/delete`. */
export const deleteBody = fc.oneof(
  { weight: 8, arbitrary: objectOf({ receiptHandles: batchOf(handle, "h") }, ["receiptHandles"]) },
  { weight: 1, arbitrary: fc.jsonValue() },
);

/** Queue names: valid ones, and strings that break the name rule. */
export const queueName = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/) },
  { weight: 1, arbitrary: fc.constantFrom("9digit", "has.dot", "a".repeat(65), "_under", "x y") },
  { weight: 1, arbitrary: fc.string({ maxLength: 70 }) },
);
