/**
 * Publishing and push outcomes: the two topic commands that move messages.
 *
 * A PublishBatch is one log entry and one apply: every message is routed through its topic's
 * router, each matching queue subscription gets its copy enqueued by the state machine's sink
 * (the copy points at this entry and the message's slot, as a sent message would), and each
 * matching URL subscription gets a pending push. A copy a destination refuses (its backlog is
 * full, the body is over its `maxMessageBytes`, the queue is gone; or too many pushes wait) is
 * reported in the result per message and subscription and counted as failed; nothing is
 * dropped silently. Checks of the publish itself (topic, sizes, tags, routing key) come first,
 * so a refused publish changes nothing.
 *
 * A PushResults entry records outcomes of push attempts: an outcome is applied only when its
 * subscription incarnation and attempt count still match, so a late or repeated outcome (an
 * old leader's, or one that raced a retry) is counted as stale and changes nothing. Its layout
 * says when a failing message gets its last try (`topic_commands.ts`, `push_state.ts`).
 *
 * @module
 */
import { BrokerError, invalidParameter } from "./errors.ts";
import { messageLimits, subscriptionLimits } from "./limits.ts";
import { decodePublishHeaders, decodePushResults, type PublishHeader } from "./topic_commands.ts";
import { validateMessageTags, validateRoutingKey } from "./topic_filter.ts";
import { filterProblem } from "./topic_attributes.ts";
import type { TopicState, TopicStore } from "./topics.ts";
import type { AppliedEntry } from "./types.ts";
import type { PublishedMessage, SubscriptionFailure } from "../../sdk/protocol.ts";

/**
 * Enqueues message `slot` of the entry being applied into `queue` (the state machine owns the
 * queues); answers the refusal, or null when the copy was enqueued.
 */
export type FanOutSink = (
  queue: string,
  message: { slot: number; bodyBytes: number },
) => BrokerError | null;

/** Apply result of PublishBatch. */
export interface PublishResult {
  messages: PublishedMessage[];
  /** Pending pushes this publish added (the push worker is woken when > 0). */
  pushesAdded: number;
}

/** Apply result of PushResults. */
export interface PushResultsResult {
  applied: number;
  /** Outcomes for a push that no longer waits for that attempt. */
  stale: number;
}

function checkPublish(topic: TopicState, messages: PublishHeader[]): void {
  if (messages.length === 0) throw invalidParameter("messages", "must not be empty");
  if (messages.length > messageLimits.batchEntriesMax) {
    throw new BrokerError(
      "BatchTooLarge",
      `messages: ${messages.length} entries, at most ${messageLimits.batchEntriesMax}`,
      { field: "messages" },
    );
  }
  const { filterType, maxMessageBytes } = topic.meta.attributes;
  messages.forEach((message, index) => {
    const field = `messages.${index}`;
    if (message.bodyBytes > maxMessageBytes) {
      throw new BrokerError(
        "MessageTooLarge",
        `${field}.body: ${message.bodyBytes} bytes exceed maxMessageBytes ${maxMessageBytes}`,
        { field: `${field}.body` },
      );
    }
    if (filterType === "tag") {
      if (message.routingKey !== undefined) {
        throw invalidParameter(`${field}.routingKey`, "the topic filters by tag; use tags");
      }
      const problem = validateMessageTags(message.tags ?? []);
      if (problem !== null) filterProblem(problem, `${field}.`);
    } else {
      if (message.tags !== undefined) {
        throw invalidParameter(`${field}.tags`, "the topic filters by routingKey; use routingKey");
      }
      const problem = validateRoutingKey(message.routingKey ?? "");
      if (problem !== null) filterProblem(problem, `${field}.`);
    }
  });
}

/** Applies a PublishBatch entry (see the module doc). */
export function applyPublish(
  store: TopicStore,
  entry: AppliedEntry,
  context: { now: number; sink: FanOutSink },
): PublishResult {
  const command = decodePublishHeaders(entry.payload);
  const topic = store.topic(command.topic);
  checkPublish(topic, command.messages);
  const result: PublishResult = { messages: [], pushesAdded: 0 };
  command.messages.forEach((message, slot) => {
    const sequence = topic.nextSequence++;
    const failures: SubscriptionFailure[] = [];
    let fannedOut = 0;
    for (const id of topic.router.match(message)) {
      const subscription = topic.byId.get(id)!;
      const push = subscription.push;
      let refusal: BrokerError | null;
      if (push === null) {
        refusal = context.sink(subscription.queue!, { slot, bodyBytes: message.bodyBytes });
        if (refusal === null) subscription.delivered++;
      } else if (push.full) {
        refusal = new BrokerError(
          "BacklogFull",
          `subscription '${subscription.meta.name}' has ${subscriptionLimits.pendingPushesMax} ` +
            "messages waiting to be pushed, the most it may hold",
        );
      } else {
        push.add({
          sequence,
          logIndex: entry.index,
          slot,
          publishTime: context.now,
          attempts: 0,
          nextAttemptAt: context.now,
        });
        result.pushesAdded++;
        refusal = null;
      }
      if (refusal === null) {
        fannedOut++;
        subscription.fannedOut++;
      } else {
        subscription.failed++;
        failures.push({
          subscription: subscription.meta.name,
          code: refusal.code,
          message: refusal.message,
        });
      }
    }
    result.messages.push({ id: topic.messageId(sequence), fannedOut, failures });
  });
  return result;
}

/** Applies a PushResults entry (see the module doc). */
export function applyPushResults(
  store: TopicStore,
  entry: AppliedEntry,
  now: number,
): PushResultsResult {
  const { outcomes, finalTry } = decodePushResults(entry.payload);
  if (outcomes.length > subscriptionLimits.pushResultsPerCommandMax) {
    throw invalidParameter(
      "outcomes",
      `at most ${subscriptionLimits.pushResultsPerCommandMax} per command`,
    );
  }
  const result: PushResultsResult = { applied: 0, stale: 0 };
  for (const outcome of outcomes) {
    const topic = store.topics.get(outcome.topic);
    const subscription = topic?.subscriptions.get(outcome.subscription);
    const push = subscription?.push;
    if (
      topic === undefined || subscription === undefined || push === undefined || push === null ||
      subscription.meta.incarnation !== outcome.subscriptionIncarnation
    ) {
      result.stale++;
      continue;
    }
    const effect = outcome.ok
      ? push.recordSuccess(outcome.sequence, outcome.attempt)
      : push.recordFailure(
        { sequence: outcome.sequence, attempt: outcome.attempt, now, error: outcome.error },
        {
          policy: subscription.retryPolicy,
          retentionMs: topic.meta.attributes.retentionSeconds * 1000,
          subscriptionIncarnation: subscription.meta.incarnation,
          finalTry,
        },
      );
    if (effect === "stale") {
      result.stale++;
      continue;
    }
    result.applied++;
    if (effect === "pushed") subscription.delivered++;
    else if (effect === "dropped" || effect === "expired") subscription.failed++;
  }
  return result;
}
