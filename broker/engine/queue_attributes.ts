/**
 * Queue attribute validation and defaults (README, "The API contract"). The service validates
 * a request with these before proposing; the state machine runs the same checks on the command,
 * so a command that reached the log can never make an invalid queue.
 *
 * @module
 */
import { invalidParameter } from "./errors.ts";
import { deadLetterLimits, messageLimits, queueLimits, type Range } from "./limits.ts";
import { applyTagChanges, checkTags, sameTags } from "./queue_tags.ts";
import type {
  DeadLetterPolicy,
  QueueAttributes,
  QueueAttributesInput,
  QueueTags,
  TagChanges,
} from "./types.ts";

const numericKeys = [
  "visibilityTimeoutSeconds",
  "pollingWaitSeconds",
  "maxMessageBytes",
  "retentionSeconds",
  "rewindSeconds",
  "maxBacklog",
] as const;

const knownKeys = new Set<string>([...numericKeys, "fifo", "deadLetter", "tags"]);

/** Throws `InvalidParameter` unless `value` is an integer in `range`. */
export function checkInteger(value: unknown, range: { min: number; max: number }, field: string) {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw invalidParameter(field, "must be an integer");
  }
  if (value < range.min || value > range.max) {
    throw invalidParameter(field, `must be between ${range.min} and ${range.max}`);
  }
}

function checkDeadLetter(value: unknown, field: string): DeadLetterPolicy {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalidParameter(field, "must be an object or null");
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!["queue", "maxReceiveCount", "maxTimeToLiveSeconds"].includes(key)) {
      throw invalidParameter(`${field}.${key}`, "unknown field");
    }
  }
  if (typeof record.queue !== "string") throw invalidParameter(`${field}.queue`, "required");
  const policy: DeadLetterPolicy = { queue: record.queue };
  if (record.maxReceiveCount !== undefined) {
    checkInteger(
      record.maxReceiveCount,
      deadLetterLimits.maxReceiveCount,
      `${field}.maxReceiveCount`,
    );
    policy.maxReceiveCount = record.maxReceiveCount as number;
  }
  if (record.maxTimeToLiveSeconds !== undefined) {
    checkInteger(
      record.maxTimeToLiveSeconds,
      deadLetterLimits.maxTimeToLiveSeconds,
      `${field}.maxTimeToLiveSeconds`,
    );
    policy.maxTimeToLiveSeconds = record.maxTimeToLiveSeconds as number;
  }
  if (policy.maxReceiveCount === undefined && policy.maxTimeToLiveSeconds === undefined) {
    throw invalidParameter(field, "needs maxReceiveCount or maxTimeToLiveSeconds");
  }
  return policy;
}

/**
 * Checks the shape and ranges of an attributes object (create or update body) and returns a
 * clean copy (only known keys, `deadLetter` normalized). Cross-field rules are in
 * `checkCombined`.
 */
export function checkAttributesInput(input: unknown): QueueAttributesInput {
  if (input === undefined || input === null) return {};
  if (typeof input !== "object" || Array.isArray(input)) {
    throw invalidParameter("attributes", "must be an object");
  }
  const record = input as Record<string, unknown>;
  const clean: QueueAttributesInput = {};
  for (const [key, value] of Object.entries(record)) {
    if (!knownKeys.has(key)) throw invalidParameter(key, "unknown attribute");
    if (value === undefined) continue;
    if (key === "fifo") {
      if (typeof value !== "boolean") throw invalidParameter("fifo", "must be a boolean");
      clean.fifo = value;
    } else if (key === "deadLetter") {
      clean.deadLetter = value === null ? null : checkDeadLetter(value, "deadLetter");
    } else if (key === "tags") {
      clean.tags = value === null ? null : checkTags(value);
    } else {
      const numericKey = key as typeof numericKeys[number];
      checkInteger(value, queueLimits[numericKey] as Range, key);
      clean[numericKey] = value as number;
    }
  }
  return clean;
}

/** Rules between attributes: the rewind window and the dead-letter TTL within retention. */
export function checkCombined(attributes: QueueAttributes): void {
  if (attributes.rewindSeconds > attributes.retentionSeconds) {
    throw invalidParameter("rewindSeconds", "must not exceed retentionSeconds");
  }
  const ttl = attributes.deadLetter?.maxTimeToLiveSeconds;
  if (ttl !== undefined && ttl >= attributes.retentionSeconds) {
    throw invalidParameter(
      "deadLetter.maxTimeToLiveSeconds",
      "must be less than retentionSeconds",
    );
  }
}

/** The attributes of a new queue: defaults for what `input` leaves out. */
export function resolveCreate(input: QueueAttributesInput): QueueAttributes {
  const clean = checkAttributesInput(input);
  const attributes: QueueAttributes = {
    visibilityTimeoutSeconds: clean.visibilityTimeoutSeconds ??
      queueLimits.visibilityTimeoutSeconds.default,
    pollingWaitSeconds: clean.pollingWaitSeconds ?? queueLimits.pollingWaitSeconds.default,
    maxMessageBytes: clean.maxMessageBytes ?? queueLimits.maxMessageBytes.default,
    retentionSeconds: clean.retentionSeconds ?? queueLimits.retentionSeconds.default,
    rewindSeconds: clean.rewindSeconds ?? queueLimits.rewindSeconds.default,
    maxBacklog: clean.maxBacklog ?? queueLimits.maxBacklog.default,
    fifo: clean.fifo ?? false,
  };
  if (clean.deadLetter) attributes.deadLetter = clean.deadLetter;
  if (hasTags(clean.tags)) attributes.tags = clean.tags;
  checkCombined(attributes);
  return attributes;
}

function hasTags(tags: QueueTags | null | undefined): tags is QueueTags {
  return tags !== null && tags !== undefined && Object.keys(tags).length > 0;
}

/**
 * `current` with the changes of an update applied (fifo is immutable): first `input` (whose
 * `tags` replace the whole set), then `tagChanges` against the tags that leaves.
 */
export function resolveUpdate(
  current: QueueAttributes,
  input: QueueAttributesInput,
  tagChanges?: TagChanges,
): QueueAttributes {
  const clean = checkAttributesInput(input);
  if (clean.fifo !== undefined && clean.fifo !== current.fifo) {
    throw invalidParameter("fifo", "is immutable");
  }
  const merged: QueueAttributes = { ...current };
  for (const key of numericKeys) {
    if (clean[key] !== undefined) merged[key] = clean[key];
  }
  if (clean.deadLetter === null) delete merged.deadLetter;
  else if (clean.deadLetter !== undefined) merged.deadLetter = clean.deadLetter;
  if (clean.tags !== undefined) {
    if (hasTags(clean.tags)) merged.tags = clean.tags;
    else delete merged.tags;
  }
  if (tagChanges !== undefined) {
    const tags = applyTagChanges(merged.tags ?? undefined, tagChanges);
    if (tags === undefined) delete merged.tags;
    else merged.tags = tags;
  }
  checkCombined(merged);
  return inStoredOrder(merged);
}

/**
 * `attributes` with its keys in the order `resolveCreate` (and so a snapshot's restore) gives
 * them. An update that adds `deadLetter` to a queue with tags would otherwise put it after
 * `tags`: a replica that replayed the update and one that restored a snapshot taken after it
 * would hold the same attributes in another order, and answer queue views (and write
 * snapshots) that differ.
 */
function inStoredOrder(attributes: QueueAttributes): QueueAttributes {
  const ordered: QueueAttributes = {
    visibilityTimeoutSeconds: attributes.visibilityTimeoutSeconds,
    pollingWaitSeconds: attributes.pollingWaitSeconds,
    maxMessageBytes: attributes.maxMessageBytes,
    retentionSeconds: attributes.retentionSeconds,
    rewindSeconds: attributes.rewindSeconds,
    maxBacklog: attributes.maxBacklog,
    fifo: attributes.fifo,
  };
  if (attributes.deadLetter) ordered.deadLetter = attributes.deadLetter;
  if (attributes.tags) ordered.tags = attributes.tags;
  return ordered;
}

/**
 * True when a create asking for `requested` may answer with the queue that has `existing`
 * (create idempotency): the same attributes and, when the create names tags, the same tags.
 * A create without tags matches whatever tags the queue has (as SQS does: it compares the tags
 * of a create only when the create carries some).
 */
export function sameAttributes(existing: QueueAttributes, requested: QueueAttributes): boolean {
  if (canonical(existing) !== canonical(requested)) return false;
  return !hasTags(requested.tags) || sameTags(existing.tags ?? {}, requested.tags);
}

function canonical(attributes: QueueAttributes): string {
  const deadLetter = attributes.deadLetter
    ? [
      attributes.deadLetter.queue,
      attributes.deadLetter.maxReceiveCount ?? null,
      attributes.deadLetter.maxTimeToLiveSeconds ?? null,
    ]
    : null;
  return JSON.stringify([
    ...numericKeys.map((key) => attributes[key]),
    attributes.fifo,
    deadLetter,
  ]);
}

/**
 * A receive's lock in seconds (`visibilityTimeoutSeconds` 0 asks for the queue's); throws
 * `InvalidParameter` for a maxMessages or lock out of range.
 */
export function receiveLockSeconds(
  spec: { maxMessages: number; visibilityTimeoutSeconds: number },
  attributes: QueueAttributes,
): number {
  if (spec.maxMessages < 1 || spec.maxMessages > messageLimits.batchEntriesMax) {
    throw invalidParameter("maxMessages", `must be between 1 and ${messageLimits.batchEntriesMax}`);
  }
  const seconds = spec.visibilityTimeoutSeconds || attributes.visibilityTimeoutSeconds;
  if (seconds > messageLimits.visibilityTimeoutSeconds.max) {
    throw invalidParameter("visibilityTimeoutSeconds", "out of range");
  }
  return seconds;
}
