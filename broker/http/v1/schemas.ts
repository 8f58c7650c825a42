/**
 * The zod schemas of the native v1 door: request validation and, through
 * `@hono/zod-openapi`, the OpenAPI document. Every number comes from `broker/engine/limits.ts`; the
 * service validates again (it is the authority), these exist to answer shape errors early
 * with a precise `field`.
 *
 * Request objects are strict: an unknown field is a 400, because a typo such as
 * `visibilityTimeout` silently falling back to a default is worse than an error.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import {
  deadLetterLimits,
  errorCodes,
  listLimits,
  messageLimits,
  namePattern,
  queueLimits,
  type Range,
  redriveMessagesMax,
  reservedKey,
  reservedKeyRule,
  tagLimits,
} from "../../service/mod.ts";

/**
 * Makes the validator of `@hono/zod-openapi` (which always calls `safeParseAsync`) run zod's
 * synchronous parser. Our schemas have no async refinements, and the async path costs about
 * 3× more: ~17 µs of a 16-message send, a large share of the hot path's budget.
 */
export function syncValidation<T extends z.ZodType>(schema: T): T {
  Object.defineProperty(schema, "safeParseAsync", {
    value: function safeParseSync(this: T, data: unknown) {
      return Promise.resolve(this.safeParse(data));
    },
  });
  return schema;
}

const nameRule = "1 to 64 characters: a letter, then letters, digits, '-' or '_'";

/** A queue, topic or subscription name. */
export const NameSchema = z.string().regex(namePattern, { error: `must be ${nameRule}` })
  .openapi({ description: `Name: ${nameRule}.`, example: "orders" });

/** Path parameters of `/v1/queues/{queue}/...`. */
export const QueueParamsSchema = syncValidation(
  z.object({
    queue: NameSchema.openapi({ param: { name: "queue", in: "path" }, example: "orders" }),
  }),
);

/** An integer in `range`, documented. */
export function integer(range: Pick<Range, "min" | "max">, description: string) {
  return z.int().min(range.min).max(range.max).openapi({ description });
}

/** An integer in `range` with its default, documented. */
export function integerWithDefault(range: Range, description: string) {
  return integer(range, description).openapi({ default: range.default });
}

/** Unix epoch milliseconds. */
export const epochMsSchema = z.int().min(0).openapi({ description: "Unix epoch milliseconds." });

/** A receipt handle is opaque; its shape is checked by the service. */
const ReceiptHandleSchema = z.string().min(1).openapi({
  description: "The receipt handle of one delivery.",
});

// ---------------------------------------------------------------------------------------------
// Queues

/** Dead-letter policy of a queue. */
export const DeadLetterPolicySchema = z.object({
  queue: NameSchema.openapi({ description: "The dead-letter queue." }),
  maxReceiveCount: integer(
    deadLetterLimits.maxReceiveCount,
    "Move a message after this many receives.",
  ).optional(),
  maxTimeToLiveSeconds: integer(
    deadLetterLimits.maxTimeToLiveSeconds,
    "Move a message older than this, counted from its send as retention is (a delay " +
      "included: a message still delayed past it moves undelivered); below the queue's " +
      "retentionSeconds.",
  ).optional(),
}).strict().superRefine((policy, context) => {
  if (policy.maxReceiveCount === undefined && policy.maxTimeToLiveSeconds === undefined) {
    context.addIssue({
      code: "custom",
      path: [],
      message: "needs maxReceiveCount or maxTimeToLiveSeconds",
    });
  }
}).openapi("DeadLetterPolicy", { description: "At least one of the two limits." });

/**
 * `record` (a map of user keys: message attributes, queue tags), refusing a key `__proto__` as
 * the service does (`reserved_keys.ts`). zod's record skips that key without an issue (it can't
 * assign it as data), so the check runs on the input before the record does.
 */
function userKeyed<T extends z.ZodType>(record: T) {
  return z.preprocess((value, context) => {
    if (typeof value === "object" && value !== null && Object.hasOwn(value, reservedKey)) {
      context.addIssue({
        code: "custom",
        path: [reservedKey],
        message: reservedKeyRule,
        input: value,
      });
    }
    return value;
  }, record);
}

const tagRules = `Labels cmqd stores and never interprets (widened: CMQ has no tags). At most ` +
  `${tagLimits.tagsMax} tags; keys of 1–${tagLimits.keyCharsMax} and values of ` +
  `0–${tagLimits.valueCharsMax} characters, each of letters, digits, spaces and ` +
  "`_ . : / = + - @`, neither starting with `aws:`; no key `__proto__`.";

/**
 * Queue tags, documented with `use`. Only the shape is checked here: the service checks the
 * limits and characters and names the offending tag (`tags.<key>`), which a record's key rule
 * can't.
 */
function queueTags(use: string) {
  return userKeyed(z.record(z.string(), z.string())).nullable().optional().openapi({
    description: `${tagRules} ${use}`,
    maxProperties: tagLimits.tagsMax,
    example: { team: "payments", env: "prod" },
  });
}

const attributeShape = {
  visibilityTimeoutSeconds: integerWithDefault(
    queueLimits.visibilityTimeoutSeconds,
    "The lock a receive takes.",
  ),
  pollingWaitSeconds: integerWithDefault(
    queueLimits.pollingWaitSeconds,
    "Default long-poll wait of receive.",
  ),
  maxMessageBytes: integerWithDefault(queueLimits.maxMessageBytes, "Body size limit (UTF-8)."),
  retentionSeconds: integerWithDefault(queueLimits.retentionSeconds, "How long messages live."),
  rewindSeconds: integerWithDefault(
    queueLimits.rewindSeconds,
    "How long deleted messages stay replayable, counted from each send; at most " +
      "retentionSeconds; 0 = no rewind. A change ends the replay of every message deleted by " +
      "then outside the smaller of the two windows (with 0: every one deleted so far): raising " +
      "it later does not bring those back. Messages still in the queue stay replayable once " +
      "deleted.",
  ),
  maxBacklog: integerWithDefault(queueLimits.maxBacklog, "Sends beyond this backlog get 429."),
  fifo: z.boolean().openapi({
    description: "Ordered delivery per groupId; immutable after create.",
    default: false,
  }),
};

/** Body of `PUT` and `PATCH /v1/queues/{queue}`: all attributes optional. */
export const QueueAttributesInputSchema = syncValidation(
  z.object({
    visibilityTimeoutSeconds: attributeShape.visibilityTimeoutSeconds.optional(),
    pollingWaitSeconds: attributeShape.pollingWaitSeconds.optional(),
    maxMessageBytes: attributeShape.maxMessageBytes.optional(),
    retentionSeconds: attributeShape.retentionSeconds.optional(),
    rewindSeconds: attributeShape.rewindSeconds.optional(),
    maxBacklog: attributeShape.maxBacklog.optional(),
    fifo: attributeShape.fifo.optional(),
    deadLetter: DeadLetterPolicySchema.nullable().optional().openapi({
      description: "Dead-letter policy; null removes it.",
    }),
    tags: queueTags(
      "On create: the queue's tags (a create naming tags matches an existing queue only with " +
        "the same tags). On update: replaces every tag; null or {} removes them.",
    ),
  }).strict().openapi("QueueAttributesInput"),
);

/** A queue with its attributes and live counts. */
export const QueueSchema = z.object({
  name: NameSchema,
  ...attributeShape,
  deadLetter: DeadLetterPolicySchema.nullable().optional(),
  tags: queueTags("Absent when the queue has none."),
  createdAt: epochMsSchema,
  modifiedAt: epochMsSchema,
  activeMessages: z.int().openapi({ description: "Visible now." }),
  inflightMessages: z.int().openapi({ description: "Locked by a receive." }),
  delayedMessages: z.int().openapi({ description: "Not yet visible (delaySeconds)." }),
  rewindableMessages: z.int().openapi({
    description: "Deleted, inside the rewind window, and not ended by a change of rewindSeconds.",
  }),
  oldestMessageAt: epochMsSchema.nullable(),
}).openapi("Queue");

/** `GET /v1/queues` response. */
export const QueueListSchema = z.object({
  total: z.int(),
  queues: z.array(QueueSchema),
}).openapi("QueueList");

/**
 * A query parameter holding a non-negative integer, of any number of digits: one too large for
 * the route (or past 2^53, or past what a number holds) fails the route's own bound.
 */
export const digits = (description: string) =>
  z.string().regex(/^[0-9]+$/, { error: "must be a non-negative integer" }).openapi({
    description,
  }).transform((text) => Math.min(Number(text), Number.MAX_VALUE));

/** Query of `GET /v1/queues`. */
export const ListQueuesQuerySchema = syncValidation(
  z.object({
    // As the service: any text; one that can't start a name simply matches nothing.
    prefix: z.string().max(64).optional().openapi({
      param: { name: "prefix", in: "query" },
      description: "Only names starting with this.",
    }),
    offset: digits("Queues to skip.").pipe(z.int().min(0)).optional().openapi({
      param: { name: "offset", in: "query" },
      type: "integer",
    }),
    limit: digits(`Queues to return, ${listLimits.limit.min}–${listLimits.limit.max}.`)
      .pipe(z.int().min(listLimits.limit.min).max(listLimits.limit.max)).optional().openapi({
        param: { name: "limit", in: "query" },
        type: "integer",
        default: listLimits.limit.default,
      }),
  }).strict(),
);

// ---------------------------------------------------------------------------------------------
// Messages

/** Message attributes. */
export const AttributesSchema = userKeyed(
  z.record(
    z.string().min(1).max(messageLimits.attributeKeyCharsMax),
    z.string().max(messageLimits.attributeValueCharsMax),
  ).refine((attributes) => Object.keys(attributes).length <= messageLimits.attributesMax, {
    error: `must have at most ${messageLimits.attributesMax} entries`,
  }),
).openapi({
  description: `At most ${messageLimits.attributesMax} string pairs, keys up to ` +
    `${messageLimits.attributeKeyCharsMax} characters; no key \`${reservedKey}\`.`,
});

const dedupWindowSeconds = messageLimits.dedupWindowMs / 1000;
const dedupIdDescription = `A second send with this id within the dedup window ` +
  `(${dedupWindowSeconds} s from the first) enqueues nothing, whatever its body, and is ` +
  "answered with the first message's id and sequence (the answer does not say which entries " +
  "were duplicates).";

/** One message of a send batch. */
export const SendMessageEntrySchema = z.object({
  body: z.string().openapi({ description: "UTF-8, at most the queue's maxMessageBytes." }),
  delaySeconds: integerWithDefault(messageLimits.delaySeconds, "Invisible for this long.")
    .optional(),
  groupId: z.string().min(1).max(messageLimits.groupIdCharsMax).optional().openapi({
    description: "FIFO group (fifo queues).",
  }),
  dedupId: z.string().min(1).max(messageLimits.dedupIdCharsMax).optional().openapi({
    description: dedupIdDescription,
  }),
  attributes: AttributesSchema.optional(),
}).strict().openapi("SendMessageEntry");

/** A request batch: 1 to `batchEntriesMax` entries. */
export const batch = <T extends z.ZodType>(entry: T) =>
  z.array(entry).min(1).max(messageLimits.batchEntriesMax);

/** `POST /v1/queues/{queue}/messages` body. */
export const SendMessagesRequestSchema = syncValidation(
  z.object({
    messages: batch(SendMessageEntrySchema),
  }).strict().openapi("SendMessagesRequest"),
);

/** `POST /v1/queues/{queue}/messages` response. */
export const SendMessagesResponseSchema = z.object({
  messages: z.array(z.object({ id: z.string(), sequence: z.int() })),
}).openapi("SendMessagesResponse");

/** `POST /v1/queues/{queue}/messages/receive` body. */
export const ReceiveMessagesRequestSchema = syncValidation(
  z.object({
    maxMessages: integer(
      { min: 1, max: messageLimits.batchEntriesMax },
      "Messages to return at most; a receive takes no more than 64 MiB / the queue's " +
        "maxMessageBytes (all 256 up to 256 KiB, 64 at 1 MiB).",
    ).optional().openapi({ default: 1 }),
    visibilityTimeoutSeconds: integer(
      queueLimits.visibilityTimeoutSeconds,
      "The lock to take; defaults to the queue's.",
    ).optional(),
    waitSeconds: integer(
      messageLimits.waitSeconds,
      "Long-poll up to this long; defaults to the queue's pollingWaitSeconds.",
    ).optional(),
    deleteReceiptHandles: z.array(ReceiptHandleSchema).max(messageLimits.batchEntriesMax)
      .optional().openapi({
        description: "Delete these first: in the same write, or (nothing to receive yet) in a " +
          "write of their own while the receive waits.",
      }),
  }).strict().openapi("ReceiveMessagesRequest"),
);

/** A message handed to a receiver. */
export const ReceivedMessageSchema = z.object({
  id: z.string(),
  sequence: z.int(),
  body: z.string(),
  receiptHandle: z.string(),
  enqueuedAt: epochMsSchema,
  firstReceivedAt: epochMsSchema,
  receiveCount: z.int(),
  visibleAt: epochMsSchema,
  groupId: z.string().optional(),
  attributes: z.record(z.string(), z.string()).optional(),
}).openapi("ReceivedMessage");

/** A per-handle failure. */
export const HandleFailureSchema = z.object({
  receiptHandle: z.string(),
  code: z.enum(["ReceiptHandleStale", "ReceiptHandleInvalid", "MessageNotInflight"]).openapi({
    description: "Why this handle was not deleted or changed.",
  }),
  message: z.string(),
  gone: z.boolean().optional().openapi({
    description: "Present (and true) only on a `ReceiptHandleStale` whose message is no longer " +
      "in the queue: deleted (by this handle's earlier delete, whose answer may have been lost, " +
      "or by another), expired, moved to a dead-letter queue, or purged. It will not be " +
      "delivered again (unless a rewind brings it back), so a delete of it may count as done. " +
      "Absent on every other failure, among them a handle of an older delivery of a message " +
      "still in the queue (its lock ended and it was received again, or it was rewound): " +
      "another receiver may hold it now, and it may be delivered again.",
  }),
}).openapi("HandleFailure");

/** `POST /v1/queues/{queue}/messages/receive` response. */
export const ReceiveMessagesResponseSchema = z.object({
  messages: z.array(ReceivedMessageSchema),
  deleted: z.int().optional(),
  failures: z.array(HandleFailureSchema).optional(),
}).openapi("ReceiveMessagesResponse");

/** `POST /v1/queues/{queue}/messages/delete` body. */
export const DeleteMessagesRequestSchema = syncValidation(
  z.object({
    receiptHandles: batch(ReceiptHandleSchema),
  }).strict().openapi("DeleteMessagesRequest"),
);

/** `POST /v1/queues/{queue}/messages/delete` response. */
export const DeleteMessagesResponseSchema = z.object({
  deleted: z.int(),
  failures: z.array(HandleFailureSchema),
}).openapi("DeleteMessagesResponse");

/** `POST /v1/queues/{queue}/messages/visibility` body. */
export const ChangeVisibilityRequestSchema = syncValidation(
  z.object({
    entries: batch(
      z.object({
        receiptHandle: ReceiptHandleSchema,
        visibilityTimeoutSeconds: integer(
          messageLimits.visibilityTimeoutSeconds,
          "New lock from now; 0 releases it.",
        ),
      }).strict(),
    ),
  }).strict().openapi("ChangeVisibilityRequest"),
);

/** `POST /v1/queues/{queue}/messages/visibility` response. */
export const ChangeVisibilityResponseSchema = z.object({
  entries: z.array(z.object({ receiptHandle: z.string(), visibleAt: epochMsSchema })),
  failures: z.array(HandleFailureSchema),
}).openapi("ChangeVisibilityResponse");

// ---------------------------------------------------------------------------------------------
// Queue operations

/** `POST /v1/queues/{queue}/rewind` body: exactly one of `timestamp` and `sequence`. */
export const RewindRequestSchema = syncValidation(
  z.object({
    timestamp: epochMsSchema.optional(),
    sequence: z.int().min(0).optional(),
  }).strict().superRefine((request, context) => {
    if ((request.timestamp === undefined) === (request.sequence === undefined)) {
      context.addIssue({
        code: "custom",
        path: ["timestamp"],
        message: "give exactly one of timestamp and sequence",
      });
    }
  }).openapi("RewindRequest", { description: "Exactly one of timestamp and sequence." }),
);

/** `POST /v1/queues/{queue}/rewind` response. */
export const RewindResponseSchema = z.object({
  from: z.object({ timestamp: epochMsSchema, sequence: z.int() }),
  messages: z.int(),
}).openapi("RewindResponse");

/**
 * `POST /v1/queues/{queue}/purge` body: none, or `{}`. Declared so that a body with fields (or
 * one that is not JSON) is refused rather than ignored by a request that deletes every message.
 */
export const PurgeRequestSchema = syncValidation(
  z.object({}).strict().openapi("PurgeRequest", {
    description: "No fields; the body may be left out.",
  }),
);

/** `POST /v1/queues/{queue}/purge` response. */
export const PurgeResponseSchema = z.object({ purged: z.int() }).openapi("PurgeResponse");

/** `POST /v1/queues/{queue}/redrive` body. */
export const RedriveRequestSchema = syncValidation(
  z.object({
    destination: NameSchema.optional().openapi({
      description: "Defaults to each message's origin queue.",
    }),
    maxMessages: integer(
      { min: 1, max: redriveMessagesMax },
      "Move at most this many (default and limit: the engine's per-request maximum).",
    ).optional(),
  }).strict().openapi("RedriveRequest"),
);

/** `POST /v1/queues/{queue}/redrive` response. */
export const RedriveResponseSchema = z.object({ moved: z.int() }).openapi("RedriveResponse");

// ---------------------------------------------------------------------------------------------
// Errors and operations

/** Every error response. */
export const ErrorBodySchema = z.object({
  error: z.object({
    // The full list, so that clients (the SDK's generated types) get a union of the codes.
    code: z.enum(errorCodes).openapi({ example: "QueueNotFound" }),
    message: z.string(),
    requestId: z.string(),
    field: z.string().optional().openapi({ description: "The offending field, dotted." }),
    outcomeUnknown: z.literal(true).optional().openapi({
      description: "Present on a 503 whose request may have been carried out all the same: a " +
        "write already in the leader's log when the node stopped waiting for it (timed out, " +
        "stopped, failed), or a request forwarded to the leader whose answer was lost. Repeat " +
        "it only if repeating is safe (a send with dedupId, a delete, a read).",
    }),
  }),
}).openapi("Error");

/** `GET /v1/cluster` response. */
export const ClusterInfoSchema = z.object({
  nodeId: z.string(),
  role: z.enum(["leader", "follower", "candidate", "learner"]),
  term: z.int(),
  leaderId: z.string().nullable(),
  commitIndex: z.int(),
  appliedIndex: z.int(),
  canVote: z.boolean().optional().openapi({
    description: "False while this node distrusts its log (its disk was damaged or replaced): " +
      "it neither votes nor campaigns until a leader has re-replicated its log and a leader of " +
      "a newer term has committed an entry. False too while it knows it was removed (`removed`).",
  }),
  leadTransferee: z.string().nullable().optional().openapi({
    description: "The voter this node, the leader, is handing its leadership to while the " +
      "transfer runs (a graceful stop hands it over; meanwhile writes are answered 503 NotReady); null when " +
      "no transfer runs or this node does not lead. Absent from nodes older than this field.",
  }),
  removed: z.object({
    index: z.int().openapi({
      description: "The configuration index that no longer lists this node: the index of the " +
        "change in its own log that removed it, or else the commit index of the member that " +
        "told it so.",
    }),
    by: z.string().nullable().openapi({
      description: "The member that told this node it was removed; null when its own log " +
        "holds the change.",
    }),
  }).nullable().optional().openapi({
    description: "Set while this node knows it is no longer a member of the cluster (it " +
      "answers every API request and /readyz 503 NodeRemoved meanwhile): it neither votes nor " +
      "campaigns, and the rest of this answer is its last view. Null while it is a member " +
      "(again, once a re-addition reaches it). Absent from nodes older than this field.",
  }),
  nodes: z.array(z.object({
    id: z.string(),
    url: z.string().nullable(),
    role: z.string(),
    matchIndex: z.int().nullable(),
    lag: z.int().nullable(),
  })),
  bootstrapVoters: z.array(z.string()).optional().openapi({
    description: "The group's initial voters (its index-0 membership); a joining node starts " +
      "from it to replay the log's membership changes.",
  }),
  clusterId: z.string().optional().openapi({
    description: "The cluster's id, fixed when it started (a hash of its initial --peers list, " +
      "or --cluster-id); peers with another one are refused. Empty for a cluster started " +
      "before cluster ids. A joining node records the id it reads here.",
  }),
}).openapi("ClusterInfo");
