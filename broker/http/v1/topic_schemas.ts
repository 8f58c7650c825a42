/**
 * The zod schemas of the topic routes (README, "Topics"): request shapes and, through
 * `@hono/zod-openapi`, their part of `/openapi.json`. Shapes only: the service checks the
 * content rules (tags, keys, URLs, sizes) and answers them with a precise field.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import {
  listLimits,
  subscriptionLimits,
  topicFilterLimits,
  topicLimits,
} from "../../service/mod.ts";
import {
  AttributesSchema,
  batch,
  digits,
  epochMsSchema,
  integerWithDefault,
  NameSchema,
  syncValidation,
} from "./schemas.ts";

/** Path parameters of `/v1/topics/{topic}/...`. */
export const TopicParamsSchema = syncValidation(
  z.object({
    topic: NameSchema.openapi({ param: { name: "topic", in: "path" }, example: "payments" }),
  }),
);

/** Path parameters of `/v1/topics/{topic}/subscriptions/{subscription}`. */
export const SubscriptionParamsSchema = syncValidation(
  z.object({
    topic: NameSchema.openapi({ param: { name: "topic", in: "path" }, example: "payments" }),
    subscription: NameSchema.openapi({
      param: { name: "subscription", in: "path" },
      example: "risk",
    }),
  }),
);

const filterType = z.enum(["tag", "routingKey"]).openapi({
  description: "tag: subscriptions filter by filterTags; routingKey: by bindingKeys " +
    "(RabbitMQ topic-exchange matching). Immutable.",
  default: "tag",
});

const topicAttributeShape = {
  filterType,
  maxMessageBytes: integerWithDefault(topicLimits.maxMessageBytes, "Body size limit (UTF-8)."),
  retentionSeconds: integerWithDefault(
    topicLimits.retentionSeconds,
    "How long an HTTP push is retried at most; older pending pushes are dropped and counted.",
  ),
};

/** Body of `PUT` and `PATCH /v1/topics/{topic}`. */
export const TopicAttributesInputSchema = syncValidation(
  z.object({
    filterType: topicAttributeShape.filterType.optional(),
    maxMessageBytes: topicAttributeShape.maxMessageBytes.optional(),
    retentionSeconds: topicAttributeShape.retentionSeconds.optional(),
  }).strict().openapi("TopicAttributesInput"),
);

/** A topic. */
export const TopicSchema = z.object({
  name: NameSchema,
  ...topicAttributeShape,
  createdAt: epochMsSchema,
  modifiedAt: epochMsSchema,
  subscriptions: z.int().openapi({ description: "How many subscriptions it has." }),
  publishedMessages: z.int().openapi({ description: "Messages published since it was created." }),
}).openapi("Topic");

/** `GET /v1/topics` response. */
export const TopicListSchema = z.object({
  total: z.int(),
  topics: z.array(TopicSchema),
}).openapi("TopicList");

/** Query of the topic and subscription listings. */
export const ListQuerySchema = syncValidation(
  z.object({
    prefix: z.string().max(64).optional().openapi({
      param: { name: "prefix", in: "query" },
      description: "Only names starting with this.",
    }),
    offset: digits("Entries to skip.").pipe(z.int().min(0)).optional().openapi({
      param: { name: "offset", in: "query" },
      type: "integer",
    }),
    limit: digits(`Entries to return, ${listLimits.limit.min}–${listLimits.limit.max}.`)
      .pipe(z.int().min(listLimits.limit.min).max(listLimits.limit.max)).optional().openapi({
        param: { name: "limit", in: "query" },
        type: "integer",
        default: listLimits.limit.default,
      }),
  }).strict(),
);

const tagsRule =
  `at most ${topicFilterLimits.tagsMax}, each 1–${topicFilterLimits.tagCodePointsMax} ` +
  "characters";
const keyRule = `at most ${topicFilterLimits.keyBytesMax} bytes and ` +
  `${topicFilterLimits.keyWordsMax} dot-separated words, no empty word`;

/** One message of a publish batch. */
export const PublishEntrySchema = z.object({
  body: z.string().openapi({ description: "UTF-8, at most the topic's maxMessageBytes." }),
  tags: z.array(z.string()).optional().openapi({
    description: `Tag topics only: ${tagsRule}.`,
    example: ["paid"],
  }),
  routingKey: z.string().optional().openapi({
    description: `Routing-key topics only: ${keyRule}, no wildcards.`,
    example: "payments.eu.paid",
  }),
  attributes: AttributesSchema.optional(),
}).strict().openapi("PublishEntry");

/** `POST /v1/topics/{topic}/messages` body. */
export const PublishRequestSchema = syncValidation(
  z.object({ messages: batch(PublishEntrySchema) }).strict().openapi("PublishRequest"),
);

const SubscriptionFailureSchema = z.object({
  subscription: z.string(),
  code: z.string().openapi({ description: "BacklogFull, MessageTooLarge or QueueNotFound." }),
  message: z.string(),
}).openapi("SubscriptionFailure");

/** `POST /v1/topics/{topic}/messages` response. */
export const PublishResponseSchema = z.object({
  messages: z.array(z.object({
    id: z.string(),
    fannedOut: z.int().openapi({
      description: "Subscriptions that took it: queue copies enqueued plus pushes scheduled.",
    }),
    failures: z.array(SubscriptionFailureSchema).openapi({
      description: "Matching subscriptions that could not take it.",
    }),
  })),
}).openapi("PublishResponse");

const EndpointSchema = z.object({
  queue: NameSchema.optional().openapi({ description: "A queue of the cluster." }),
  url: z.string().optional().openapi({
    description: `An http or https URL (at most ${subscriptionLimits.urlBytesMax} bytes) that ` +
      "gets an HTTP POST per message.",
    example: "https://merchant.example/notify",
  }),
}).strict().openapi("SubscriptionEndpoint", {
  description: "Exactly one of queue and url; immutable.",
});

const retryPolicy = z.enum(["exponentialDecay", "backoff"]).openapi({
  description: "URL endpoints: exponentialDecay retries after 1, 2, 4 … 512 s, then every " +
    "512 s for up to a day (and the topic's retention); backoff retries 3 times, 10–20 s apart. " +
    "A retry that would come within 15 s of that window's end comes 15 s before it, as the " +
    "last try; its failure gives the message up (push.expired).",
  default: "exponentialDecay",
});
const pushFormat = z.enum(["json", "simplified"]).openapi({
  description: "URL endpoints, as CMQ pushes: json posts {TopicOwner, topicName, " +
    "subscriptionName, msgId, msgBody, publishTime (Unix seconds), publishTimeMs, msgTag}; " +
    "simplified posts the raw body; both as text/plain.",
  default: "json",
});

/** Body of `PUT` and `PATCH /v1/topics/{topic}/subscriptions/{subscription}`. */
export const SubscriptionAttributesInputSchema = syncValidation(
  z.object({
    endpoint: EndpointSchema.optional(),
    filterTags: z.array(z.string()).optional().openapi({
      description: `Tag topics: ${tagsRule}; absent or empty takes every message.`,
    }),
    bindingKeys: z.array(z.string()).optional().openapi({
      description: `Routing-key topics: ${keyRule}; '*' is one word, '#' zero or more; ` +
        "absent or empty takes every message.",
    }),
    retryPolicy: retryPolicy.optional(),
    format: pushFormat.optional(),
  }).strict().openapi("SubscriptionAttributesInput"),
);

const nullableEpoch = epochMsSchema.nullable();

/** A subscription and its delivery state. */
export const SubscriptionSchema = z.object({
  name: NameSchema,
  topic: NameSchema,
  endpoint: EndpointSchema,
  filterTags: z.array(z.string()),
  bindingKeys: z.array(z.string()),
  retryPolicy: retryPolicy.optional(),
  format: pushFormat.optional(),
  createdAt: epochMsSchema,
  modifiedAt: epochMsSchema,
  fannedOutMessages: z.int().openapi({
    description: "Messages it took: queue copies enqueued, pushes scheduled.",
  }),
  deliveredMessages: z.int().openapi({ description: "Queue copies enqueued, or 2xx pushes." }),
  failedMessages: z.int().openapi({
    description: "Copies refused, or pushes given up on (retries spent, retention over).",
  }),
  pendingMessages: z.int().optional().openapi({ description: "URL: waiting to be pushed." }),
  oldestPendingAt: nullableEpoch.optional(),
  nextAttemptAt: nullableEpoch.optional().openapi({ description: "URL: the next attempt." }),
  lastError: z.object({ at: epochMsSchema, message: z.string() }).nullable().optional(),
  push: z.object({
    pushed: z.int(),
    failures: z.int(),
    retries: z.int(),
    dropped: z.int(),
    expired: z.int(),
  }).optional().openapi({ description: "URL: attempt counts since the subscription was made." }),
}).openapi("Subscription");

/** `GET /v1/topics/{topic}/subscriptions` response. */
export const SubscriptionListSchema = z.object({
  total: z.int(),
  subscriptions: z.array(SubscriptionSchema),
}).openapi("SubscriptionList");
